/**
 * Client-side building blocks of the attack tool (bench/attack.ts), written
 * against the wire contract only (src/protocol and the HTTP API), so that the
 * same tool measures the server before and after hardening: a v1 connection,
 * registration and sessions, a pipelining raw HTTP/1.1 connection, and one
 * legacy request.
 */
import { connect, type Socket } from 'node:net';
import { encodeFrame, FRAME_SIZE, type FrameInit, FrameSplitter } from '../src/protocol/index.js';
import { now } from './measure.js';

export const LOOPBACK = '127.0.0.1';

/**
 * Source addresses for attackers: loopback aliases (Linux routes all of
 * 127/8 to lo), so that per-address limits meet the attacker and not the
 * normal client, which connects from 127.0.0.1 as an unrelated user would.
 */
export function attackerAddress(i: number): string {
  return `127.0.0.${2 + (i % 250)}`;
}

export interface Identity {
  number: string;
  token: string;
}

/** A frame read, decoded leniently (the tool reports what it got, it does not judge it). */
export interface InFrame {
  code: string;
  src: string;
  dst: string;
  ts: number;
  flag: boolean;
  data: string;
}

export function readFrame(f: Buffer): InFrame {
  let end = FRAME_SIZE;
  while (end > 39 && f[end - 1] === 0) end--;
  return {
    code: f.toString('latin1', 0, 2),
    src: f.toString('latin1', 2, 15),
    dst: f.toString('latin1', 15, 28),
    ts: Number(f.toString('latin1', 28, 38)),
    flag: f[38] === 0x31,
    data: f.toString('utf8', 39, end),
  };
}

/** The three-digit status of a `09`'s data ("429 rate limit" -> 429). */
export function statusOf(f: InFrame): number {
  return Number(f.data.slice(0, 3)) || 0;
}

export function frames(count: number, init: FrameInit): Buffer {
  const one = encodeFrame(init);
  const buf = Buffer.allocUnsafe(count * FRAME_SIZE);
  for (let i = 0; i < count; i++) one.copy(buf, i * FRAME_SIZE);
  return buf;
}

export { now };

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** A v1 connection: frames in through `onFrame`, out through `send`/`write`. */
export class WireConn {
  readonly socket: Socket;
  private readonly splitter = new FrameSplitter();
  readonly openedAt = now();
  connectedAt: number | undefined;
  closedAt: number | undefined;
  /** Set when the socket ended with an error (e.g. ECONNRESET), not a clean close. */
  error: string | undefined;
  onFrame: (f: InFrame) => void = () => {};
  onClose: () => void = () => {};

  constructor(port: number, localAddress?: string) {
    this.socket = connect({ port, host: LOOPBACK, ...(localAddress ? { localAddress } : {}) });
    this.socket.setNoDelay(true);
    this.socket.on('connect', () => (this.connectedAt = now()));
    this.socket.on('data', (chunk: Buffer) =>
      this.splitter.push(chunk, (f) => this.onFrame(readFrame(f))),
    );
    this.socket.on('error', (err: NodeJS.ErrnoException) => (this.error = err.code ?? err.message));
    this.socket.on('close', () => {
      this.closedAt = now();
      this.onClose();
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  send(init: FrameInit): boolean {
    return this.write(encodeFrame(init));
  }

  write(buf: Buffer): boolean {
    if (this.closed || this.socket.destroyed) return false;
    return this.socket.write(buf);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Registers `count` users with pipelined `01`s on one connection. */
export function register(
  port: number,
  count: number,
  localAddress?: string,
  timeoutMs = 15_000,
): Promise<Identity[]> {
  return new Promise((resolve, reject) => {
    const conn = new WireConn(port, localAddress);
    const out: Identity[] = [];
    const timer = setTimeout(
      () => fail(`registered ${out.length} of ${count} within ${timeoutMs} ms`),
      timeoutMs,
    );
    function fail(why: string) {
      clearTimeout(timer);
      conn.destroy();
      reject(new Error(`register: ${why}`));
    }
    conn.onFrame = (f) => {
      if (f.code !== '02') return fail(`answered ${f.code} ${f.data}`);
      out.push({ number: f.dst, token: f.data });
      if (out.length === count) {
        clearTimeout(timer);
        conn.destroy();
        resolve(out);
      }
    };
    conn.onClose = () =>
      out.length < count &&
      fail(`closed after ${out.length} of ${count} (${conn.error ?? 'by the server'})`);
    for (let i = 0; i < count; i += 500)
      conn.write(frames(Math.min(500, count - i), { code: '01', data: 'attack' }));
  });
}

/**
 * Opens a session (`04`); resolves once it is answered `ok`. `opened` runs
 * synchronously on that answer: a push session's first `06` may arrive in
 * the same chunk as the `04`, before any awaiting code could set a handler.
 */
export function openSession(
  port: number,
  who: Identity,
  push: boolean,
  localAddress?: string,
  timeoutMs = 10_000,
  opened?: (conn: WireConn) => void,
): Promise<WireConn> {
  return new Promise((resolve, reject) => {
    const conn = new WireConn(port, localAddress);
    const timer = setTimeout(() => fail(`no answer within ${timeoutMs} ms`), timeoutMs);
    function fail(why: string) {
      clearTimeout(timer);
      conn.destroy();
      reject(new Error(`open session: ${why}`));
    }
    conn.onFrame = (f) => {
      if (f.code === '04') {
        clearTimeout(timer);
        conn.onFrame = () => {};
        conn.onClose = () => {};
        opened?.(conn);
        resolve(conn);
      } else fail(`answered ${f.code} ${f.data}`);
    };
    conn.onClose = () => fail(`closed (${conn.error ?? 'by the server'})`);
    conn.send({ code: '04', src: who.number, flag: push, data: who.token });
  });
}

/** Opens many sessions, `concurrency` at a time; the ones that failed are counted, not thrown. */
export async function openSessions(
  port: number,
  who: Identity[],
  push: boolean,
  localAddress?: string,
  concurrency = 50,
): Promise<{ conns: WireConn[]; failed: number }> {
  const conns: WireConn[] = [];
  let failed = 0;
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, who.length) }, async () => {
      while (next < who.length) {
        const id = who[next++]!;
        try {
          conns.push(await openSession(port, id, push, localAddress));
        } catch {
          failed++;
        }
      }
    }),
  );
  return { conns, failed };
}

// ---- HTTP ---------------------------------------------------------------------------------

export function httpRequest(
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Buffer {
  const bytes = body === undefined ? undefined : Buffer.from(body, 'utf8');
  let head = `${method} ${path} HTTP/1.1\r\nHost: ${LOOPBACK}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
  if (bytes) head += `Content-Type: application/json\r\nContent-Length: ${bytes.length}\r\n`;
  head += '\r\n';
  return bytes ? Buffer.concat([Buffer.from(head, 'latin1'), bytes]) : Buffer.from(head, 'latin1');
}

export interface HttpAnswer {
  /** 0: no answer (the connection closed or the time ran out). */
  status: number;
  body: string;
}

/**
 * One keep-alive HTTP/1.1 connection that pipelines requests and reads the
 * answers in order (status line, Content-Length; an answer without one, such
 * as Node's own 408/400, ends the connection).
 */
export class HttpPipe {
  readonly socket: Socket;
  private buffered: Buffer = Buffer.alloc(0);
  private readonly waiting: ((a: HttpAnswer) => void)[] = [];
  closedAt: number | undefined;
  error: string | undefined;

  constructor(port: number, localAddress?: string) {
    this.socket = connect({ port, host: LOOPBACK, ...(localAddress ? { localAddress } : {}) });
    this.socket.setNoDelay(true);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    this.socket.on('error', (err: NodeJS.ErrnoException) => (this.error = err.code ?? err.message));
    this.socket.on('close', () => {
      this.closedAt = now();
      for (const w of this.waiting.splice(0)) w({ status: 0, body: this.error ?? 'closed' });
    });
  }

  get inflight(): number {
    return this.waiting.length;
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Waits for an answer to bytes written directly on the socket (a request sent slowly). */
  expect(answer: (a: HttpAnswer) => void): void {
    if (this.closed) return answer({ status: 0, body: 'closed' });
    this.waiting.push(answer);
  }

  request(buf: Buffer, answer: (a: HttpAnswer) => void): void {
    if (this.closed || this.socket.destroyed) return answer({ status: 0, body: 'closed' });
    this.waiting.push(answer);
    this.socket.write(buf);
  }

  ask(buf: Buffer, timeoutMs = 5_000): Promise<HttpAnswer> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => resolve({ status: 0, body: `no answer within ${timeoutMs} ms` }),
        timeoutMs,
      );
      this.request(buf, (a) => {
        clearTimeout(timer);
        resolve(a);
      });
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    for (;;) {
      const headEnd = this.buffered.indexOf('\r\n\r\n');
      if (headEnd < 0) return;
      const head = this.buffered.toString('latin1', 0, headEnd);
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
      const length = /\r\ncontent-length: *(\d+)/i.exec(head);
      const bodyLength = length ? Number(length[1]) : 0;
      if (this.buffered.length < headEnd + 4 + bodyLength) return;
      const body = this.buffered.toString('utf8', headEnd + 4, headEnd + 4 + bodyLength);
      this.buffered = this.buffered.subarray(headEnd + 4 + bodyLength);
      this.waiting.shift()?.({ status, body });
    }
  }
}

/** One request on a fresh connection, closed afterwards; status 0 if unanswered in time. */
export async function httpOnce(
  port: number,
  buf: Buffer,
  timeoutMs = 5_000,
  localAddress?: string,
): Promise<HttpAnswer & { ms: number }> {
  const t0 = now();
  const pipe = new HttpPipe(port, localAddress);
  const answer = await pipe.ask(buf, timeoutMs);
  pipe.destroy();
  return { ...answer, ms: now() - t0 };
}

/** Registers one user over HTTP (`POST /v1/users`). */
export async function registerHttp(port: number, localAddress?: string): Promise<Identity> {
  const a = await httpOnce(
    port,
    httpRequest('POST', '/v1/users', '{"name":"attack"}'),
    5_000,
    localAddress,
  );
  if (a.status !== 201) throw new Error(`POST /v1/users answered ${a.status} ${a.body}`);
  const parsed = JSON.parse(a.body) as Identity;
  return { number: parsed.number, token: parsed.token };
}

// ---- legacy ---------------------------------------------------------------------------------

/** One legacy request: connect, write, half-close, read until the server closes. */
export function legacyRequest(
  port: number,
  request: Buffer,
  timeoutMs = 10_000,
  localAddress?: string,
): Promise<{ answer: Buffer; ms: number; ok: boolean }> {
  return new Promise((resolve) => {
    const t0 = now();
    const socket = connect({
      port,
      host: LOOPBACK,
      allowHalfOpen: true,
      ...(localAddress ? { localAddress } : {}),
    });
    const chunks: Buffer[] = [];
    let ok = true;
    const timer = setTimeout(() => {
      ok = false;
      socket.destroy();
    }, timeoutMs);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', () => (ok = false));
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ answer: Buffer.concat(chunks), ms: now() - t0, ok });
    });
    socket.end(request);
  });
}
