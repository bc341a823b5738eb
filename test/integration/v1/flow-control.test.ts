/**
 * docs/protocol.md §Limits: reading is flow-controlled. A connection whose frames
 * wait for the server is not read further until they are answered, so a
 * pipelining client costs bounded memory however fast it writes, and every
 * other client keeps being served. Asserted on the bounded structure itself
 * (ZapwireServer.flowStats: frames in flight per connection), never on RSS.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeFrame } from '../../../src/protocol/index.js';
import { DEFAULT_OPTIONS } from '../../../src/server/config.js';
import { FRAMES_PER_READ, WRITE_HIGH_WATER } from '../../../src/server/main-thread/connection.js';
import { message, receive, sendStored, T0, take, useServer } from '../../helpers/v1.js';
import type { Identity, WireClient } from '../../helpers/wire-client.js';

const MAX_INFLIGHT = DEFAULT_OPTIONS.maxInflight;
/** A connection's frames in flight: the budget, plus the one socket read (64 KiB) that went over it. */
const BOUND = MAX_INFLIGHT + FRAMES_PER_READ;
const FLOOD_MS = 1_500;

// Floods must not meet the per-number rate or the pending quota: what is
// measured here is flow control alone.
const env = useServer({ rateLimit: 0, maxPendingPerRecipient: 0, httpPort: 0, threads: 2 });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Writes frames as fast as the socket takes them (64 to a write, waiting for
 * 'drain' when the kernel stops taking them), for `ms` or `max` frames,
 * whichever comes first. Returns how many frames were written.
 */
async function flood(
  socket: Socket,
  frameAt: (i: number) => Buffer,
  { ms, max }: { ms: number; max: number },
): Promise<number> {
  const deadline = Date.now() + ms;
  let written = 0;
  while (written < max && Date.now() < deadline) {
    const batch: Buffer[] = [];
    while (batch.length < 64 && written < max) batch.push(frameAt(written++));
    if (!socket.write(Buffer.concat(batch))) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      await Promise.race([once(socket, 'drain'), sleep(left)]);
    }
  }
  return written;
}

interface Watch {
  /** The largest maxInflightFrames seen while sampling. */
  maxInflight: number;
  /** The largest maxQueuedBytes (output queued on one socket) seen while sampling. */
  maxQueued: number;
  /** 05 -> 07 round trips of a normal client on another connection, in ms. */
  probes: number[];
}

/**
 * While `attack` runs, and for at least FLOOD_MS (the server may still be
 * working through what the attack wrote): samples flowStats every 5 ms, and
 * has a normal client (its own connection) send a 05 every 100 ms and time
 * its 07.
 */
async function watch(
  attack: Promise<unknown>,
  probe: { client: WireClient; who: Identity; to: string },
): Promise<Watch> {
  const seen: Watch = { maxInflight: 0, maxQueued: 0, probes: [] };
  const sampler = setInterval(() => {
    const stats = env.t.server.flowStats().v1;
    seen.maxInflight = Math.max(seen.maxInflight, stats.maxInflightFrames);
    seen.maxQueued = Math.max(seen.maxQueued, stats.maxQueuedBytes);
  }, 5);
  let done = false;
  const settled = Promise.all([attack, sleep(FLOOD_MS)]).finally(() => (done = true));
  const probing = (async () => {
    for (let i = 0; !done; i++) {
      const started = Date.now();
      await sendStored(
        probe.client,
        message(probe.who.number, probe.to, `probe ${i}`, { ts: T0 + i }),
      );
      seen.probes.push(Date.now() - started);
      await sleep(100);
    }
  })();
  await settled;
  await probing;
  clearInterval(sampler);
  return seen;
}

function expectBounded(seen: Watch): void {
  expect(seen.probes.length, 'probes answered during the flood').toBeGreaterThanOrEqual(2);
  for (const ms of seen.probes)
    expect(ms, "a normal client's 05 -> 07 during the flood (ms)").toBeLessThan(1_000);
  expect(seen.maxInflight, 'frames in flight on one connection, sampled').toBeLessThanOrEqual(
    BOUND,
  );
  const stats = env.t.server.flowStats().v1;
  expect(
    stats.peakInflightFrames,
    'frames in flight on one connection, most since start',
  ).toBeLessThanOrEqual(BOUND);
  // The flood did press against the budget: some read took it over maxInflight, and reading paused.
  expect(stats.peakInflightFrames).toBeGreaterThan(MAX_INFLIGHT);
}

describe('docs/protocol.md §Limits: a pipelining v1 client is read no faster than it is served', () => {
  it("an anonymous 19 flood that never reads: bounded in flight, and a normal client's 05 -> 07 within 1 s", async () => {
    const [prober, sink, asked] = await env.users(3);
    const probe = { client: await env.session(prober!), who: prober!, to: sink!.number };
    const flooder = await env.connect();
    flooder.socket.pause(); // never reads: its answers back up into the server's socket
    const ask = encodeFrame({ code: '19', dst: asked!.number });
    const seen = await watch(
      flood(flooder.socket, () => ask, { ms: FLOOD_MS, max: 1_000_000 }),
      probe,
    );
    expectBounded(seen);
    // The flooder's answers stopped draining: it is not read at all now.
    expect(env.t.server.flowStats().v1.pausedConnections).toBeGreaterThanOrEqual(1);
  });

  it('an authenticated 05 flood that never reads: bounded, and every 07 it gets afterwards is a stored message', async () => {
    const [alice, bob, prober, sink] = await env.users(4);
    const probe = { client: await env.session(prober!), who: prober!, to: sink!.number };
    const flooder = await env.session(alice!);
    flooder.socket.pause();
    const frameAt = (i: number) =>
      encodeFrame(message(alice!.number, bob!.number, `f${i}`, { ts: T0 + i }));
    let written = 0;
    const seen = await watch(
      flood(flooder.socket, frameAt, { ms: FLOOD_MS, max: 30_000 }).then((n) => (written = n)),
      probe,
    );
    expectBounded(seen);
    // Reading again, the flooder gets a 07 for every 05 it wrote, in order...
    flooder.socket.resume();
    const stored = await take(flooder, written, 20_000);
    expect(stored.map((f) => [f.code, f.ts])).toEqual(
      Array.from({ length: written }, (_, i) => ['07', T0 + i]),
    );
    // ...and each of them was really stored: bob gets them all, in order, nothing lost.
    const b = await env.session(bob!);
    const got = await receive(b, written, { ackAs: bob!.number, timeoutMs: 20_000 });
    expect(got.map((f) => f.data)).toEqual(Array.from({ length: written }, (_, i) => `f${i}`));
  });

  it('pipelined 03 polls that are never read: output queued on the socket stays near its high-water mark', async () => {
    const [alice, dave, prober, sink] = await env.users(4);
    const probe = { client: await env.session(prober!), who: prober!, to: sink!.number };
    const a = await env.session(alice!);
    for (let i = 0; i < DEFAULT_OPTIONS.pollBatch; i++)
      await sendStored(a, message(alice!.number, dave!.number, `pending ${i}`, { ts: T0 + i }));
    const poller = await env.session(dave!, false);
    poller.socket.pause();
    const poll = encodeFrame({ code: '03', src: dave!.number });
    const seen = await watch(
      flood(poller.socket, () => poll, { ms: FLOOD_MS, max: 1_000_000 }),
      probe,
    );
    expectBounded(seen);
    // Each 03 read could become a 101-frame answer (25 KB): they stop once the socket stops draining, some answers past its mark (not the 256 answers, 6.6 MB, of one read).
    const answer = (DEFAULT_OPTIONS.pollBatch + 1) * 256;
    expect(seen.maxQueued, "bytes queued on the poller's socket").toBeLessThanOrEqual(
      WRITE_HIGH_WATER + 16 * answer,
    );
  });

  it('pipelined 03 polls while reading every answer: bounded, and every poll answered in full', async () => {
    const [alice, carol, prober, sink] = await env.users(4);
    const probe = { client: await env.session(prober!), who: prober!, to: sink!.number };
    // 100 pending messages: each 03 is answered with 100 06 and a 03 (a 101-frame answer per 256 bytes read).
    const a = await env.session(alice!);
    for (let i = 0; i < DEFAULT_OPTIONS.pollBatch; i++)
      await sendStored(a, message(alice!.number, carol!.number, `pending ${i}`, { ts: T0 + i }));
    const poller = connect(env.port, '127.0.0.1');
    await once(poller, 'connect');
    let received = 0;
    poller.on('data', (chunk: Buffer) => (received += chunk.length)); // reads (and counts) as fast as it can
    poller.write(encodeFrame({ code: '04', src: carol!.number, flag: false, data: carol!.token }));
    const poll = encodeFrame({ code: '03', src: carol!.number });
    let written = 0;
    const seen = await watch(
      flood(poller, () => poll, { ms: FLOOD_MS, max: 1_000 }).then((n) => (written = n)),
      probe,
    );
    expectBounded(seen);
    const expected = 256 * (1 + written * (DEFAULT_OPTIONS.pollBatch + 1));
    const deadline = Date.now() + 20_000;
    while (received < expected && Date.now() < deadline) await sleep(20);
    expect(received, 'bytes of the 04 answer and of every poll answer').toBe(expected);
    poller.destroy();
  });
});

describe('docs/protocol.md §Limits: a pipelining HTTP client has at most maxInflight requests served at once', () => {
  const sockets: Socket[] = [];
  afterAll(() => {
    for (const s of sockets) s.destroy();
  });

  /** A raw HTTP/1.1 connection that writes `requests` in one write and resolves with every status line once `count` answers came. */
  async function pipeline(requests: string, count: number): Promise<string[]> {
    const socket = connect(env.t.server.httpAddress!.port, '127.0.0.1');
    sockets.push(socket);
    await once(socket, 'connect');
    let text = '';
    const statuses = () => text.match(/HTTP\/1\.1 \d{3}/g) ?? [];
    const answered = new Promise<string[]>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => {
        text += chunk.toString('latin1');
        if (statuses().length >= count) resolve(statuses());
      });
      socket.on('close', () =>
        reject(new Error(`closed after ${statuses().length} of ${count} answers`)),
      );
    });
    socket.write(requests);
    return answered;
  }

  it('300 pipelined GETs in one write: all answered, in order, never more than maxInflight at once', async () => {
    const [alice] = await env.users(1);
    const one = `GET /v1/numbers/${alice!.number} HTTP/1.1\r\nhost: test\r\n\r\n`;
    const statuses = await pipeline(one.repeat(300), 300);
    expect(statuses).toEqual(Array.from({ length: 300 }, () => 'HTTP/1.1 200'));
    // The budget was reached, never passed.
    expect(env.t.server.flowStats().http!.peakInflightRequests).toBe(MAX_INFLIGHT);
  });

  it('200 pipelined POST /v1/messages with bodies: every one stored (201) and delivered', async () => {
    const [alice, bob] = await env.users(2);
    const requests = Array.from({ length: 200 }, (_, i) => {
      const body = JSON.stringify({ to: bob!.number, text: `h${i}`, receipts: false });
      return `POST /v1/messages HTTP/1.1\r\nhost: test\r\nauthorization: Bearer ${alice!.number}:${alice!.token}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
    });
    const statuses = await pipeline(requests.join(''), 200);
    expect(statuses).toEqual(Array.from({ length: 200 }, () => 'HTTP/1.1 201'));
    expect(env.t.server.flowStats().http!.peakInflightRequests).toBeLessThanOrEqual(MAX_INFLIGHT);
    const b = await env.session(bob!);
    const got = await receive(b, 200, { ackAs: bob!.number });
    expect(got.map((f) => f.data)).toEqual(Array.from({ length: 200 }, (_, i) => `h${i}`));
  });
});
