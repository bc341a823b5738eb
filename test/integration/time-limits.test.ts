/**
 * docs/protocol.md §Limits, time: an anonymous v1 connection idle past
 * anonymousTimeoutMs gets `09 408` and is closed, a session is never closed
 * for being idle; HTTP headers, whole requests and idle keep-alive
 * connections each have a time limit. Short option values keep it quick.
 */
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { expectError, expectStillServed, useServer } from '../helpers/v1.js';

const ANONYMOUS_MS = 300;
const HEADERS_MS = 300;
const REQUEST_MS = 600;
const KEEP_ALIVE_MS = 300;

const env = useServer({
  anonymousTimeoutMs: ANONYMOUS_MS,
  httpPort: 0,
  httpHeadersTimeoutMs: HEADERS_MS,
  httpRequestTimeoutMs: REQUEST_MS,
  httpKeepAliveTimeoutMs: KEEP_ALIVE_MS,
});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('docs/protocol.md §Limits: an anonymous connection idle past anonymousTimeoutMs', () => {
  it('gets 09 408 naming the limit, and is closed', async () => {
    const c = await env.connect();
    // The first connection of a new server may wait for its session host thread to start.
    const frame = await c.next(10_000);
    expectError(frame, 408);
    expect(frame.data).toContain('anonymousTimeoutMs');
    await c.waitClosed();
  });

  it('is not idle while it sends frames; once it stops, it gets 408', async () => {
    const asker = await env.user();
    const c = await env.connect();
    // A 19 every 100 ms for three times the limit: answered each time, never timed out.
    for (let i = 0; i < (3 * ANONYMOUS_MS) / 100; i++) {
      await expectStillServed(c, asker.number);
      await sleep(100);
    }
    expectError(await c.next(3_000), 408);
    await c.waitClosed();
  });

  it('does not apply to sessions: a push and a poll session idle as long as a timed-out anonymous one stay open and served', async () => {
    const [alice, bob] = await env.users(2);
    const push = await env.session(alice);
    const poll = await env.session(bob, false);
    const anonymous = await env.connect();
    expectError(await anonymous.next(3_000), 408);
    await anonymous.waitClosed();
    expect(await push.silentFor(ANONYMOUS_MS)).toBe(true);
    expect(await poll.silentFor(0)).toBe(true);
    await expectStillServed(push, alice.number);
    await expectStillServed(poll, bob.number);
  });
});

describe('HTTP time limits (httpHeadersTimeoutMs, httpRequestTimeoutMs, httpKeepAliveTimeoutMs)', () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const s of sockets.splice(0)) s.destroy();
  });

  /** A raw connection to the HTTP port that collects what it gets until the server closes it. */
  async function raw(): Promise<{ socket: Socket; closed: Promise<string> }> {
    const socket = connect(env.t.server.httpAddress!.port, '127.0.0.1');
    sockets.push(socket);
    socket.on('error', () => {});
    await once(socket, 'connect');
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(text)));
    return { socket, closed };
  }

  /** Writes `text` one byte every `everyMs` until the socket closes. */
  async function trickle(socket: Socket, text: string, everyMs: number): Promise<void> {
    for (const ch of text) {
      if (socket.destroyed || !socket.writable) return;
      socket.write(ch);
      await sleep(everyMs);
    }
  }

  /** Resolves with what the server sent, or fails if it did not close the connection within `ms`. */
  function closedWithin(closed: Promise<string>, ms: number): Promise<string> {
    return Promise.race([
      closed,
      sleep(ms).then(() => Promise.reject(new Error(`still open after ${ms} ms`))),
    ]);
  }

  it('headers sent one byte at a time are cut off: 408 and close', async () => {
    const { socket, closed } = await raw();
    void trickle(
      socket,
      `GET /healthz HTTP/1.1\r\nhost: test\r\nx-slow: ${'a'.repeat(200)}\r\n\r\n`,
      20,
    );
    const got = await closedWithin(closed, 3_000);
    expect(got).toMatch(/^HTTP\/1\.1 408/);
  });

  it('a body sent one byte at a time is cut off: 408 and close', async () => {
    const { socket, closed } = await raw();
    const body = JSON.stringify({ name: 'x'.repeat(60) });
    socket.write(
      `POST /v1/users HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    void trickle(socket, body, 40);
    const got = await closedWithin(closed, 3_000);
    expect(got).toMatch(/^HTTP\/1\.1 408/);
  });

  it('an idle keep-alive connection is closed after its answer', async () => {
    const { socket, closed } = await raw();
    socket.write('GET /healthz HTTP/1.1\r\nhost: test\r\n\r\n');
    const got = await closedWithin(closed, 3_000);
    expect(got).toMatch(/^HTTP\/1\.1 200/);
  });
});
