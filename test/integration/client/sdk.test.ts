import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  RateLimitError,
  ReplacedError,
  UnauthorizedError,
  type ZapwireError,
} from '../../../src/errors.js';
import {
  type Delivery,
  type DisconnectInfo,
  type GroupCreated,
  type Identity,
  ListenerError,
  type Message,
  type Receipt,
  type SendError,
  ZapwireClient,
  type ZapwireClientOptions,
} from '../../../src/index.js';
import { DATA_SIZE } from '../../../src/protocol/frame.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { TcpProxy } from '../../helpers/tcp-proxy.js';

/**
 * The SDK against a real server on 127.0.0.1:0: what an application sees
 * (events, typed errors) for what docs/protocol.md promises on the wire.
 */

let t: TestServer;
const clients: ZapwireClient[] = [];
const proxies: TcpProxy[] = [];

beforeAll(async () => {
  t = await startTestServer();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});
afterAll(async () => {
  await t.stop();
});

function client(options: ZapwireClientOptions = {}): ZapwireClient {
  const c = new ZapwireClient({
    host: '127.0.0.1',
    port: t.port,
    reconnect: { initialDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  clients.push(c);
  return c;
}

async function user(name = ''): Promise<Identity> {
  return new ZapwireClient({ port: t.port }).register(name);
}

/** A connected client for a new user, recording everything it is told. */
async function connected(options: ZapwireClientOptions & { mode?: 'push' | 'poll' } = {}) {
  const { mode = 'push', ...rest } = options;
  const identity = rest.identity ?? (await user());
  const c = client({ ...rest, identity });
  const seen = record(c);
  await c.connect({ mode });
  return { c, identity, number: identity.number, ...seen };
}

function record(c: ZapwireClient) {
  const messages: Message[] = [];
  const receipts: Receipt[] = [];
  const groups: GroupCreated[] = [];
  const errors: Error[] = [];
  c.on('message', (m) => messages.push(m));
  c.on('receipt', (r) => receipts.push(r));
  c.on('groupCreated', (g) => groups.push(g));
  c.on('error', (e) => errors.push(e));
  return { messages, receipts, groups, errors };
}

async function until(check: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejection(promise: Promise<unknown>): Promise<ZapwireError> {
  try {
    await promise;
  } catch (err) {
    return err as ZapwireError;
  }
  throw new Error('expected a rejection');
}

describe('register and connect', () => {
  it('registers on a connection of its own and adopts the identity', async () => {
    const c = client();
    const identity = await c.register('alice');
    expect(identity.number).toMatch(/^[0-9]{13}$/);
    expect(identity.token.length).toBeGreaterThan(10);
    expect(c.identity).toEqual(identity);
    await c.connect();
    expect(c.connected).toBe(true);
    expect(c.state).toBe('open');
  });

  it('rejects connect with UnauthorizedError (401) on a wrong token', async () => {
    const { number } = await user();
    const c = client({ identity: { number, token: 'wrong' } });
    const err = await rejection(c.connect());
    expect(err).toBeInstanceOf(UnauthorizedError);
    expect(err.status).toBe(401);
    expect(err.code).toBe('ZAPWIRE_UNAUTHORIZED');
    expect(c.connected).toBe(false);
  });

  it('rejects connect with ConnectionError when nothing listens', async () => {
    const probe = await TcpProxy.start(t.port);
    const port = probe.port;
    await probe.close();
    const c = new ZapwireClient({ port, identity: await user() });
    const err = await rejection(c.connect());
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err.code).toBe('ZAPWIRE_CONNECTION');
    expect(err.message).toMatch(/ECONNREFUSED/);
  });

  it('answers isValid with or without a session', async () => {
    const alice = await connected();
    const anonymous = client();
    expect(await anonymous.isValid(alice.number)).toBe(true);
    expect(await anonymous.isValid('9999999999999')).toBe(false);
    expect(await anonymous.isValid('not a number')).toBe(false);
    expect(await alice.c.isValid(alice.number)).toBe(true);
    expect(await alice.c.isValid('9999999999998')).toBe(false);
  });
});

describe('messages and receipts', () => {
  it('sends, receives, and reports recebida then lida', async () => {
    const alice = await connected();
    const bob = await connected();
    const sent = await alice.c.send(bob.number, 'olá, bob', { ts: 1_700_000_001 });
    expect(sent).toEqual({ id: expect.any(Number), ids: [sent.id], ts: 1_700_000_001 });

    await until(() => bob.messages.length === 1, 'bob to get the message');
    const message = bob.messages[0]!;
    expect(message).toEqual({
      type: 'message',
      sender: alice.number,
      chat: { kind: 'user', number: alice.number },
      ts: 1_700_000_001,
      text: 'olá, bob',
      wantsReceipt: true,
    });

    // Bob's client acknowledged it by itself: the server made the delivered receipt.
    await until(() => alice.receipts.length === 1, 'the recebida receipt');
    expect(alice.receipts[0]).toMatchObject({
      type: 'receipt',
      kind: 'recebida',
      from: bob.number,
      chat: { kind: 'user', number: bob.number },
      ts: 1_700_000_001,
    });
    expect(alice.receipts[0]!.at).toBeGreaterThan(1_700_000_001);

    const readId = await bob.c.markRead(message);
    expect(readId).toEqual(expect.any(Number));
    await until(() => alice.receipts.length === 2, 'the lida receipt');
    expect(alice.receipts[1]).toMatchObject({
      kind: 'lida',
      from: bob.number,
      chat: { kind: 'user', number: bob.number },
      ts: 1_700_000_001,
    });
    // Receipts never ask for receipts, and are not shown as messages.
    await sleep(100);
    expect(alice.messages).toEqual([]);
    expect(bob.receipts).toEqual([]);
  });

  it('sends no receipt for a message sent without receipts, and markRead does nothing for it', async () => {
    const alice = await connected();
    const bob = await connected();
    await alice.c.send(bob.number, 'no checks please', { receipts: false });
    await until(() => bob.messages.length === 1, 'the message');
    expect(bob.messages[0]!.wantsReceipt).toBe(false);
    expect(await bob.c.markRead(bob.messages[0]!)).toBeUndefined();
    await sleep(150);
    expect(alice.receipts).toEqual([]);
  });

  it('delivers what was pending at connect, even to listeners attached right after connect() resolves', async () => {
    const alice = await connected();
    const carol = await user();
    await alice.c.send(carol.number, 'one');
    await alice.c.send(carol.number, 'two');
    const c = client({ identity: carol });
    await c.connect();
    const texts: string[] = [];
    c.on('message', (m) => texts.push(m.text));
    await until(() => texts.length === 2, 'the pending messages');
    expect(texts).toEqual(['one', 'two']);
  });

  it('splits a 600-byte text with multi-byte characters into messages that arrive in order and rejoin', async () => {
    const alice = await connected();
    const bob = await connected();
    // 2-, 3- and 4-byte characters, so that cuts fall next to and inside characters.
    let text = '';
    for (let i = 0; Buffer.byteLength(text) < 600; i++) text += ['ç', 'ã', '€', '🙂', 'a'][i % 5];
    while (Buffer.byteLength(text) > 600) text = [...text].slice(0, -1).join('');
    expect(Buffer.byteLength(text)).toBeGreaterThanOrEqual(597);

    const sent = await alice.c.send(bob.number, text);
    expect(sent.ids.length).toBe(3);
    expect(sent.id).toBe(sent.ids[0]);
    expect([...sent.ids].sort((a, b) => a - b)).toEqual(sent.ids);

    await until(() => bob.messages.length === 3, 'the three parts');
    for (const part of bob.messages) {
      expect(Buffer.byteLength(part.text)).toBeLessThanOrEqual(DATA_SIZE);
      expect(part.text).not.toContain('\uFFFD');
      expect(part.ts).toBe(sent.ts);
    }
    expect(bob.messages.map((m) => m.text).join('')).toBe(text);
  });

  it('rejects with typed errors: 404 unknown destination, 403 not a member, and keeps the session', async () => {
    const alice = await connected();
    const bob = await connected();
    const carol = await connected();

    const notFound = (await rejection(alice.c.send('9999999999999', 'hello?'))) as SendError;
    expect(notFound).toBeInstanceOf(NotFoundError);
    expect(notFound).toMatchObject({
      status: 404,
      code: 'ZAPWIRE_NOT_FOUND',
      message: 'unknown destination',
      storedIds: [],
    });

    const group = await bob.c.createGroup([carol.number]);
    const forbidden = await rejection(alice.c.send(group, 'let me in'));
    expect(forbidden).toBeInstanceOf(ForbiddenError);
    expect(forbidden).toMatchObject({ status: 403, code: 'ZAPWIRE_FORBIDDEN' });

    const badMember = await rejection(alice.c.createGroup(['9999999999999']));
    expect(badMember).toBeInstanceOf(NotFoundError);

    // Answers still match their requests after the errors, even when pipelined.
    const [a, b, c] = await Promise.allSettled([
      alice.c.send(bob.number, 'first'),
      alice.c.send('9999999999997', 'nobody'),
      alice.c.send(bob.number, 'second'),
    ]);
    expect(a.status).toBe('fulfilled');
    expect(b.status === 'rejected' && b.reason instanceof NotFoundError).toBe(true);
    expect(c.status).toBe('fulfilled');
    await until(() => bob.messages.length === 2, 'the two messages');
    expect(bob.messages.map((m) => m.text)).toEqual(['first', 'second']);
    expect(alice.c.connected).toBe(true);
  });

  it('reports which parts of a long text were stored when a later part fails (429)', async () => {
    // One 05 per second, bursts of two: the third part of a long text is refused.
    const limited = await startTestServer({ rateLimit: 1 });
    try {
      const alice = await connected({
        port: limited.port,
        identity: await new ZapwireClient({ port: limited.port }).register(),
      });
      const bob = await connected({
        port: limited.port,
        identity: await new ZapwireClient({ port: limited.port }).register(),
      });
      const err = (await rejection(alice.c.send(bob.number, 'x'.repeat(600)))) as SendError;
      expect(err).toBeInstanceOf(RateLimitError);
      expect(err.status).toBe(429);
      expect(err.storedIds).toHaveLength(2);
      await until(() => bob.messages.length === 2, 'the two stored parts');
      expect(bob.messages.map((m) => m.text.length)).toEqual([217, 217]);
    } finally {
      await Promise.all(clients.splice(0).map((c) => c.close()));
      await limited.stop();
    }
  });

  it('rejects a destination that is not 13 digits without sending anything', async () => {
    const alice = await connected();
    const err = await rejection(alice.c.send('12345', 'x'));
    expect(err).toMatchObject({ status: 400, code: 'ZAPWIRE_MALFORMED_REQUEST' });
    expect(alice.c.connected).toBe(true);
  });

  it('rejects send before connect with ConnectionError', async () => {
    const c = client({ identity: await user() });
    const err = await rejection(c.send('1234567890123', 'x'));
    expect(err).toBeInstanceOf(ConnectionError);
  });
});

describe('groups', () => {
  it('creates a group, tells the members, and routes messages and receipts', async () => {
    const alice = await connected();
    const bob = await connected();
    const carol = await connected();
    const group = await alice.c.createGroup([bob.number, carol.number]);
    expect(group).toMatch(/^[0-9]{13}$/);
    expect(await alice.c.isValid(group)).toBe(true);

    await until(() => bob.groups.length === 1 && carol.groups.length === 1, 'the group notices');
    expect(bob.groups[0]).toEqual({
      type: 'groupCreated',
      group,
      creator: alice.number,
      ts: expect.any(Number),
    });
    expect(carol.groups[0]).toMatchObject({ group, creator: alice.number });
    expect(bob.messages).toEqual([]);

    const sent = await alice.c.send(group, 'hello group');
    await until(
      () => bob.messages.length === 1 && carol.messages.length === 1,
      'the group message',
    );
    for (const member of [bob, carol]) {
      expect(member.messages[0]).toMatchObject({
        sender: alice.number,
        chat: { kind: 'group', number: group },
        text: 'hello group',
        ts: sent.ts,
      });
    }
    await until(() => alice.receipts.length === 2, 'a recebida from each member');
    expect(alice.receipts.map((r) => r.from).sort()).toEqual([bob.number, carol.number].sort());
    for (const r of alice.receipts)
      expect(r).toMatchObject({
        kind: 'recebida',
        chat: { kind: 'group', number: group },
        ts: sent.ts,
      });

    await carol.c.markRead(carol.messages[0]!);
    await until(() => alice.receipts.length === 3, 'the lida');
    expect(alice.receipts[2]).toMatchObject({
      kind: 'lida',
      from: carol.number,
      chat: { kind: 'group', number: group },
      ts: sent.ts,
    });
    // The read receipt goes to the original sender only.
    await sleep(100);
    expect(bob.messages).toHaveLength(1);
    expect(bob.receipts).toEqual([]);

    // Members can answer in the group; the sender does not get its own message back.
    await bob.c.send(group, 'hi all');
    await until(() => alice.messages.length === 1 && carol.messages.length === 2, 'the answer');
    expect(alice.messages[0]).toMatchObject({
      sender: bob.number,
      chat: { kind: 'group', number: group },
    });
    expect(bob.messages).toHaveLength(1);
  });
});

describe('poll sessions', () => {
  it('polls, emits, acknowledges: a second poll is empty', async () => {
    const alice = await connected();
    const dave = await connected({ mode: 'poll' });
    await alice.c.send(dave.number, 'm1');
    await alice.c.send(dave.number, 'm2');
    await sleep(50);
    expect(dave.messages).toEqual([]); // nothing unasked in a poll session

    const got = await dave.c.poll();
    expect(got.map((d) => d.type === 'message' && d.text)).toEqual(['m1', 'm2']);
    expect(dave.messages.map((m) => m.text)).toEqual(['m1', 'm2']);
    expect(await dave.c.poll()).toEqual([]);

    // The acknowledgement produced the delivered receipts.
    await until(() => alice.receipts.length === 2, 'receipts for polled messages');
  });

  it('runs concurrent polls one after the other without duplicates', async () => {
    const alice = await connected();
    const dave = await connected({ mode: 'poll' });
    await alice.c.send(dave.number, 'only once');
    const [first, second] = await Promise.all([dave.c.poll(), dave.c.poll()]);
    expect(first.map((d) => (d as Message).text)).toEqual(['only once']);
    expect(second).toEqual([]);
    expect(dave.messages).toHaveLength(1);
  });

  it('refuses poll() on a push session', async () => {
    const alice = await connected();
    await expect(alice.c.poll()).rejects.toThrow(/poll session/);
  });
});

describe('connection loss and reconnect', () => {
  it('does not emit a message twice when it is redelivered after a lost ack', async () => {
    const proxy = await TcpProxy.start(t.port);
    proxies.push(proxy);
    const alice = await connected();
    // Acks wait a minute: the cut comes after the message was handled, before its 08.
    const bob = await connected({ port: proxy.port, ackDelayMs: 60_000 });
    const disconnects: unknown[] = [];
    const reconnects: unknown[] = [];
    bob.c.on('disconnect', (d) => disconnects.push(d));
    bob.c.on('reconnect', (r) => reconnects.push(r));

    await alice.c.send(bob.number, 'handled once');
    await until(() => bob.messages.length === 1, 'the message');
    proxy.cutAll();
    await until(() => reconnects.length === 1, 'the reconnect');
    expect(disconnects).toHaveLength(1);
    expect((disconnects[0] as { error: unknown }).error).toBeInstanceOf(ConnectionError);
    expect(bob.c.connected).toBe(true);

    // Per-recipient order: the redelivery comes before anything sent after it.
    await alice.c.send(bob.number, 'after the reconnect');
    await until(() => bob.messages.length === 2, 'the next message');
    await sleep(100);
    expect(bob.messages.map((m) => m.text)).toEqual(['handled once', 'after the reconnect']);

    // The redelivered copy was acknowledged too: nothing is left pending, and alice got one receipt per message.
    await bob.c.close();
    const check = await connected({ identity: bob.identity, mode: 'poll' });
    expect(await check.c.poll()).toEqual([]);
    await until(() => alice.receipts.length === 2, 'the receipts');
    await sleep(100);
    expect(alice.receipts).toHaveLength(2);
  });

  it('rejects a send whose 07 was lost with ConnectionError, and goes on after reconnecting', async () => {
    const proxy = await TcpProxy.start(t.port);
    proxies.push(proxy);
    const bob = await connected();
    const alice = await connected({ port: proxy.port });
    const reconnected = new Promise((resolve) => alice.c.once('reconnect', resolve));

    proxy.holdingReplies = true;
    const pending = alice.c.send(bob.number, 'was it stored?');
    const other = alice.c.send(bob.number, 'and this one?');
    await until(() => bob.messages.length === 2, 'the server to store and push them'); // it did: only the 07s are missing
    proxy.cutAll();
    const err = (await rejection(pending)) as SendError;
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).toMatchObject({ code: 'ZAPWIRE_CONNECTION', status: 503, storedIds: [] });
    expect(err.message).toMatch(/lost/);
    const otherErr = (await rejection(other)) as SendError;
    expect(otherErr).toBeInstanceOf(ConnectionError);
    expect(otherErr).not.toBe(err); // each send's error is its own

    // While reconnecting, sends fail at once rather than wait.
    if (!alice.c.connected)
      await expect(alice.c.send(bob.number, 'x')).rejects.toBeInstanceOf(ConnectionError);
    await reconnected;
    await alice.c.send(bob.number, 'back again');
    await until(() => bob.messages.length === 3, 'the message after the reconnect');
  });

  it('with a persistent seen store, a new client does not show again what an earlier one handled', async () => {
    const proxy = await TcpProxy.start(t.port);
    proxies.push(proxy);
    const alice = await connected();
    const store = new Set<string>();
    const seen = { has: (k: string) => store.has(k), add: (k: string) => void store.add(k) };
    const first = await connected({ port: proxy.port, ackDelayMs: 60_000, reconnect: false, seen });
    const closed = new Promise<{ error: ZapwireError | undefined }>((resolve) =>
      first.c.once('close', resolve),
    );
    await alice.c.send(first.number, 'seen by the first process');
    await until(() => first.messages.length === 1, 'the message');
    expect(store.size).toBe(1);
    proxy.cutAll(); // the "process" dies before acknowledging
    expect((await closed).error).toBeInstanceOf(ConnectionError);
    expect(first.c.state).toBe('closed');

    const second = await connected({ identity: first.identity, seen });
    await alice.c.send(first.number, 'new one');
    await until(() => second.messages.length === 1, 'the new message');
    await sleep(100);
    expect(second.messages.map((m) => m.text)).toEqual(['new one']);
  });

  it('emits an identical message twice when it really was sent twice on one connection', async () => {
    const alice = await connected();
    const bob = await connected();
    await alice.c.send(bob.number, 'ok', { ts: 1_700_000_100 });
    await alice.c.send(bob.number, 'ok', { ts: 1_700_000_100 });
    await until(() => bob.messages.length === 2, 'both');
  });

  it('stops after a takeover (409): error and close, no reconnect', async () => {
    const bob = await connected();
    const closed = new Promise<{ error: ZapwireError | undefined }>((resolve) =>
      bob.c.once('close', resolve),
    );
    const other = client({ identity: bob.identity });
    await other.connect();
    const { error } = await closed;
    expect(error).toBeInstanceOf(ReplacedError);
    expect(bob.errors).toHaveLength(1);
    expect(bob.errors[0]).toBeInstanceOf(ReplacedError);
    expect((bob.errors[0] as ZapwireError).status).toBe(409);
    expect(bob.c.state).toBe('closed');
    await sleep(150);
    expect(bob.c.state).toBe('closed');
    expect(other.connected).toBe(true);
  });

  it('poll sessions neither replace nor are replaced', async () => {
    const bob = await connected();
    const poller = await connected({ identity: bob.identity, mode: 'poll' });
    await sleep(100);
    expect(bob.c.connected).toBe(true);
    expect(poller.c.connected).toBe(true);
    expect(bob.errors).toEqual([]);
  });
});

describe('a listener that throws', () => {
  /** Message listeners that take every text except `boom`, which they throw on the first `failures` times it comes. */
  function takeAllBut(c: ZapwireClient, failures = 1) {
    const taken: string[] = [];
    const thrown: Error[] = [];
    c.on('message', (m) => {
      if (m.text === 'boom' && thrown.length < failures) {
        const error = new Error(`cannot handle ${m.text}`);
        thrown.push(error);
        throw error;
      }
      taken.push(m.text);
    });
    return { taken, thrown };
  }

  it('leaves the message unacknowledged: the error is emitted, it comes again in the next session, and nothing taken is lost or repeated', async () => {
    const alice = await connected();
    const identity = await user();
    const bob = client({ identity });
    const app = takeAllBut(bob);
    const { errors } = record(bob);
    const disconnects: DisconnectInfo[] = [];
    bob.on('disconnect', (d) => disconnects.push(d));
    const reconnected = new Promise((resolve) => bob.once('reconnect', resolve));
    await bob.connect();

    await alice.c.send(identity.number, 'before');
    await until(() => app.taken.length === 1, 'the first message');
    await alice.c.send(identity.number, 'boom');
    await alice.c.send(identity.number, 'after');
    await until(() => errors.length === 1, 'the error');
    const error = errors[0] as ListenerError;
    expect(error).toBeInstanceOf(ListenerError);
    expect(error.code).toBe('ZAPWIRE_LISTENER');
    expect(error.cause).toBe(app.thrown[0]);
    expect(error.delivery).toMatchObject({ type: 'message', sender: alice.number, text: 'boom' });
    expect(error.message).toMatch(/cannot handle boom/);

    // The session that brought it ends; the next one brings it (and what came after it) again.
    await reconnected;
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]!.error).toBe(error);
    await until(() => app.taken.length === 3, 'the redelivered message and the one after it');
    await sleep(100);
    expect(app.taken).toEqual(['before', 'boom', 'after']);
    expect(app.thrown).toHaveLength(1);
    expect(errors).toHaveLength(1);

    // Now all three were taken and acknowledged: nothing is pending, and alice got one receipt each.
    await bob.close();
    const check = await connected({ identity, mode: 'poll' });
    expect(await check.c.poll()).toEqual([]);
    await until(() => alice.receipts.length === 3, 'the receipts');
    expect(alice.receipts.map((r) => r.kind)).toEqual(['recebida', 'recebida', 'recebida']);
  });

  it('emits no message twice that the application took before the failure, when they come again after it', async () => {
    const alice = await connected();
    const identity = await user();
    // Acks wait a minute: what bob took before the failure is not yet acknowledged when its session ends.
    const bob = client({ identity, ackDelayMs: 60_000 });
    const app = takeAllBut(bob);
    const { errors } = record(bob);
    await alice.c.send(identity.number, 'taken, not yet acknowledged');
    await alice.c.send(identity.number, 'boom');
    await bob.connect();
    await until(() => app.taken.length === 2, 'both, the second one again');
    await sleep(100);
    expect(app.taken).toEqual(['taken, not yet acknowledged', 'boom']);
    expect(errors).toHaveLength(1);
  });

  it('in a poll session: poll() rejects with the error, the client closes (reconnect off), and the next poll session gets the message again', async () => {
    const alice = await connected();
    const identity = await user();
    const dave = client({ identity, reconnect: false });
    const app = takeAllBut(dave);
    const { errors } = record(dave);
    const closed = new Promise<{ error: ZapwireError | undefined }>((resolve) =>
      dave.once('close', resolve),
    );
    await dave.connect({ mode: 'poll' });
    for (const text of ['ok1', 'boom', 'ok2']) await alice.c.send(identity.number, text);

    const err = await rejection(dave.poll());
    expect(err).toBeInstanceOf(ListenerError);
    expect(errors).toEqual([err]);
    expect((await closed).error).toBe(err);
    expect(app.taken).toEqual(['ok1']);

    const again = await connected({ identity, mode: 'poll' });
    const got = await again.c.poll();
    expect(got.map((d) => (d as Message).text)).toEqual(['boom', 'ok2']);
  });

  it("does not crash the process when there is no 'error' listener: a process warning instead", async () => {
    const alice = await connected();
    const identity = await user();
    const bob = client({ identity });
    const app = takeAllBut(bob);
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      await bob.connect();
      await alice.c.send(identity.number, 'boom');
      await until(() => app.taken.length === 1, 'the message, taken the second time');
      expect(app.thrown).toHaveLength(1);
      await until(() => warnings.length === 1, 'the warning');
      expect(warnings[0]).toBeInstanceOf(ListenerError);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('retries a message its listener keeps throwing on, with growing delays', async () => {
    const alice = await connected();
    const identity = await user();
    const bob = client({ identity });
    const app = takeAllBut(bob, 4);
    record(bob);
    const delays: number[] = [];
    bob.on('disconnect', (d) => delays.push(d.reconnectInMs!));
    await bob.connect();
    await alice.c.send(identity.number, 'boom');
    await until(() => app.taken.length === 1, 'the message, taken the fifth time');
    expect(app.thrown).toHaveLength(4);
    // client(): initialDelayMs 20 with jitter to half: the nth failure in a row waits 20·2^(n-1)/2 to 20·2^(n-1) ms.
    expect(delays).toHaveLength(4);
    delays.forEach((delay, n) => {
      expect(delay).toBeGreaterThanOrEqual(10 * 2 ** n);
      expect(delay).toBeLessThanOrEqual(20 * 2 ** n);
    });
  });
});

describe('close', () => {
  it('acknowledges what was handled before closing, so it is not delivered again', async () => {
    const alice = await connected();
    const bob = await connected({ ackDelayMs: 60_000 });
    await alice.c.send(bob.number, 'ack me on close');
    await until(() => bob.messages.length === 1, 'the message');
    const closes: unknown[] = [];
    bob.c.on('close', (c) => closes.push(c));
    await bob.c.close();
    expect(closes).toEqual([{ error: undefined }]);
    const again = await connected({ identity: bob.identity, mode: 'poll' });
    const got: Delivery[] = await again.c.poll();
    expect(got).toEqual([]);
  });
});
