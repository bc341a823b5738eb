/**
 * docs/protocol.md §Codes 10/11 and §Delivery guarantees (groups): creation,
 * membership, the `grupo criado` notices, and fan-out.
 */
import { describe, expect, it } from 'vitest';
import { NOBODY } from '../../../src/protocol/index.js';
import {
  expectError,
  expectErrorAndClose,
  expectErrorAndOpen,
  expectStillServed,
  message,
  receive,
  sendStored,
  T0,
  unknownNumber,
  useServer,
} from '../../helpers/v1.js';
import type { Identity, WireClient } from '../../helpers/wire-client.js';

const env = useServer();

/** Sends `10` and returns the new group's number from the `11`. */
async function createGroup(
  c: WireClient,
  creator: Identity,
  members: readonly Identity[] | string,
  ts = T0,
): Promise<string> {
  const data = typeof members === 'string' ? members : members.map((m) => m.number).join('');
  c.send({ code: '10', src: creator.number, ts, data });
  const answer = await c.next();
  expect(answer).toMatchObject({ code: '11', src: NOBODY, ts: 0 });
  expect(answer.dst).toMatch(/^[0-9]{13}$/);
  return answer.dst;
}

const notice = (creator: Identity, group: string, ts: number) => ({
  code: '06',
  src: creator.number,
  dst: group,
  ts,
  flag: false,
  data: 'grupo criado',
});

describe('docs/protocol.md §Codes 10 -> 11: creating a group', () => {
  it('answers a 10 with one member with 11 whose dst is the new group number, which 19 then says is valid', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, [bob]);
    expect(group).not.toBe(alice.number);
    expect(group).not.toBe(bob.number);
    a.send({ code: '19', src: alice.number, dst: group });
    expect(await a.next()).toMatchObject({ code: '20', dst: group, data: '1' });
  });

  it('gives each group its own new number', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const g1 = await createGroup(a, alice, [bob]);
    const g2 = await createGroup(a, alice, [bob]);
    expect(g1).not.toBe(g2);
  });

  it('accepts 16 members, and each of them gets the grupo criado notice', async () => {
    const creator = await env.user();
    const members = await env.users(16);
    const a = await env.session(creator);
    const group = await createGroup(a, creator, members, T0 + 16);
    const sessions = await Promise.all(members.map((m) => env.session(m)));
    for (const s of sessions)
      expect((await receive(s, 1))[0]).toEqual(notice(creator, group, T0 + 16));
  });

  it.each([
    ['a length that is not a multiple of 13', (ids: string[]) => ids[0]!.slice(0, 12)],
    ['one digit too many', (ids: string[]) => ids[0]! + '1'],
    // 17 numbers (221 bytes) do not fit in a frame's 217 bytes of data: the
    // most a 10 can carry past 16 members is 16 numbers and 9 more digits.
    [
      '16 numbers and a 17th cut short, filling the frame',
      (ids: string[]) => ids.slice(0, 16).join('') + ids[16]!.slice(0, 9),
    ],
    ['no member at all (empty data)', () => ''],
    ['a non-digit', (ids: string[]) => ids[0]!.slice(0, 12) + 'a'],
    ['a space between numbers', (ids: string[]) => ids[0]! + ' ' + ids[1]!],
  ])('answers 10 data with %s with 09 400, echoing the frame, and closes', async (_what, data) => {
    const creator = await env.user();
    const others = await env.users(17); // all registered: the fault is the data's shape, not an unknown member
    const a = await env.session(creator);
    a.send({
      code: '10',
      src: creator.number,
      ts: T0 + 1,
      data: data(others.map((o) => o.number)),
    });
    await expectErrorAndClose(a, 400, { src: creator.number, ts: T0 + 1 });
  });

  it('answers a member that is not a registered user with 09 404, echoing the frame, and keeps the connection open', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    a.send({ code: '10', src: alice.number, ts: T0 + 2, data: bob.number + unknownNumber() });
    expectError(await a.next(), 404, { src: alice.number, ts: T0 + 2 });
    await expectStillServed(a, alice.number);
    // No group was made, so bob got no notice.
    const b = await env.session(bob);
    expect(await b.silentFor(150)).toBe(true);
  });

  it('answers a member that is a group, not a user, with 09 404', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, [bob]);
    a.send({ code: '10', src: alice.number, ts: T0, data: group });
    expectError(await a.next(), 404);
  });
});

describe('docs/protocol.md §Delivery guarantees: the creator is always a member; listing the creator again, or a number twice, changes nothing', () => {
  it('makes the creator a member without being listed, and sends the creator no notice', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, [bob]);
    const b = await env.session(bob);
    expect((await receive(b, 1, { ackAs: bob.number }))[0]).toEqual(notice(alice, group, T0));
    // bob (not the creator) may send, and alice (the creator) gets it.
    await sendStored(b, message(bob.number, group, 'hi group'));
    expect((await receive(a, 1))[0]).toMatchObject({
      src: bob.number,
      dst: group,
      data: 'hi group',
    });
  });

  it('ignores the creator listed again and a member listed twice: one notice, one copy per message', async () => {
    const [alice, bob, carol] = await env.users(3);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, [bob, alice, bob, carol, carol]);
    const b = await env.session(bob);
    const c = await env.session(carol);
    expect(await receive(b, 1, { ackAs: bob.number })).toEqual([notice(alice, group, T0)]);
    expect(await receive(c, 1, { ackAs: carol.number })).toEqual([notice(alice, group, T0)]);
    await sendStored(a, message(alice.number, group, 'once each'));
    expect((await receive(b, 1))[0]!.data).toBe('once each');
    expect((await receive(c, 1))[0]!.data).toBe('once each');
    await sendStored(b, message(bob.number, group, 'from bob'));
    expect((await receive(a, 1))[0]!.data).toBe('from bob');
    expect((await receive(c, 1))[0]!.data).toBe('from bob');
    for (const s of [a, b, c]) expect(await s.silentFor(100)).toBe(true);
  });
});

describe('docs/protocol.md §Delivery guarantees: grupo criado notices', () => {
  it('sends each member but the creator a 06 with src the creator, dst the group, the 10 ts, flag 0 and data grupo criado', async () => {
    const [alice, bob, carol] = await env.users(3);
    const a = await env.session(alice);
    const b = await env.session(bob);
    const group = await createGroup(a, alice, [bob, carol], T0 + 77);
    expect(await receive(b, 1)).toEqual([notice(alice, group, T0 + 77)]);
    // carol was offline: her notice waits and comes when she connects.
    const c = await env.session(carol);
    expect(await receive(c, 1)).toEqual([notice(alice, group, T0 + 77)]);
    expect(await a.silentFor(100)).toBe(true);
  });
});

describe('docs/protocol.md §Delivery guarantees: only members may send to a group', () => {
  it('answers a 05 to a group from a non-member with 09 403 echoing it, keeps the connection open, and delivers nothing', async () => {
    const [alice, bob, mallory] = await env.users(3);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, [bob]);
    const m = await env.session(mallory);
    m.send(message(mallory.number, group, 'let me in', { ts: T0 + 3 }));
    await expectErrorAndOpen(m, 403, mallory.number, {
      src: mallory.number,
      dst: group,
      ts: T0 + 3,
    });
    const b = await env.session(bob);
    expect(await receive(b, 1, { ackAs: bob.number })).toEqual([notice(alice, group, T0)]);
    expect(await b.silentFor(150)).toBe(true);
    expect(await a.silentFor(0)).toBe(true);
  });
});

describe('docs/protocol.md §Delivery guarantees: a message to a group is stored once per member other than the sender', () => {
  it('gives each member but the sender a 06 with src the sender and dst the group, and the sender one 07', async () => {
    const [alice, bob, carol, dave] = await env.users(4);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, [bob, carol, dave]);
    const members = await Promise.all([bob, carol, dave].map((m) => env.session(m)));
    for (const [i, s] of members.entries())
      await receive(s, 1, { ackAs: [bob, carol, dave][i]!.number });

    // Sent by a member who is not the creator: the creator gets it too.
    const b = members[0]!;
    b.send(message(bob.number, group, 'para todos', { ts: T0 + 50, flag: true }));
    const stored = await b.next();
    expect(stored).toMatchObject({ code: '07', src: bob.number, dst: group, ts: T0 + 50 });
    expect(stored.data).toMatch(/^[1-9][0-9]*$/);
    const expected = {
      code: '06',
      src: bob.number,
      dst: group,
      ts: T0 + 50,
      flag: true,
      data: 'para todos',
    };
    expect(await receive(a, 1)).toEqual([expected]);
    expect(await receive(members[1]!, 1)).toEqual([expected]);
    expect(await receive(members[2]!, 1)).toEqual([expected]);
    // The sender gets no copy of its own message, and only one 07 (nobody
    // acknowledged, so no receipt either).
    expect(await b.silentFor(150)).toBe(true);
  });

  it('keeps each member’s copies in order, for members online and offline', async () => {
    const [alice, bob, carol] = await env.users(3);
    const a = await env.session(alice);
    const group = await createGroup(a, alice, [bob, carol]);
    const b = await env.session(bob);
    for (let i = 0; i < 20; i++) a.send(message(alice.number, group, `g${i}`));
    for (let i = 0; i < 20; i++) expect((await a.next()).code).toBe('07');
    const texts = ['grupo criado', ...Array.from({ length: 20 }, (_, i) => `g${i}`)];
    expect((await receive(b, 21)).map((f) => f.data)).toEqual(texts);
    const c = await env.session(carol);
    expect((await receive(c, 21)).map((f) => f.data)).toEqual(texts);
  });
});
