/**
 * docs/protocol.md §WebSocket: a WebSocket at /v1/ws is a version 1
 * connection in every respect. The same frames as over TCP, in binary
 * messages: registration, sessions, the path of a message and its receipts,
 * polling, and takeover between the two transports.
 */
import { describe, expect, it } from 'vitest';
import { encodeFrame, NOBODY } from '../../../src/protocol/index.js';
import { startTestServer } from '../../helpers/server.js';
import {
  ack,
  expectErrorAndClose,
  expectStillServed,
  message,
  receive,
  sendStored,
  T0,
} from '../../helpers/v1.js';
import { register } from '../../helpers/wire-client.js';
import { useWsServer, WsClient } from '../../helpers/ws-client.js';

const POLL_BATCH = 3;
const env = useWsServer({ pollBatch: POLL_BATCH });

describe('docs/protocol.md §WebSocket: registration and sessions', () => {
  it('registers over a WebSocket (01 -> 02), and the number opens a session over TCP', async () => {
    const c = await env.wsConnect();
    c.send({ code: '01', data: 'web user' });
    const registered = await c.next();
    expect(registered).toMatchObject({ code: '02', src: NOBODY });
    expect(registered.dst).toMatch(/^[0-9]{13}$/);
    await env.session({ number: registered.dst, token: registered.data });
  });

  it('answers a 05 before 04 with 09 401 and closes', async () => {
    const [alice, bob] = await env.users(2);
    const c = await env.wsConnect();
    c.send(message(alice!.number, bob!.number, 'too early'));
    await expectErrorAndClose(c, 401, { src: alice!.number, dst: bob!.number, ts: T0 });
  });

  it('answers a 04 with a wrong token with 09 401 and closes', async () => {
    const alice = await env.user();
    const c = await env.wsConnect();
    c.send({ code: '04', src: alice.number, flag: true, data: `${alice.token}x` });
    await expectErrorAndClose(c, 401, { src: alice.number });
  });

  it('answers 19 on an anonymous WebSocket (20 1 for a user, 20 0 otherwise)', async () => {
    const alice = await env.user();
    const c = await env.wsConnect();
    c.send({ code: '19', dst: alice.number });
    expect(await c.next()).toMatchObject({ code: '20', dst: alice.number, data: '1' });
    c.send({ code: '19', dst: '9999999999999' });
    expect(await c.next()).toMatchObject({ code: '20', data: '0' });
  });
});

describe('docs/protocol.md §WebSocket: the path of a message', () => {
  it('05 -> 07 to a WebSocket sender, 06 pushed to a WebSocket recipient, its 08 deletes it and sends the receipt', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.wsSession(alice!);
    const b = await env.wsSession(bob!);
    const stored = await sendStored(
      a,
      message(alice!.number, bob!.number, 'olá pela web', { flag: true }),
    );
    expect(stored.data).toMatch(/^[0-9]+$/);
    const [delivered] = await receive(b, 1);
    expect(delivered).toMatchObject({
      src: alice!.number,
      dst: bob!.number,
      ts: T0,
      flag: true,
      data: 'olá pela web',
    });
    ack(b, bob!.number, 1);
    // docs/protocol.md §Receipts: two checks once bob's 08 covers it.
    const [receipt] = await receive(a, 1);
    expect(receipt).toMatchObject({
      src: bob!.number,
      dst: alice!.number,
      flag: false,
      data: `recebida ${T0}`,
    });
    // Acknowledged: a new session of bob's gets nothing again.
    b.destroy();
    const again = await env.wsSession(bob!);
    expect(await again.silentFor(150)).toBe(true);
  });

  it('a TCP sender reaches a WebSocket recipient and back', async () => {
    const [tcpUser, webUser] = await env.users(2);
    const t = await env.session(tcpUser!);
    const w = await env.wsSession(webUser!);
    await sendStored(t, message(tcpUser!.number, webUser!.number, 'from tcp'));
    expect((await receive(w, 1, { ackAs: webUser!.number }))[0]!.data).toBe('from tcp');
    await sendStored(w, message(webUser!.number, tcpUser!.number, 'from the web'));
    expect((await receive(t, 1, { ackAs: tcpUser!.number }))[0]!.data).toBe('from the web');
  });

  it('frames pipelined in one WebSocket message are each answered, in order', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.wsSession(alice!);
    const frames = [0, 1, 2, 3].map((i) =>
      message(alice!.number, bob!.number, `m${i}`, { ts: T0 + i }),
    );
    a.sendRaw(Buffer.concat(frames.map((f) => encodeFrame(f))));
    for (let i = 0; i < frames.length; i++)
      expect(await a.next()).toMatchObject({ code: '07', ts: T0 + i });
    const b = await env.wsSession(bob!);
    const delivered = await receive(b, 4, { ackAs: bob!.number });
    expect(delivered.map((f) => f.data)).toEqual(['m0', 'm1', 'm2', 'm3']);
  });

  it('answers 403 for a src that is not the session number and stays open', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.wsSession(alice!);
    a.send(message(bob!.number, alice!.number, 'as bob'));
    const refused = await a.next();
    expect(refused.code).toBe('09');
    expect(refused.data).toMatch(/^403 /);
    await expectStillServed(a, alice!.number);
  });
});

describe('docs/protocol.md §WebSocket: polling', () => {
  it('a poll session over a WebSocket gets nothing unasked, then a batch per 03', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice!);
    for (let i = 0; i < POLL_BATCH + 1; i++)
      await sendStored(a, message(alice!.number, bob!.number, `p${i}`, { ts: T0 + i }));
    const b = await env.wsSession(bob!, false);
    expect(await b.silentFor(150)).toBe(true);
    b.send({ code: '03', src: bob!.number });
    const first = await receive(b, POLL_BATCH);
    expect(await b.next()).toMatchObject({ code: '03', data: String(POLL_BATCH) });
    ack(b, bob!.number, POLL_BATCH);
    b.send({ code: '03', src: bob!.number });
    const second = await receive(b, 1, { base: POLL_BATCH });
    expect(await b.next()).toMatchObject({ code: '03', data: '1' });
    expect([...first, ...second].map((f) => f.data)).toEqual(['p0', 'p1', 'p2', 'p3']);
  });
});

describe('docs/protocol.md §WebSocket: takeover between TCP and WebSocket sessions', () => {
  it('a WebSocket push session replaces a TCP one of the same number (09 409 to the TCP one)', async () => {
    const alice = await env.user();
    const tcp = await env.session(alice);
    await env.wsSession(alice);
    await expectErrorAndClose(tcp, 409);
  });

  it('a TCP push session replaces a WebSocket one of the same number (09 409 to the WebSocket one)', async () => {
    const alice = await env.user();
    const web = await env.wsSession(alice);
    await env.session(alice);
    await expectErrorAndClose(web, 409);
    expect(web.closeCode, 'the WebSocket ends with a normal close after its 09').toBe(1000);
  });

  it('the new session gets what the replaced one had not acknowledged', async () => {
    const [alice, bob] = await env.users(2);
    const web = await env.wsSession(bob!);
    const a = await env.session(alice!);
    await sendStored(a, message(alice!.number, bob!.number, 'unacked'));
    await receive(web, 1);
    const tcp = await env.session(bob!);
    await expectErrorAndClose(web, 409);
    expect((await receive(tcp, 1))[0]!.data).toBe('unacked');
  });
});

describe('docs/protocol.md §WebSocket: shutdown', () => {
  it('a WebSocket session gets 09 503 and a close when the server stops, as a TCP one does', async () => {
    const t = await startTestServer({ httpPort: 0 });
    try {
      const alice = await register(t.port);
      const web = await WsClient.connect(`ws://127.0.0.1:${t.server.httpAddress!.port}/v1/ws`);
      web.send({ code: '04', src: alice.number, flag: true, data: alice.token });
      expect(await web.next()).toMatchObject({ code: '04', data: 'ok' });
      const stopping = t.stop();
      await expectErrorAndClose(web, 503);
      await stopping;
    } finally {
      await t.stop();
    }
  });
});
