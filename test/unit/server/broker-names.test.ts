/**
 * docs/protocol.md §Names at the broker: the `nameOf` (12, HTTP GET) and
 * `nameGroup` (14, HTTP PUT) ops on the memory store, with the checks in the
 * documented order and the rate `14` shares with `10`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NO_QUOTAS } from '../../../src/server/broker/limits.js';
import { ADDRESS, BrokerHarness, type Reply } from './broker-harness.js';

const NOBODY = '0000000000000';

/** A reply as `ok <value>` or `<status> <reason>`, to compare several at once. */
const said = (reply: Reply) =>
  reply.ok ? `ok ${JSON.stringify(reply.value)}` : `${reply.status} ${reply.reason}`;

describe('Broker: nameOf (12)', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it("answers a user's registered name to anyone, and a user without one with the empty name", async () => {
    h = new BrokerHarness();
    const { number } = await h.ask({ op: 'register', name: 'Alice ☕', remote: ADDRESS });
    const bob = await h.user();
    expect(await h.ask({ op: 'nameOf', asker: bob.number, number })).toEqual({
      kind: 'user',
      name: 'Alice ☕',
    });
    expect(await h.ask({ op: 'nameOf', asker: number, number: bob.number })).toEqual({
      kind: 'user',
      name: '',
    });
  });

  it("answers a group's name to its members, the empty name before it was named", async () => {
    h = new BrokerHarness();
    const [alice, bob] = [await h.user(), await h.user()];
    const group = await h.group(alice, bob);
    expect(await h.ask({ op: 'nameOf', asker: bob.number, number: group })).toEqual({
      kind: 'group',
      name: '',
    });
    await h.ask({ op: 'nameGroup', src: alice.number, group, name: 'Família' });
    expect(await h.ask({ op: 'nameOf', asker: bob.number, number: group })).toEqual({
      kind: 'group',
      name: 'Família',
    });
  });

  it("refuses a group's name to a non-member (403) and a number that is neither (404)", async () => {
    h = new BrokerHarness();
    const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
    const group = await h.group(alice, bob);
    const replies = await h.run(
      { op: 'nameOf', asker: carol.number, number: group },
      { op: 'nameOf', asker: carol.number, number: '9999999999999' },
      { op: 'nameOf', asker: carol.number, number: NOBODY },
    );
    expect(replies.map(said)).toEqual([
      '403 not a member of the group',
      '404 neither a user nor a group',
      '404 neither a user nor a group',
    ]);
  });

  it('checks the credentials of an HTTP request before anything else (401), and answers with the right token', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const wrong = { token: 'wrong', remote: ADDRESS };
    const right = { token: alice.token, remote: ADDRESS };
    const replies = await h.run(
      { op: 'nameOf', asker: alice.number, number: '9999999999999', credentials: wrong },
      { op: 'nameOf', asker: alice.number, number: alice.number, credentials: right },
    );
    expect(replies.map(said)).toEqual([
      '401 unknown number or wrong token',
      'ok {"kind":"user","name":""}',
    ]);
  });
});

describe('Broker: nameGroup (14)', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it('lets any member name the group; the last name wins, and the reply is the name stored', async () => {
    h = new BrokerHarness();
    const [alice, bob] = [await h.user(), await h.user()];
    const group = await h.group(alice, bob);
    expect(await h.ask({ op: 'nameGroup', src: alice.number, group, name: 'Família' })).toBe(
      'Família',
    );
    expect(await h.ask({ op: 'nameGroup', src: bob.number, group, name: 'Família 👪' })).toBe(
      'Família 👪',
    );
    expect(h.store.displayName(group)).toEqual({ kind: 'group', name: 'Família 👪' });
  });

  it('refuses in order: the name (400 empty, 413 over 64 bytes), the group (404), membership (403); nothing is stored', async () => {
    h = new BrokerHarness();
    const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
    const group = await h.group(alice, bob);
    const replies = await h.run(
      { op: 'nameGroup', src: carol.number, group: '9999999999999', name: '' },
      { op: 'nameGroup', src: carol.number, group: '9999999999999', name: 'é'.repeat(33) },
      { op: 'nameGroup', src: carol.number, group: '9999999999999', name: 'x' },
      { op: 'nameGroup', src: alice.number, group: bob.number, name: 'x' },
      { op: 'nameGroup', src: carol.number, group, name: 'x' },
      { op: 'nameGroup', src: alice.number, group, name: 'a\0b' },
    );
    expect(replies.map(said)).toEqual([
      '400 a group name must not be empty',
      '413 group name over 64 bytes',
      '404 not a group',
      '404 not a group',
      '403 not a member of the group',
      '400 a group name must be well-formed Unicode without 0x00',
    ]);
    expect(h.store.displayName(group)?.name).toBe('');
    expect(h.store.displayName(bob.number)).toEqual({ kind: 'user', name: '' });
  });

  it('accepts a name of exactly 64 bytes', async () => {
    h = new BrokerHarness();
    const [alice, bob] = [await h.user(), await h.user()];
    const group = await h.group(alice, bob);
    const name = 'é'.repeat(32);
    expect(await h.ask({ op: 'nameGroup', src: alice.number, group, name })).toBe(name);
  });

  it('checks the name before the credentials, and the credentials before the group', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const wrong = { token: 'wrong', remote: ADDRESS };
    const replies = await h.run(
      { op: 'nameGroup', src: alice.number, group: NOBODY, name: '', credentials: wrong },
      { op: 'nameGroup', src: alice.number, group: NOBODY, name: 'x', credentials: wrong },
    );
    expect(replies.map(said)).toEqual([
      '400 a group name must not be empty',
      '401 unknown number or wrong token',
    ]);
  });

  it("shares the namer's --group-rate-limit with 10: over it, 429 naming the option, and the name is kept", async () => {
    h = new BrokerHarness({ quotas: { ...NO_QUOTAS, groupRateLimit: 1 } });
    const [alice, bob] = [await h.user(), await h.user()];
    // The burst is twice the rate: one 10 and one 14 use it up.
    const group = await h.group(alice, bob);
    const replies = await h.run(
      { op: 'nameGroup', src: alice.number, group, name: 'one' },
      { op: 'nameGroup', src: alice.number, group, name: 'two' },
      { op: 'nameGroup', src: bob.number, group, name: 'three' },
    );
    expect(replies.map(said)).toEqual([
      'ok "one"',
      '429 naming groups too fast (groupRateLimit)',
      'ok "three"',
    ]);
    expect(h.store.displayName(group)?.name).toBe('three');
  });

  it('is a write of the group commit: a commit of a 14 alone shows that writes go through again (/healthz)', async () => {
    h = new BrokerHarness();
    const [alice, bob] = [await h.user(), await h.user()];
    const group = await h.group(alice, bob);
    h.broker.setFaults({ failCommits: true });
    expect(
      said((await h.run({ op: 'nameGroup', src: alice.number, group, name: 'lost' }))[0]!),
    ).toBe('503 store unavailable');
    expect(h.broker.commitError).toMatch(/failCommits/);
    expect(h.store.displayName(group)?.name).toBe('');
    h.broker.setFaults({});
    await h.run({ op: 'nameOf', asker: alice.number, number: group });
    expect(h.broker.commitError).toMatch(/failCommits/);
    await h.run({ op: 'nameGroup', src: alice.number, group, name: 'kept' });
    expect(h.broker.commitError).toBeUndefined();
    expect(h.store.displayName(group)?.name).toBe('kept');
  });
});
