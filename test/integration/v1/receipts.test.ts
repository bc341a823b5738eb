/**
 * docs/protocol.md §Receipts (the checkmarks): `recebida <ts>` made by the server
 * when an 08 covers a flag-1 message, `lida <ts>` sent by clients, and
 * receipts never asking for receipts.
 */
import { describe, expect, it } from 'vitest';
import { ack, message, receive, roundTrip, sendStored, T0, useServer } from '../../helpers/v1.js';
import type { Identity, WireClient } from '../../helpers/wire-client.js';

const env = useServer();

/** A group of `creator` and `members`; every member's session has read (and acknowledged) its notice. */
async function groupWithSessions(creator: Identity, members: Identity[]) {
  const a = await env.session(creator);
  a.send({ code: '10', src: creator.number, ts: T0, data: members.map((m) => m.number).join('') });
  const created = await a.next();
  expect(created.code).toBe('11');
  const sessions: WireClient[] = [];
  for (const m of members) {
    const s = await env.session(m);
    await receive(s, 1, { ackAs: m.number });
    sessions.push(s);
  }
  return { group: created.dst, a, sessions };
}

describe('docs/protocol.md §Receipts: delivered (two checks)', () => {
  it('sends the sender `recebida <ts>` as a 06 from the recipient, flag 0, once the recipient acknowledges a flag-1 message, not before', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(
      a,
      message(alice.number, bob.number, 'confirm please', { ts: T0 + 11, flag: true }),
    );
    await receive(b, 1);
    // Written is not acknowledged: no receipt yet.
    expect(await a.silentFor(150)).toBe(true);
    ack(b, bob.number, 1);
    const [receipt] = await receive(a, 1);
    expect(receipt).toMatchObject({
      code: '06',
      src: bob.number,
      dst: alice.number,
      flag: false,
      data: `recebida ${T0 + 11}`,
    });
    expect(String(receipt!.ts)).toMatch(/^[0-9]{10}$/);
  });

  it('zero-pads the ts in `recebida <ts>` to 10 digits', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(a, message(alice.number, bob.number, 'early', { ts: 42, flag: true }));
    await receive(b, 1, { ackAs: bob.number });
    expect((await receive(a, 1))[0]!.data).toBe('recebida 0000000042');
  });

  it('sends no receipt for a flag-0 message', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(a, message(alice.number, bob.number, 'no receipt', { flag: false }));
    await receive(b, 1, { ackAs: bob.number });
    await roundTrip(b, bob.number);
    expect(await a.silentFor(200)).toBe(true);
  });

  it('stores the receipt for an offline sender and delivers it when the sender connects', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    await sendStored(
      a,
      message(alice.number, bob.number, 'while I am away', { ts: T0 + 5, flag: true }),
    );
    a.destroy();
    const b = await env.session(bob, false);
    b.send({ code: '03', src: bob.number });
    await receive(b, 1);
    expect(await b.next()).toMatchObject({ code: '03', data: '1' });
    ack(b, bob.number, 1);
    await roundTrip(b, bob.number);
    const a2 = await env.session(alice);
    expect((await receive(a2, 1))[0]).toMatchObject({
      src: bob.number,
      dst: alice.number,
      flag: false,
      data: `recebida ${T0 + 5}`,
    });
  });

  it('sends one receipt per covered message when one 08 covers several', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    for (let i = 0; i < 3; i++)
      await sendStored(
        a,
        message(alice.number, bob.number, `m${i}`, { ts: T0 + i, flag: i !== 1 }),
      );
    await receive(b, 3);
    ack(b, bob.number, 3);
    const receipts = await receive(a, 2);
    expect(receipts.map((r) => r.data)).toEqual([`recebida ${T0}`, `recebida ${T0 + 2}`]);
    expect(await a.silentFor(100)).toBe(true);
  });

  it('for a group message, sends the sender one receipt per member who acknowledges, with src that member and dst the group', async () => {
    const [alice, bob, carol] = await env.users(3);
    const { group, a, sessions } = await groupWithSessions(alice, [bob, carol]);
    await sendStored(a, message(alice.number, group, 'group confirm', { ts: T0 + 20, flag: true }));
    const [b, c] = sessions as [WireClient, WireClient];
    await receive(b, 1, { ackAs: bob.number, base: 1 });
    const [fromBob] = await receive(a, 1);
    expect(fromBob).toMatchObject({
      code: '06',
      src: bob.number,
      dst: group,
      flag: false,
      data: `recebida ${T0 + 20}`,
    });
    await receive(c, 1, { ackAs: carol.number, base: 1 });
    const [fromCarol] = await receive(a, 1);
    expect(fromCarol).toMatchObject({
      code: '06',
      src: carol.number,
      dst: group,
      flag: false,
      data: `recebida ${T0 + 20}`,
    });
    // The receipts go to the original sender only.
    expect(await b.silentFor(100)).toBe(true);
    expect(await c.silentFor(0)).toBe(true);
  });
});

describe('docs/protocol.md §Receipts: read (blue checks)', () => {
  it('stores (07) and forwards `lida <ts>` sent with flag 0 like any other message', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(
      b,
      message(bob.number, alice.number, `lida ${T0 + 30}`, { ts: T0 + 31, flag: false }),
    );
    expect(await receive(a, 1)).toEqual([
      {
        code: '06',
        src: bob.number,
        dst: alice.number,
        ts: T0 + 31,
        flag: false,
        data: `lida ${T0 + 30}`,
      },
    ]);
  });

  it('forwards `lida <ts>` sent to a group to the original sender of that message only', async () => {
    const [alice, bob, carol] = await env.users(3);
    const { group, a, sessions } = await groupWithSessions(alice, [bob, carol]);
    const [b, c] = sessions as [WireClient, WireClient];
    await sendStored(a, message(alice.number, group, 'read me', { ts: T0 + 40 }));
    await receive(b, 1, { ackAs: bob.number, base: 1 });
    await receive(c, 1, { ackAs: carol.number, base: 1 });
    await sendStored(b, message(bob.number, group, `lida ${T0 + 40}`, { ts: T0 + 41 }));
    expect(await receive(a, 1)).toEqual([
      {
        code: '06',
        src: bob.number,
        dst: group,
        ts: T0 + 41,
        flag: false,
        data: `lida ${T0 + 40}`,
      },
    ]);
    expect(await c.silentFor(150)).toBe(true);
  });

  it('finds the original sender of a group message even when it is not the group creator', async () => {
    const [alice, bob, carol] = await env.users(3);
    const { group, a, sessions } = await groupWithSessions(alice, [bob, carol]);
    const [b, c] = sessions as [WireClient, WireClient];
    await sendStored(b, message(bob.number, group, 'from bob', { ts: T0 + 50 }));
    await receive(a, 1, { ackAs: alice.number });
    await receive(c, 1, { ackAs: carol.number, base: 1 });
    await sendStored(c, message(carol.number, group, `lida ${T0 + 50}`, { ts: T0 + 51 }));
    expect((await receive(b, 1))[0]).toMatchObject({
      src: carol.number,
      dst: group,
      data: `lida ${T0 + 50}`,
    });
    expect(await a.silentFor(150)).toBe(true);
  });
});

describe('docs/protocol.md §Receipts: receipts never ask for receipts', () => {
  it('makes no receipt when the sender acknowledges a `recebida` receipt', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(a, message(alice.number, bob.number, 'x', { flag: true }));
    await receive(b, 1, { ackAs: bob.number });
    const [receipt] = await receive(a, 1, { ackAs: alice.number });
    expect(receipt!.flag).toBe(false);
    await roundTrip(a, alice.number);
    expect(await b.silentFor(200)).toBe(true);
  });

  it('makes no receipt when a `lida` receipt (flag 0) is acknowledged', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(b, message(bob.number, alice.number, `lida ${T0}`, { flag: false }));
    await receive(a, 1, { ackAs: alice.number });
    await roundTrip(a, alice.number);
    expect(await b.silentFor(200)).toBe(true);
  });

  it('makes no receipt when a member acknowledges a grupo criado notice', async () => {
    const [alice, bob] = await env.users(2);
    const { a } = await groupWithSessions(alice, [bob]);
    expect(await a.silentFor(200)).toBe(true);
  });
});
