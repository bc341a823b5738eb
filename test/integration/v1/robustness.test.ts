/**
 * docs/protocol.md §Frame (a stream cut every 256 bytes, whatever the TCP
 * segments), malformed input, abrupt disconnects, connection churn and slow
 * readers: the server keeps serving everyone else and loses nothing stored.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_SIZE } from '../../../src/protocol/index.js';
import { DEFAULT_OPTIONS } from '../../../src/server/config.js';
import {
  ack,
  eventually,
  expectErrorAndClose,
  message,
  prng,
  receive,
  roundTrip,
  sendStored,
  T0,
  take,
  useServer,
  type V1Env,
} from '../../helpers/v1.js';
import { type Identity, WireClient } from '../../helpers/wire-client.js';

/** Writes `bytes` in the given piece sizes, each its own write, yielding to the event loop in between. */
async function writeInPieces(c: WireClient, bytes: Buffer, sizes: () => number): Promise<void> {
  c.socket.setNoDelay(true);
  for (let at = 0; at < bytes.length; ) {
    const end = Math.min(bytes.length, at + Math.max(1, sizes()));
    await new Promise<void>((resolve, reject) =>
      c.socket.write(bytes.subarray(at, end), (err) => (err ? reject(err) : resolve())),
    );
    await new Promise((r) => setImmediate(r));
    at = end;
  }
}

/** One round trip of a message between two push sessions, in ms. */
/** A message from one served session to another goes through (no timing asserted: a loaded CI machine is slow, not wrong). */
async function ping(
  from: WireClient,
  to: WireClient,
  a: Identity,
  b: Identity,
  text: string,
): Promise<void> {
  from.send(message(a.number, b.number, text));
  const [got] = await receive(to, 1, { timeoutMs: 10_000 });
  expect(got!.data).toBe(text);
  expect((await from.next(10_000)).code).toBe('07');
}

describe('docs/protocol.md §Frame: frames are cut every 256 bytes, however the stream is split', () => {
  const env = useServer();

  it('serves frames written one byte per write', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.connect();
    const bytes = Buffer.concat([
      encodeFrame({ code: '04', src: alice.number, flag: true, data: alice.token }),
      encodeFrame(message(alice.number, bob.number, 'byte by byte ção', { ts: T0 + 1 })),
    ]);
    await writeInPieces(a, bytes, () => 1);
    expect(await a.next()).toMatchObject({ code: '04', data: 'ok' });
    expect(await a.next()).toMatchObject({ code: '07', ts: T0 + 1 });
    const b = await env.session(bob);
    expect((await receive(b, 1))[0]!.data).toBe('byte by byte ção');
  });

  it('serves 60 frames written in random pieces of 1 to 700 bytes, in order', async () => {
    const [alice, bob] = await env.users(2);
    const random = prng(1234);
    const a = await env.connect();
    const frames = [encodeFrame({ code: '04', src: alice.number, flag: true, data: alice.token })];
    for (let i = 0; i < 60; i++)
      frames.push(
        encodeFrame(
          message(alice.number, bob.number, `piece ${i} ${'é'.repeat(i)}`, { ts: T0 + i }),
        ),
      );
    await writeInPieces(a, Buffer.concat(frames), () => 1 + Math.floor(random() * 700));
    expect(await a.next()).toMatchObject({ code: '04', data: 'ok' });
    const stored = await take(a, 60);
    expect(stored.map((f) => [f.code, f.ts])).toEqual(
      Array.from({ length: 60 }, (_, i) => ['07', T0 + i]),
    );
    const b = await env.session(bob);
    const got = await receive(b, 60, { ackAs: bob.number });
    expect(got.map((f) => f.data)).toEqual(
      Array.from({ length: 60 }, (_, i) => `piece ${i} ${'é'.repeat(i)}`),
    );
  });

  it(`answers 1,000 requests pipelined in one write, in order (far more than the ${DEFAULT_OPTIONS.maxInflight} a connection may have in flight)`, async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.connect();
    const count = 1_000;
    const frames = [encodeFrame({ code: '04', src: alice.number, flag: true, data: alice.token })];
    for (let i = 0; i < count; i++)
      frames.push(encodeFrame(message(alice.number, bob.number, `pipelined ${i}`, { ts: T0 + i })));
    a.socket.write(Buffer.concat(frames));
    expect(await a.next()).toMatchObject({ code: '04', data: 'ok' });
    const stored = await take(a, count, 20_000);
    expect(stored.map((f) => [f.code, f.ts])).toEqual(
      Array.from({ length: count }, (_, i) => ['07', T0 + i]),
    );
    const b = await env.session(bob);
    const got = await receive(b, count, { ackAs: bob.number, timeoutMs: 20_000 });
    expect(got.map((f) => f.data)).toEqual(
      Array.from({ length: count }, (_, i) => `pipelined ${i}`),
    );
  });

  it('answers a frame split across pieces whose cut falls inside a multi-byte character', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const frame = encodeFrame(message(alice.number, bob.number, '😀😀😀', { ts: T0 + 5 }));
    const cut = 39 + 2; // inside the first 4-byte character
    a.sendRaw(frame.subarray(0, cut));
    await new Promise((r) => setTimeout(r, 20));
    a.sendRaw(frame.subarray(cut));
    expect(await a.next()).toMatchObject({ code: '07', ts: T0 + 5 });
  });
});

describe('docs/protocol.md §Frame: garbage and abrupt disconnects do not disturb other clients', () => {
  const env = useServer();

  it('answers random garbage with one 09 400 and closes, while other clients keep being served', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    const random = prng(42);
    const garbage = await Promise.all(Array.from({ length: 10 }, () => env.connect()));
    for (const [i, g] of garbage.entries()) {
      const bytes = Buffer.alloc(FRAME_SIZE + Math.floor(random() * 4_000));
      for (let k = 0; k < bytes.length; k++) bytes[k] = Math.floor(random() * 256);
      bytes[0] = 0x78; // 'x': never a digit, so the very first frame is malformed whatever follows
      if (i % 2 === 0) g.sendRaw(bytes);
      else void writeInPieces(g, bytes, () => 1 + Math.floor(random() * 300)).catch(() => {});
    }
    // Meanwhile, alice and bob go on.
    for (let i = 0; i < 20; i++) a.send(message(alice.number, bob.number, `during ${i}`));
    for (const g of garbage) await expectErrorAndClose(g, 400);
    expect((await take(a, 20)).every((f) => f.code === '07')).toBe(true);
    const got = await receive(b, 20, { ackAs: bob.number });
    expect(got.map((f) => f.data)).toEqual(Array.from({ length: 20 }, (_, i) => `during ${i}`));
  });

  it('survives connections that end or reset in the middle of a frame, and keeps serving', async () => {
    const [alice, bob] = await env.users(2);
    const half = encodeFrame(message(alice.number, bob.number, 'half')).subarray(0, 100);
    for (let i = 0; i < 30; i++) {
      const c = await env.connect();
      if (i % 3 === 0)
        c.sendRaw(
          encodeFrame({ code: '04', src: alice.number, flag: i % 2 === 0, data: alice.token }),
        );
      c.sendRaw(half);
      if (i % 2 === 0) c.socket.resetAndDestroy();
      else c.close();
    }
    const a = await env.session(alice);
    await sendStored(a, message(alice.number, bob.number, 'whole'));
    const b = await env.session(bob);
    expect((await receive(b, 1, { ackAs: bob.number }))[0]!.data).toBe('whole');
    // A frame cut short was never a frame: nothing of it was stored.
    expect(await b.silentFor(150)).toBe(true);
    await eventually(
      () => env.t.server.sessions === 2,
      3_000,
      'only the two live connections remain',
    );
  });

  it('keeps the messages of a recipient that disconnects in the middle of writing its 08', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    for (let i = 0; i < 3; i++) await sendStored(a, message(alice.number, bob.number, `m${i}`));
    const b1 = await env.session(bob);
    await receive(b1, 3);
    b1.sendRaw(encodeFrame({ code: '08', src: bob.number, data: '3' }).subarray(0, 200));
    b1.socket.resetAndDestroy();
    const b2 = await env.session(bob);
    expect((await receive(b2, 3)).map((f) => f.data)).toEqual(['m0', 'm1', 'm2']);
  });

  it('leaves no push route behind for a connection that closes before its 04 is answered', async () => {
    const users = await env.users(10);
    const routesBefore = (await env.t.server.stats()).routes;
    for (const u of users) {
      const c = await env.connect();
      c.send({ code: '04', src: u.number, flag: true, data: u.token });
      c.destroy();
    }
    await eventually(
      async () => (await env.t.server.stats()).routes === routesBefore,
      3_000,
      'routes back to where they were',
    );
    // And such a number is still served by its next push session.
    const a = await env.session(users[0]!);
    const b = await env.session(users[1]!);
    await sendStored(a, message(users[0]!.number, users[1]!.number, 'still routed'));
    expect((await receive(b, 1))[0]!.data).toBe('still routed');
  });
});

describe('robustness: 2,000 connect-and-close cycles', () => {
  const env = useServer();

  it('still answers afterwards, and holds no connection or push route for them', async () => {
    const identities = await env.users(4);
    const BATCH = 100;
    for (let round = 0; round < 20; round++) {
      await Promise.all(
        Array.from({ length: BATCH }, async (_, k) => {
          const c = await WireClient.connect(env.port);
          const i = round * BATCH + k;
          const who = identities[i % identities.length]!;
          switch (i % 4) {
            case 0:
              c.destroy();
              return;
            case 1:
              c.close();
              await c.waitClosed();
              return;
            case 2:
              // A short poll connection: 04, one request, close.
              c.send({ code: '04', src: who.number, flag: false, data: who.token });
              c.send({ code: '03', src: who.number });
              await take(c, 2);
              c.destroy();
              return;
            default:
              c.send({ code: '04', src: who.number, flag: true, data: who.token });
              c.socket.resetAndDestroy();
          }
        }),
      );
    }
    await eventually(
      () => env.t.server.sessions === 0,
      5_000,
      'every connection closed on the server',
    );
    await eventually(
      async () => (await env.t.server.stats()).routes === 0,
      3_000,
      'no push route left',
    );
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    await sendStored(a, message(alice.number, bob.number, 'still here'));
    expect((await receive(b, 1))[0]!.data).toBe('still here');
  });
});

/**
 * A recipient that stops reading while thousands of messages are sent to it.
 * Run against the default push window (the server stops at 512 unacknowledged
 * pushes) and a window so large that the socket's own backpressure is what
 * stops the pushes.
 */
describe.each([
  // The server stops pushing at 512 unacknowledged frames; the rest wait in
  // the store. No rate limit, to send them in one burst (docs/protocol.md §Limits:
  // 2,000 at the default rate).
  ['the default push window', { rateLimit: 0 }, 4_000],
  // 20,000 frames (5 MB) overflow the loopback socket buffers, so the
  // connection's write queue grows past its high-water mark and the main
  // thread stops reading that socket. No rate limit, to send them in one
  // burst, and no pending quota (10,000 by default) for the one recipient.
  [
    'a push window larger than the socket buffers',
    { pushWindow: 100_000, rateLimit: 0, maxPendingPerRecipient: 0 },
    20_000,
  ],
] as const)('robustness: a client that never reads, with %s', (_name, options, COUNT) => {
  const env: V1Env = useServer(options);

  async function flood(alice: Identity, bob: Identity, carol: Identity, dave: Identity) {
    const a = await env.session(alice);
    const c = await env.session(carol);
    const d = await env.session(dave);
    const slow = await env.session(bob);
    slow.socket.pause();
    const frames = Array.from({ length: COUNT }, (_, i) =>
      encodeFrame(message(alice.number, bob.number, `flood ${i}`)),
    );
    a.sendRaw(Buffer.concat(frames));
    // Others are still served while the flood is stored and the reader is stalled
    // (how fast is the benchmark's business, not a test's).
    for (let i = 0; i < 20; i++) await ping(c, d, carol, dave, `ping ${i}`);
    const stored = await take(a, COUNT, 15_000);
    expect(stored.every((f) => f.code === '07')).toBe(true);
    for (let i = 0; i < 5; i++) await ping(d, c, dave, carol, `pong ${i}`);
    return slow;
  }

  const expected = Array.from({ length: COUNT }, (_, i) => `flood ${i}`);

  it('serves other sessions meanwhile, and once it reads it gets every message, in order', async () => {
    const [alice, bob, carol, dave] = await env.users(4);
    const slow = await flood(alice, bob, carol, dave);
    slow.socket.resume();
    const got = await receive(slow, COUNT, { ackAs: bob.number, every: 200, timeoutMs: 15_000 });
    expect(got.map((f) => f.data)).toEqual(expected);
    await roundTrip(slow, bob.number);
    expect(slow.frames).toHaveLength(0);
  });

  it('serves other sessions meanwhile, and after it reconnects it gets every message, in order', async () => {
    const [alice, bob, carol, dave] = await env.users(4);
    const slow = await flood(alice, bob, carol, dave);
    slow.destroy();
    const again = await env.session(bob);
    const got = await receive(again, COUNT, { ackAs: bob.number, every: 200, timeoutMs: 15_000 });
    expect(got.map((f) => f.data)).toEqual(expected);
    expect(await again.silentFor(100)).toBe(true);
  });

  it('does not deliver twice what was acknowledged before it stopped reading', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    for (let i = 0; i < 10; i++) a.send(message(alice.number, bob.number, `early ${i}`));
    await take(a, 10);
    await receive(b, 10, { ackAs: bob.number });
    await roundTrip(b, bob.number);
    b.socket.pause();
    a.sendRaw(
      Buffer.concat(
        Array.from({ length: 1_000 }, (_, i) =>
          encodeFrame(message(alice.number, bob.number, `late ${i}`)),
        ),
      ),
    );
    await take(a, 1_000, 5_000);
    b.destroy();
    const again = await env.session(bob);
    const got = await receive(again, 1_000, { ackAs: bob.number, every: 100 });
    expect(got.map((f) => f.data)).toEqual(Array.from({ length: 1_000 }, (_, i) => `late ${i}`));
    ack(again, bob.number, 1_000);
    expect(await again.silentFor(100)).toBe(true);
  });
});
