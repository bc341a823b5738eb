/**
 * docs/protocol.md §Sessions: opening a session (04), the token, the session's
 * number as src, push sessions, cumulative 08, and session takeover.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, NOBODY } from '../../../src/protocol/index.js';
import {
  ack,
  expectError,
  expectErrorAndClose,
  expectStillServed,
  message,
  receive,
  sendStored,
  T0,
  take,
  unknownNumber,
  useServer,
} from '../../helpers/v1.js';

const env = useServer();

describe('docs/protocol.md §Codes 04: opening a session', () => {
  it.each([
    ['push', true],
    ['poll', false],
  ])(
    'answers a %s session 04 with the right token with 04 whose data is ok',
    async (_kind, push) => {
      const alice = await env.user();
      const c = await env.connect();
      c.send({ code: '04', src: alice.number, flag: push, data: alice.token });
      expect(await c.next()).toMatchObject({
        code: '04',
        src: NOBODY,
        dst: NOBODY,
        ts: 0,
        flag: false,
        data: 'ok',
      });
    },
  );

  it('answers a wrong token with 09 401, echoing the frame, and closes', async () => {
    const alice = await env.user();
    const c = await env.connect();
    c.send({ code: '04', src: alice.number, ts: T0, flag: true, data: alice.token + 'x' });
    await expectErrorAndClose(c, 401, { src: alice.number, ts: T0 });
  });

  it("answers another user's token, an empty token and an unknown number with 09 401 and closes", async () => {
    const [alice, bob] = await env.users(2);
    for (const [src, token] of [
      [alice.number, bob.token],
      [alice.number, ''],
      [unknownNumber(), alice.token],
    ] as const) {
      const c = await env.connect();
      c.send({ code: '04', src, flag: false, data: token });
      await expectErrorAndClose(c, 401, { src });
    }
  });

  it('handles frames pipelined behind a 04 only once the session is open', async () => {
    const [alice, bob] = await env.users(2);
    const c = await env.connect();
    c.sendRaw(
      Buffer.concat([
        encodeFrame({ code: '04', src: alice.number, flag: true, data: alice.token }),
        encodeFrame(message(alice.number, bob.number, 'right behind the 04', { ts: T0 + 1 })),
      ]),
    );
    expect(await c.next()).toMatchObject({ code: '04', data: 'ok' });
    expect(await c.next()).toMatchObject({
      code: '07',
      src: alice.number,
      dst: bob.number,
      ts: T0 + 1,
    });
  });

  it('does not act on frames pipelined behind a 04 with a wrong token (No one can act as a number without its token)', async () => {
    const [alice, bob] = await env.users(2);
    const c = await env.connect();
    c.sendRaw(
      Buffer.concat([
        encodeFrame({ code: '04', src: alice.number, flag: true, data: 'not-the-token' }),
        encodeFrame(message(alice.number, bob.number, 'forged')),
      ]),
    );
    await expectErrorAndClose(c, 401);
    const b = await env.session(bob);
    expect(await b.silentFor(200)).toBe(true);
  });
});

describe("docs/protocol.md §Sessions: after 04, every frame's src must be the session's number", () => {
  it.each([
    ['05 send', '05'],
    ['03 poll', '03'],
    ['08 ack', '08'],
    ['10 create group', '10'],
    ['19 validity', '19'],
  ] as const)(
    'answers %s with another src with 09 403 echoing the frame, and keeps the connection open',
    async (_name, code) => {
      const [alice, bob, carol] = await env.users(3);
      const a = await env.session(alice);
      const data = code === '08' ? '0' : code === '10' ? carol.number : 'x';
      a.send({ code, src: bob.number, dst: carol.number, ts: T0 + 3, data });
      expectError(await a.next(), 403, { src: bob.number, dst: carol.number, ts: T0 + 3 });
      await expectStillServed(a, alice.number);
      // And the refused 05 was not stored: bob's and carol's sessions get nothing.
      const c = await env.session(carol);
      expect(await c.silentFor(150)).toBe(true);
    },
  );

  it('still sends with the right src after a 403', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    a.send(message(bob.number, alice.number, 'spoofed'));
    expectError(await a.next(), 403);
    await sendStored(a, message(alice.number, bob.number, 'genuine'));
    const b = await env.session(bob);
    expect((await receive(b, 1))[0]!.data).toBe('genuine');
  });
});

describe('docs/protocol.md §Sessions: push session', () => {
  it('gets every pending message right after the 04 answer, oldest first, without asking', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    for (let i = 0; i < 5; i++)
      await sendStored(a, message(alice.number, bob.number, `m${i}`, { ts: T0 + i }));
    const b = await env.connect();
    b.send({ code: '04', src: bob.number, flag: true, data: bob.token });
    expect(await b.next()).toMatchObject({ code: '04', data: 'ok' });
    const got = await receive(b, 5);
    expect(got.map((f) => f.data)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(got.map((f) => f.ts)).toEqual([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4]);
  });

  it('gets each new message the moment it is stored', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    // Bob never polls: each message reaches him only because it is pushed.
    for (let i = 0; i < 3; i++) {
      a.send(message(alice.number, bob.number, `live ${i}`));
      const [got] = await receive(b, 1, { timeoutMs: 5_000 });
      expect(got!.data).toBe(`live ${i}`);
      expect((await a.next()).code).toBe('07');
    }
  });
});

describe('docs/protocol.md §Sessions / §Delivery guarantees: 08 is cumulative and deletes what it covers', () => {
  it('after 08 and a reconnect, acknowledged messages are not sent again and unacknowledged ones are, in order', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    for (let i = 0; i < 5; i++) await sendStored(a, message(alice.number, bob.number, `m${i}`));
    const b1 = await env.session(bob);
    expect((await receive(b1, 5)).map((f) => f.data)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    ack(b1, bob.number, 3);
    // The 08 has no answer; a 19 after it is answered after it was handled.
    await expectStillServed(b1, bob.number);
    b1.destroy();
    const b2 = await env.session(bob);
    expect((await receive(b2, 2)).map((f) => f.data)).toEqual(['m3', 'm4']);
    expect(await b2.silentFor(150)).toBe(true);
  });

  it('counts the 06 frames of the connection, so a later 08 with a larger count covers the earlier ones too', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b1 = await env.session(bob);
    for (let i = 0; i < 4; i++) a.send(message(alice.number, bob.number, `m${i}`));
    await take(a, 4);
    await receive(b1, 4);
    ack(b1, bob.number, 1);
    ack(b1, bob.number, 4);
    await expectStillServed(b1, bob.number);
    b1.destroy();
    const b2 = await env.session(bob);
    expect(await b2.silentFor(200)).toBe(true);
  });

  it('answers an 08 whose count exceeds the 06 frames sent on the connection with 09 400 and closes', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    await sendStored(a, message(alice.number, bob.number, 'one'));
    await sendStored(a, message(alice.number, bob.number, 'two'));
    const b = await env.session(bob);
    await receive(b, 2);
    b.send({ code: '08', src: bob.number, ts: T0, data: '3' });
    await expectErrorAndClose(b, 400, { src: bob.number, ts: T0 });
    // Nothing was acknowledged: both come again.
    const b2 = await env.session(bob);
    expect((await receive(b2, 2)).map((f) => f.data)).toEqual(['one', 'two']);
  });

  it('answers an 08 on a connection that was sent no 06 at all with 09 400 and closes', async () => {
    const alice = await env.user();
    const a = await env.session(alice, false);
    ack(a, alice.number, 1);
    await expectErrorAndClose(a, 400);
  });
});

describe('docs/protocol.md §Sessions: a newer push session replaces the older; poll sessions neither replace nor are replaced', () => {
  it('sends the older push session 09 409 and closes it; the newer one gets the pending messages', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const old = await env.session(bob);
    await sendStored(a, message(alice.number, bob.number, 'pending'));
    expect((await receive(old, 1))[0]!.data).toBe('pending'); // not acknowledged
    const newer = await env.session(bob);
    await expectErrorAndClose(old, 409);
    expect((await receive(newer, 1))[0]!.data).toBe('pending');
    // From now on new messages go to the newer session.
    await sendStored(a, message(alice.number, bob.number, 'after takeover'));
    expect((await receive(newer, 1))[0]!.data).toBe('after takeover');
  });

  it('keeps a push session when a poll session opens for the same number, and both are served', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const push = await env.session(bob, true);
    const poll = await env.session(bob, false);
    await sendStored(a, message(alice.number, bob.number, 'to bob'));
    expect((await receive(push, 1))[0]!.data).toBe('to bob');
    expect(push.closed).toBe(false);
    // The poll session sees the same still-pending message when it asks.
    poll.send({ code: '03', src: bob.number });
    expect((await receive(poll, 1))[0]!.data).toBe('to bob');
    expect(await poll.next()).toMatchObject({ code: '03', data: '1' });
  });

  it('keeps a poll session when a push session opens for the same number, and two poll sessions coexist', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const poll1 = await env.session(bob, false);
    const poll2 = await env.session(bob, false);
    await sendStored(a, message(alice.number, bob.number, 'hello'));
    const push = await env.session(bob, true);
    expect((await receive(push, 1))[0]!.data).toBe('hello');
    for (const p of [poll1, poll2]) {
      expect(await p.silentFor(50)).toBe(true); // no 409, nothing unasked
      p.send({ code: '03', src: bob.number });
      expect((await receive(p, 1))[0]!.data).toBe('hello');
      expect(await p.next()).toMatchObject({ code: '03', data: '1' });
      expect(p.closed).toBe(false);
    }
  });

  it('replaces only push sessions of the same number: another user’s push session is untouched', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    await env.session(bob);
    await env.session(bob);
    expect(await a.silentFor(150)).toBe(true);
    expect(a.closed).toBe(false);
  });
});
