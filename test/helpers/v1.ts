/**
 * Small helpers for the protocol v1 integration suite (test/integration/v1):
 * a per-describe server with automatic cleanup of the clients a test opened,
 * and frame-level shorthands. No protocol logic is hidden here: every helper
 * sends or reads exactly the frames its name says.
 */
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { encodeFrame, type Frame, type FrameInit, NOBODY } from '../../src/protocol/index.js';
import type { StartOptions } from '../../src/server/server.js';
import { startTestServer, type TestServer } from './server.js';
import { type FrameClient, type Identity, WireClient } from './wire-client.js';

/** A plausible Unix time to stamp test messages with (10 digits). */
export const T0 = 1_700_000_000;

/** A 13-digit number that no test registers (numbers are random; a collision is ~1e-13 likely). */
export function unknownNumber(): string {
  return '9' + String(Math.floor(Math.random() * 1e12)).padStart(12, '0');
}

export interface V1Env {
  /** The running server (valid inside tests and hooks). */
  readonly t: TestServer;
  readonly port: number;
  /** A raw connection, destroyed after the test. */
  connect(): Promise<WireClient>;
  /** Registers a user (01 -> 02) on a connection of its own. */
  user(name?: string): Promise<Identity>;
  users(count: number): Promise<Identity[]>;
  /** Connects and opens a push (default) or poll session; asserts the answer is `04` `ok`. */
  session(who: Identity, push?: boolean): Promise<WireClient>;
  /** Closes (destroys) every connection opened so far through this env. */
  dropAll(): void;
}

/**
 * Starts one server for the enclosing describe block (beforeAll / afterAll)
 * and destroys, after each test, every connection the test opened through it.
 */
export function useServer(options: StartOptions = {}): V1Env {
  let t: TestServer | undefined;
  const clients = new Set<WireClient>();
  const track = (c: WireClient): WireClient => {
    clients.add(c);
    return c;
  };
  const env: V1Env = {
    get t() {
      if (!t) throw new Error('the test server is not started');
      return t;
    },
    get port() {
      return env.t.port;
    },
    async connect() {
      return track(await WireClient.connect(env.port));
    },
    async user(name = '') {
      const c = await env.connect();
      c.send({ code: '01', data: name });
      const answer = await c.next();
      c.destroy();
      clients.delete(c);
      if (answer.code !== '02') throw new Error(`01 answered ${answer.code} ${answer.data}`);
      return { number: answer.dst, token: answer.data };
    },
    users(count) {
      return Promise.all(Array.from({ length: count }, (_, i) => env.user(`user ${i}`)));
    },
    async session(who, push = true) {
      const c = await env.connect();
      c.send({ code: '04', src: who.number, flag: push, data: who.token });
      const answer = await c.next();
      expect(answer, 'the 04 answer').toMatchObject({ code: '04', data: 'ok' });
      return c;
    },
    dropAll() {
      for (const c of clients) c.destroy();
      clients.clear();
    },
  };
  beforeAll(async () => {
    t = await startTestServer(options);
  });
  afterEach(() => env.dropAll());
  afterAll(async () => {
    env.dropAll();
    await t?.stop();
  });
  return env;
}

/** The next `n` frames, whatever their code. */
export async function take(c: FrameClient, n: number, timeoutMs = 3_000): Promise<Frame[]> {
  const out: Frame[] = [];
  for (let i = 0; i < n; i++) out.push(await c.next(timeoutMs));
  return out;
}

export interface ReceiveOptions {
  /** Acknowledge (cumulative `08`) as this number while reading. */
  ackAs?: string;
  /** Acknowledge every this many frames (and after the last one). */
  every?: number;
  /** `06` frames this connection had received before this call (the base of the cumulative count). */
  base?: number;
  timeoutMs?: number;
}

/**
 * Reads exactly `n` frames and checks that every one is a `06`; optionally
 * acknowledges them as it goes, as a real client must for a push session to
 * keep receiving beyond its window.
 */
export async function receive(
  c: FrameClient,
  n: number,
  options: ReceiveOptions = {},
): Promise<Frame[]> {
  const { ackAs, every = 64, base = 0, timeoutMs = 3_000 } = options;
  const out: Frame[] = [];
  for (let i = 0; i < n; i++) {
    const frame = await c.next(timeoutMs).catch((err: Error) => {
      throw new Error(`after ${i} of ${n} 06 frames: ${err.message}`);
    });
    if (frame.code !== '06')
      throw new Error(`expected a 06 as frame ${i + 1} of ${n}, got ${JSON.stringify(frame)}`);
    out.push(frame);
    if (ackAs !== undefined && ((i + 1) % every === 0 || i + 1 === n)) ack(c, ackAs, base + i + 1);
  }
  return out;
}

/** Sends a cumulative `08`: `count` is how many `06` this connection has received so far. */
export function ack(c: FrameClient, src: string, count: number): void {
  c.send({ code: '08', src, data: String(count) });
}

/** A `05` frame. */
export function message(
  src: string,
  dst: string,
  data: string,
  options: { ts?: number; flag?: boolean } = {},
): FrameInit {
  return { code: '05', src, dst, ts: options.ts ?? T0, flag: options.flag ?? false, data };
}

/** Sends a `05` and returns its answer, checked to be the `07`. */
export async function sendStored(c: FrameClient, init: FrameInit): Promise<Frame> {
  c.send(init);
  const answer = await c.next();
  expect(answer, `the answer to 05 ${init.data ?? ''}`).toMatchObject({
    code: '07',
    src: init.src,
    dst: init.dst,
    ts: init.ts,
  });
  return answer;
}

/** Asserts that `frame` is a `09` with this status and, if given, echoes this frame's src, dst and ts. */
export function expectError(
  frame: Frame,
  status: number,
  cause?: { src?: string; dst?: string; ts?: number },
): void {
  expect(frame.code, `expected 09 ${status}, got ${JSON.stringify(frame)}`).toBe('09');
  expect(frame.data).toMatch(new RegExp(`^${status} `));
  if (cause) {
    expect({ src: frame.src, dst: frame.dst, ts: frame.ts }).toEqual({
      src: cause.src ?? NOBODY,
      dst: cause.dst ?? NOBODY,
      ts: cause.ts ?? 0,
    });
  }
}

/** Reads the next frame, asserts it is `09 <status>` (echoing `cause` if given), then that the server closes the connection. */
export async function expectErrorAndClose(
  c: FrameClient,
  status: number,
  cause?: { src?: string; dst?: string; ts?: number },
): Promise<void> {
  expectError(await c.next(), status, cause);
  await c.waitClosed();
  expect(c.frames).toHaveLength(0);
}

/** Reads the next frame, asserts it is `09 <status>`, and that the connection stays open (it still answers a `19`). */
export async function expectErrorAndOpen(
  c: FrameClient,
  status: number,
  asker: string,
  cause?: { src?: string; dst?: string; ts?: number },
): Promise<void> {
  expectError(await c.next(), status, cause);
  await expectStillServed(c, asker);
}

/** The connection is still open and served: a `19` about `asker` is answered `20` `1`. */
export async function expectStillServed(c: FrameClient, asker: string): Promise<void> {
  c.send({ code: '19', src: asker, dst: asker });
  const answer = await c.next();
  expect(answer).toMatchObject({ code: '20', dst: asker, data: '1' });
  expect(c.closed).toBe(false);
}

/**
 * Sends a `19` and reads up to its `20`, returning the frames that came
 * before it: once it returns, every frame sent before the `19` (an `08`
 * included, which has no answer) has been handled.
 */
export async function roundTrip(
  c: FrameClient,
  asker: string,
  timeoutMs = 3_000,
): Promise<Frame[]> {
  c.send({ code: '19', src: asker, dst: asker });
  const before: Frame[] = [];
  for (;;) {
    const frame = await c.next(timeoutMs);
    if (frame.code === '20' && frame.dst === asker) return before;
    before.push(frame);
  }
}

/** A frame's bytes, edited in place by `edit` (for malformed frames). */
export function rawFrame(init: FrameInit, edit?: (bytes: Buffer) => void): Buffer {
  const bytes = encodeFrame(init);
  edit?.(bytes);
  return bytes;
}

/** A small seeded PRNG (mulberry32), so random tests replay the same bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** Waits until `check` holds, polling, or fails after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 3_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() >= deadline) throw new Error(`${what} still false after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
