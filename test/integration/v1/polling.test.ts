/**
 * docs/protocol.md §Sessions: poll sessions (04 with flag 0) and 03. The server
 * runs with a batch of 3 so that the cap is visible with few messages.
 */
import { describe, expect, it } from 'vitest';
import {
  ack,
  expectErrorAndClose,
  message,
  receive,
  sendStored,
  T0,
  useServer,
} from '../../helpers/v1.js';
import type { Identity, WireClient } from '../../helpers/wire-client.js';

const POLL_BATCH = 3;
const env = useServer({ pollBatch: POLL_BATCH });

/** Sends `03` and reads its whole answer: the `06` frames, then the `03` whose data is their count. */
async function poll(c: WireClient, number: string, expected: number) {
  c.send({ code: '03', src: number });
  const delivered = await receive(c, expected);
  const end = await c.next();
  expect(end).toMatchObject({ code: '03', data: String(expected) });
  return delivered;
}

async function sendMany(from: Identity, to: Identity, count: number, prefix = 'm') {
  const a = await env.session(from);
  for (let i = 0; i < count; i++)
    await sendStored(
      a,
      message(from.number, to.number, `${prefix}${i}`, { ts: T0 + i, flag: i % 2 === 0 }),
    );
  a.destroy();
}

describe('docs/protocol.md §Sessions: poll session', () => {
  it('sends nothing unasked, even when messages are pending or arrive', async () => {
    const [alice, bob] = await env.users(2);
    await sendMany(alice, bob, 1);
    const b = await env.session(bob, false);
    await sendMany(alice, bob, 1, 'later');
    expect(await b.silentFor(250)).toBe(true);
  });

  it('answers 03 with the pending messages as 06, oldest first, then a 03 whose data is their count', async () => {
    const [alice, bob] = await env.users(2);
    await sendMany(alice, bob, 2);
    const b = await env.session(bob, false);
    const got = await poll(b, bob.number, 2);
    expect(got[0]).toMatchObject({
      code: '06',
      src: alice.number,
      dst: bob.number,
      ts: T0,
      flag: true,
      data: 'm0',
    });
    expect(got[1]).toMatchObject({
      code: '06',
      src: alice.number,
      dst: bob.number,
      ts: T0 + 1,
      flag: false,
      data: 'm1',
    });
  });

  it('answers 03 with only a 03 whose data is 0 when nothing is pending', async () => {
    const bob = await env.user();
    const b = await env.session(bob, false);
    await poll(b, bob.number, 0);
  });

  it(`answers with at most a batch (pollBatch = ${POLL_BATCH}); after 08 the next 03 gets the following ones`, async () => {
    const [alice, bob] = await env.users(2);
    await sendMany(alice, bob, 7);
    const b = await env.session(bob, false);
    expect((await poll(b, bob.number, 3)).map((f) => f.data)).toEqual(['m0', 'm1', 'm2']);
    ack(b, bob.number, 3);
    expect((await poll(b, bob.number, 3)).map((f) => f.data)).toEqual(['m3', 'm4', 'm5']);
    ack(b, bob.number, 6);
    expect((await poll(b, bob.number, 1)).map((f) => f.data)).toEqual(['m6']);
    ack(b, bob.number, 7);
    await poll(b, bob.number, 0);
  });

  it('sends the same messages again when polled again before acknowledging', async () => {
    const [alice, bob] = await env.users(2);
    await sendMany(alice, bob, 5);
    const b = await env.session(bob, false);
    const first = await poll(b, bob.number, 3);
    const second = await poll(b, bob.number, 3);
    expect(second).toEqual(first);
    // The connection has now received 6 frames; acknowledging all of them
    // covers the three messages, and the next poll goes on from there.
    ack(b, bob.number, 6);
    expect((await poll(b, bob.number, 2)).map((f) => f.data)).toEqual(['m3', 'm4']);
  });

  it('acknowledges partially: an 08 covering the first 2 of 3 polled leaves the third pending', async () => {
    const [alice, bob] = await env.users(2);
    await sendMany(alice, bob, 3);
    const b = await env.session(bob, false);
    await poll(b, bob.number, 3);
    ack(b, bob.number, 2);
    expect((await poll(b, bob.number, 1)).map((f) => f.data)).toEqual(['m2']);
  });

  it('works as one short connection per request (connect, 04, one request, close), and unacknowledged messages come again', async () => {
    const [alice, bob] = await env.users(2);
    await sendMany(alice, bob, 2);
    // Polled but closed without 08: still pending (at least once).
    const p1 = await env.session(bob, false);
    expect((await poll(p1, bob.number, 2)).map((f) => f.data)).toEqual(['m0', 'm1']);
    p1.close();
    await p1.waitClosed();
    const p2 = await env.session(bob, false);
    expect((await poll(p2, bob.number, 2)).map((f) => f.data)).toEqual(['m0', 'm1']);
    ack(p2, bob.number, 2);
    p2.close();
    await p2.waitClosed();
    const p3 = await env.session(bob, false);
    await poll(p3, bob.number, 0);
  });

  it('answers an 08 beyond the 06 frames sent on the connection with 09 400 and closes, losing nothing', async () => {
    const [alice, bob] = await env.users(2);
    await sendMany(alice, bob, 2);
    const b = await env.session(bob, false);
    await poll(b, bob.number, 2);
    ack(b, bob.number, 3);
    await expectErrorAndClose(b, 400);
    const again = await env.session(bob, false);
    expect((await poll(again, bob.number, 2)).map((f) => f.data)).toEqual(['m0', 'm1']);
  });

  it('gets messages from every sender, in the order they were stored', async () => {
    const [alice, carol, bob] = await env.users(3);
    const a = await env.session(alice);
    const c = await env.session(carol);
    await sendStored(a, message(alice.number, bob.number, 'a1'));
    await sendStored(c, message(carol.number, bob.number, 'c1'));
    await sendStored(a, message(alice.number, bob.number, 'a2'));
    const b = await env.session(bob, false);
    const got = await poll(b, bob.number, 3);
    expect(got.map((f) => [f.src, f.data])).toEqual([
      [alice.number, 'a1'],
      [carol.number, 'c1'],
      [alice.number, 'a2'],
    ]);
  });
});
