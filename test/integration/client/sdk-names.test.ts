/**
 * The SDK's names (docs/protocol.md §Names) against a real server on
 * 127.0.0.1:0: nameOf, nameGroup and createGroup with a name, with the
 * typed errors an application sees.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ForbiddenError,
  MalformedRequestError,
  NotFoundError,
  RateLimitError,
  TooLargeError,
} from '../../../src/errors.js';
import { type Identity, ZapwireClient } from '../../../src/index.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

let t: TestServer;
const clients: ZapwireClient[] = [];

beforeAll(async () => {
  t = await startTestServer({ groupRateLimit: 1 });
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
});
afterAll(async () => {
  await t.stop();
});

/** A new user, registered with `name`, with a session open. */
async function connected(name = ''): Promise<{ c: ZapwireClient; identity: Identity }> {
  const identity = await new ZapwireClient({ port: t.port }).register(name);
  const c = new ZapwireClient({ host: '127.0.0.1', port: t.port, identity, reconnect: false });
  clients.push(c);
  await c.connect({ mode: 'poll' });
  return { c, identity };
}

describe('ZapwireClient: names', () => {
  it("nameOf: a user's registered name, kind user", async () => {
    const alice = await connected('Alice ☕');
    const bob = await connected();
    expect(await bob.c.nameOf(alice.identity.number)).toEqual({ kind: 'user', name: 'Alice ☕' });
    expect(await alice.c.nameOf(bob.identity.number)).toEqual({ kind: 'user', name: '' });
  });

  it('createGroup with a name names it: a member sees the name, kind group', async () => {
    const alice = await connected();
    const bob = await connected();
    const group = await alice.c.createGroup([bob.identity.number], { name: 'Família 👪' });
    expect(await bob.c.nameOf(group)).toEqual({ kind: 'group', name: 'Família 👪' });
  });

  it('nameGroup: any member renames; the answer is the name stored, and the last wins', async () => {
    const alice = await connected();
    const bob = await connected();
    const group = await alice.c.createGroup([bob.identity.number]);
    expect(await alice.c.nameOf(group)).toEqual({ kind: 'group', name: '' });
    expect(await bob.c.nameGroup(group, 'Churrasco')).toBe('Churrasco');
    expect(await alice.c.nameOf(group)).toEqual({ kind: 'group', name: 'Churrasco' });
  });

  it('typed errors: ForbiddenError for a non-member, NotFoundError for a number that is no group; the session stays open', async () => {
    const alice = await connected();
    const bob = await connected();
    const carol = await connected();
    const group = await alice.c.createGroup([bob.identity.number]);
    await expect(carol.c.nameOf(group)).rejects.toBeInstanceOf(ForbiddenError);
    await expect(carol.c.nameGroup(group, 'mine')).rejects.toBeInstanceOf(ForbiddenError);
    await expect(carol.c.nameGroup(bob.identity.number, 'x')).rejects.toBeInstanceOf(NotFoundError);
    await expect(carol.c.nameOf('9999999999999')).rejects.toBeInstanceOf(NotFoundError);
    expect(carol.c.connected).toBe(true);
  });

  it('refuses an empty or too long name before sending anything: no group is created, the session stays open', async () => {
    const alice = await connected();
    const bob = await connected();
    await expect(alice.c.createGroup([bob.identity.number], { name: '' })).rejects.toBeInstanceOf(
      MalformedRequestError,
    );
    await expect(
      alice.c.createGroup([bob.identity.number], { name: 'é'.repeat(33) }),
    ).rejects.toBeInstanceOf(TooLargeError);
    // Nothing reached bob: no group was created for him.
    const bobPoll = await bob.c.poll();
    expect(bobPoll).toEqual([]);
    await expect(alice.c.nameOf('12345')).rejects.toBeInstanceOf(MalformedRequestError);
    expect(alice.c.connected).toBe(true);
  });

  it("a name refused after the group was created (over the rate) rejects with the group's number on the error", async () => {
    const alice = await connected();
    const bob = await connected();
    // groupRateLimit 1: a burst of 2, one taken by this 10, the other by the next 10, so its 14 is refused.
    await alice.c.createGroup([bob.identity.number]);
    const err = await alice.c
      .createGroup([bob.identity.number], { name: 'second' })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as Error).message).toMatch(/groupRateLimit/);
    const group = (err as { group?: string }).group;
    expect(group).toMatch(/^[0-9]{13}$/);
    expect(await bob.c.nameOf(group!)).toEqual({ kind: 'group', name: '' });
  });
});
