/**
 * The same protocol in every threading mode: a dedicated session thread per
 * client (sessionsPerThread 1), sessions pooled on a few threads (the
 * default), and the sessions on the broker thread (threads 0). docs/protocol.md §Codes: 503 when the server is overloaded.
 */
import { describe, expect, it } from 'vitest';
import { NOBODY } from '../../../src/protocol/index.js';
import { startTestServer } from '../../helpers/server.js';
import {
  ack,
  eventually,
  expectErrorAndClose,
  message,
  receive,
  sendStored,
  T0,
  take,
  useServer,
} from '../../helpers/v1.js';
import { WireClient } from '../../helpers/wire-client.js';

describe.each([
  [
    'a dedicated thread per client (sessionsPerThread 1, threads 64)',
    { sessionsPerThread: 1, threads: 64 },
  ],
  ['pooled sessions (the default)', {}],
  ['the sessions on the broker thread (threads 0)', { threads: 0 }],
])('with %s', (_mode, options) => {
  const env = useServer(options);

  it('registers (01 -> 02) and opens a session (04 -> 04 ok)', async () => {
    const c = await env.connect();
    c.send({ code: '01', data: 'thread test' });
    const registered = await c.next();
    expect(registered.code).toBe('02');
    c.send({ code: '04', src: registered.dst, flag: true, data: registered.data });
    expect(await c.next()).toMatchObject({ code: '04', data: 'ok' });
  });

  it('pushes pending messages on open and new ones as they are stored, in order, with a receipt on 08', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    await sendStored(a, message(alice.number, bob.number, 'before', { ts: T0, flag: true }));
    const b = await env.session(bob);
    expect((await receive(b, 1))[0]).toMatchObject({
      src: alice.number,
      dst: bob.number,
      data: 'before',
      flag: true,
    });
    for (let i = 0; i < 50; i++) a.send(message(alice.number, bob.number, `live ${i}`));
    expect((await take(a, 50)).every((f) => f.code === '07')).toBe(true);
    expect((await receive(b, 50, { ackAs: bob.number, base: 1 })).map((f) => f.data)).toEqual(
      Array.from({ length: 50 }, (_, i) => `live ${i}`),
    );
    expect((await receive(a, 1))[0]).toMatchObject({
      src: bob.number,
      dst: alice.number,
      data: `recebida ${T0}`,
    });
  });

  it('answers a poll session only when asked: 06 frames, then 03 with the count; 08 deletes', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    for (let i = 0; i < 3; i++) await sendStored(a, message(alice.number, bob.number, `p${i}`));
    const p = await env.session(bob, false);
    expect(await p.silentFor(100)).toBe(true);
    p.send({ code: '03', src: bob.number });
    expect((await receive(p, 3)).map((f) => f.data)).toEqual(['p0', 'p1', 'p2']);
    expect(await p.next()).toMatchObject({ code: '03', data: '3' });
    ack(p, bob.number, 3);
    p.send({ code: '03', src: bob.number });
    expect(await p.next()).toMatchObject({ code: '03', data: '0' });
  });

  it('replaces an older push session of the same number (09 409, closed); the newer gets what is pending', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const old = await env.session(bob);
    await sendStored(a, message(alice.number, bob.number, 'unacked'));
    await receive(old, 1);
    const newer = await env.session(bob);
    await expectErrorAndClose(old, 409);
    expect((await receive(newer, 1))[0]!.data).toBe('unacked');
  });

  it('answers a malformed frame 09 400 and closes, and keeps serving others', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const bad = await env.connect();
    bad.sendRaw(Buffer.alloc(256, 0x41));
    await expectErrorAndClose(bad, 400);
    await sendStored(a, message(alice.number, bob.number, 'fine'));
  });
});

describe('docs/protocol.md §Codes 503: a dedicated-thread server with all its threads taken (threads 4, sessionsPerThread 1)', () => {
  const env = useServer({ sessionsPerThread: 1, threads: 4 });

  it('answers a 5th connection 09 503 and closes it, while the 4 others are served; once one leaves, a new one is served', async () => {
    const [alice, bob] = await env.users(2);
    const a = await env.session(alice);
    const b = await env.session(bob);
    const idle = await Promise.all([env.connect(), env.connect()]);
    // Let the 4 connections be assigned before the 5th arrives.
    await eventually(() => env.t.server.sessions === 4, 3_000, '4 connections held');

    const fifth = await env.connect();
    await expectErrorAndClose(fifth, 503, { src: NOBODY, dst: NOBODY, ts: 0 });

    await sendStored(a, message(alice.number, bob.number, 'still served'));
    expect((await receive(b, 1))[0]!.data).toBe('still served');

    // One leaves: its thread is freed, and a new client gets a session again.
    idle[0]!.destroy();
    await eventually(
      async () => {
        const c = await WireClient.connect(env.port);
        c.send({ code: '19', dst: alice.number });
        const answer = await c.next().catch(() => undefined);
        c.destroy();
        return answer?.code === '20';
      },
      5_000,
      'a new connection served after one left',
    );
  });
});

describe('docs/protocol.md §Codes 503: a client refused for lack of a thread after it already wrote its first frame', () => {
  it('is closed too, so that server.close() does not wait for it', async () => {
    const t = await startTestServer({ sessionsPerThread: 1, threads: 1 });
    const holder = await WireClient.connect(t.port);
    try {
      await eventually(() => t.server.sessions === 1, 3_000, 'the only thread taken');
      // Real clients write their 01 or 04 right after connecting, before any answer.
      const refused = await WireClient.connect(t.port);
      refused.send({ code: '01', data: 'too late' });
      await expectErrorAndClose(refused, 503);
    } finally {
      holder.destroy();
    }
    const closed = t.stop().then(() => 'closed');
    const timeout = new Promise((r) =>
      setTimeout(() => r('still waiting after 3 s'), 3_000).unref(),
    );
    expect(await Promise.race([closed, timeout])).toBe('closed');
  });
});
