/**
 * docs/protocol.md §WebSocket: what is not frames is `09 400` and a close;
 * the limits of §Limits hold for WebSocket connections as for TCP ones (the
 * anonymous time limit, flow control, the connection caps); the upgrade's
 * own refusals (path, Origin, message size).
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, FRAME_SIZE, NOBODY } from '../../../src/protocol/index.js';
import { DEFAULT_OPTIONS } from '../../../src/server/config.js';
import { FRAMES_PER_READ } from '../../../src/server/main-thread/connection.js';
import { expectError, expectErrorAndClose, expectStillServed } from '../../helpers/v1.js';
import { useWsServer, WsClient } from '../../helpers/ws-client.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('docs/protocol.md §WebSocket: messages that are not whole frames', () => {
  const env = useWsServer();

  it('a text message is 09 400 and a close', async () => {
    const c = await env.wsConnect();
    c.sendText('01');
    await expectErrorAndClose(c, 400, { src: NOBODY, dst: NOBODY, ts: 0 });
    expect(c.frames).toHaveLength(0);
  });

  it.each([
    ['a partial frame', 100],
    ['a frame and a half', FRAME_SIZE + FRAME_SIZE / 2],
    ['an empty message', 0],
  ])('%s is 09 400 and a close', async (_what, length) => {
    const c = await env.wsConnect();
    c.sendRaw(Buffer.alloc(length, '0'));
    const refused = await c.next();
    expectError(refused, 400);
    expect(refused.data).toContain(`${length} bytes`);
    await c.waitClosed();
  });

  it('the 09 400 comes after the answers of the frames before it, and nothing after it is handled', async () => {
    const [alice, bob] = await env.users(2);
    const c = await env.wsConnect();
    c.sendRaw(Buffer.concat([1, 2, 3].map(() => encodeFrame({ code: '19', dst: alice!.number }))));
    c.sendRaw(Buffer.alloc(10));
    c.send({ code: '19', dst: bob!.number });
    for (let i = 0; i < 3; i++)
      expect(await c.next()).toMatchObject({ code: '20', dst: alice!.number, data: '1' });
    expectError(await c.next(), 400);
    await c.waitClosed();
    expect(c.frames, 'the 19 after the bad message was not answered').toHaveLength(0);
  });

  it('a message over --ws-max-payload closes the WebSocket with 1009 (message too big)', async () => {
    const c = await env.wsConnect();
    c.sendRaw(Buffer.alloc(DEFAULT_OPTIONS.wsMaxPayload + FRAME_SIZE));
    await c.waitClosed();
    expect(c.closeCode).toBe(1009);
  });

  it('a path other than /v1/ws is refused 404 at the upgrade', async () => {
    const url = env.wsUrl.replace('/v1/ws', '/v1/other');
    await expect(WsClient.connect(url)).rejects.toMatchObject({ status: 404 });
  });
});

describe('docs/protocol.md §Limits over WebSocket: the anonymous time limit', () => {
  const env = useWsServer({ anonymousTimeoutMs: 200 });

  it('an anonymous WebSocket idle past the limit gets 09 408 and is closed; a session is not', async () => {
    const alice = await env.user();
    const anonymous = await env.wsConnect();
    const session = await env.wsSession(alice);
    await expectErrorAndClose(anonymous, 408);
    expect(session.closed).toBe(false);
  });
});

describe('DESIGN.md §Time limits: the HTTP time limits end at the upgrade', () => {
  const env = useWsServer({
    httpHeadersTimeoutMs: 100,
    httpRequestTimeoutMs: 200,
    httpKeepAliveTimeoutMs: 100,
  });

  it('a WebSocket session idle well past every HTTP limit is still served (sessions are never closed for being idle)', async () => {
    const alice = await env.user();
    const c = await env.wsSession(alice);
    await sleep(1_500);
    await expectStillServed(c, alice.number);
  });
});

describe('docs/protocol.md §Limits over WebSocket: flow control', () => {
  const env = useWsServer({ rateLimit: 0, maxPendingPerRecipient: 0 });

  it('a client that sends 19s and never reads is read no faster than it is served', async () => {
    const asked = await env.user();
    const flooder = await env.wsConnect();
    flooder.ws.pause(); // never reads: the answers back up into the server's socket
    const ask = encodeFrame({ code: '19', dst: asked.number });
    // Whole-frame messages of 64 frames each, for a second, as fast as the socket takes them.
    const message = Buffer.concat(Array.from({ length: 64 }, () => ask));
    const deadline = Date.now() + 1_000;
    let maxInflight = 0;
    let paused = false;
    while (Date.now() < deadline) {
      if (flooder.ws.bufferedAmount < 1024 * 1024) flooder.sendRaw(message);
      await sleep(2);
      const stats = env.t.server.flowStats().v1;
      maxInflight = Math.max(maxInflight, stats.maxInflightFrames);
      paused ||= stats.pausedConnections > 0;
    }
    const bound = DEFAULT_OPTIONS.maxInflight + FRAMES_PER_READ;
    expect(maxInflight, 'frames in flight on the connection, sampled').toBeLessThanOrEqual(bound);
    const { peakInflightFrames } = env.t.server.flowStats().v1;
    expect(peakInflightFrames).toBeLessThanOrEqual(bound);
    // The flood did press against the budget: some message took it over maxInflight.
    expect(peakInflightFrames).toBeGreaterThan(DEFAULT_OPTIONS.maxInflight);
    expect(paused, 'the WebSocket was paused at some point').toBe(true);
    // Another client is served meanwhile.
    const other = await env.wsConnect();
    other.send({ code: '19', dst: asked.number });
    expect(await other.next()).toMatchObject({ code: '20', data: '1' });
  });
});

describe('docs/protocol.md §Limits over WebSocket: connection caps', () => {
  // 32 in all: a reserve of 2 for HTTP alone, so v1 and WebSockets together stop at 30.
  const env = useWsServer({ maxConnections: 32 });

  it('a WebSocket counts as a v1 connection: it may not take the HTTP reserve (503 at the upgrade)', async () => {
    const open: { destroy(): void }[] = [];
    try {
      for (let i = 0; i < 30; i++) open.push(await env.connect());
      await expect(WsClient.connect(env.wsUrl)).rejects.toMatchObject({ status: 503 });
      open.pop()!.destroy();
      await sleep(100);
      open.push(await env.wsConnect());
    } finally {
      for (const c of open) c.destroy();
    }
  });
});

describe('--ws-origins: the Origin of a browser page', () => {
  const env = useWsServer({ wsOrigins: ['https://chat.example'] });

  it('an Origin in the list opens; another is refused 403 at the upgrade; none (not a browser) opens', async () => {
    const allowed = await env.wsConnect({ origin: 'https://chat.example' });
    allowed.send({ code: '19', dst: NOBODY });
    expect((await allowed.next()).code).toBe('20');
    await expect(
      WsClient.connect(env.wsUrl, { origin: 'https://evil.example' }),
    ).rejects.toMatchObject({ status: 403 });
    const noOrigin = await env.wsConnect();
    noOrigin.send({ code: '19', dst: NOBODY });
    expect((await noOrigin.next()).code).toBe('20');
  });
});
