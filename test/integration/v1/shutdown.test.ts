/**
 * Graceful shutdown (docs/protocol.md §Codes 503: the server is shutting down) and
 * §Delivery guarantees: a 07 is a promise that survives the server process.
 */
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../../src/errors.js';
import { encodeFrame } from '../../../src/protocol/index.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { expectError, message, receive, sendStored, T0 } from '../../helpers/v1.js';
import { type Identity, openSession, register, WireClient } from '../../helpers/wire-client.js';

const servers: TestServer[] = [];
const clients: WireClient[] = [];
/** Folders of servers closed by a test (close() keeps the folder; stop() removes it). */
const dirs: string[] = [];

async function start(options: { dbPath?: string } = {}): Promise<TestServer> {
  const t = await startTestServer(options);
  servers.push(t);
  return t;
}

function keep(c: WireClient): WireClient {
  clients.push(c);
  return c;
}

afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((t) => t.stop()));
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** Reads frames until the server closes the connection; returns them. */
async function untilClosed(c: WireClient, timeoutMs = 3_000): Promise<typeof c.frames> {
  await c.waitClosed(timeoutMs);
  return c.frames.splice(0);
}

describe('graceful shutdown: server.close()', () => {
  it('sends every open connection 09 503 and closes it: push, poll and anonymous alike', async () => {
    const t = await start();
    dirs.push(t.dir);
    const [alice, bob] = [await register(t.port), await register(t.port)];
    const push = keep(await openSession(t.port, alice, true));
    const poll = keep(await openSession(t.port, bob, false));
    const anonymous = keep(await WireClient.connect(t.port));
    // Make sure the anonymous connection is assigned before closing.
    anonymous.send({ code: '19', dst: alice.number });
    expect((await anonymous.next()).code).toBe('20');

    await t.server.close();
    servers.splice(servers.indexOf(t), 1);
    for (const c of [push, poll, anonymous]) {
      const frames = await untilClosed(c);
      expect(frames).toHaveLength(1);
      expectError(frames[0]!, 503);
    }
  });

  it('finishes promptly even while clients keep writing during the shutdown', async () => {
    const t = await start();
    dirs.push(t.dir);
    const alice = await register(t.port);
    const sessions = await Promise.all(
      Array.from({ length: 5 }, async () => keep(await openSession(t.port, alice, false))),
    );
    // Every turn of the event loop, each client writes another frame, so
    // that bytes keep arriving after the server stopped reading.
    let writing = true;
    const pump = () => {
      if (!writing) return;
      for (const s of sessions)
        if (!s.closed) s.send({ code: '19', src: alice.number, dst: alice.number });
      setImmediate(pump);
    };
    pump();
    const started = Date.now();
    await t.server.close();
    writing = false;
    servers.splice(servers.indexOf(t), 1);
    // Not a speed check: a close that had to wait for the forced destroy of
    // sockets that never closed takes at least closeAll's 2,000 ms.
    expect(Date.now() - started).toBeLessThan(1_900);
    for (const s of sessions) {
      await s.waitClosed();
      expect(s.frames.filter((f) => f.code === '09').map((f) => f.data.slice(0, 3))).toEqual([
        '503',
      ]);
    }
  });

  it('refuses new connections once closed', async () => {
    const t = await start();
    dirs.push(t.dir);
    await t.server.close();
    servers.splice(servers.indexOf(t), 1);
    await expect(WireClient.connect(t.port)).rejects.toThrow();
  });

  it('stats() once closed rejects as unavailable instead of waiting forever for the broker', async () => {
    const t = await start();
    dirs.push(t.dir);
    await t.server.stats();
    await t.server.close();
    servers.splice(servers.indexOf(t), 1);
    await expect(t.server.stats()).rejects.toBeInstanceOf(UnavailableError);
  });
});

describe('docs/protocol.md §Delivery guarantees: a 07 survives a restart of the server on the same database', () => {
  async function restart(t: TestServer): Promise<TestServer> {
    await t.server.close();
    servers.splice(servers.indexOf(t), 1);
    dirs.push(t.dir);
    return start({ dbPath: t.dbPath });
  }

  it('delivers after a restart a message whose 07 was received before close()', async () => {
    const t = await start();
    const alice = await register(t.port);
    const bob = await register(t.port);
    const a = keep(await openSession(t.port, alice));
    await sendStored(a, message(alice.number, bob.number, 'durable', { ts: T0 + 1, flag: true }));
    const t2 = await restart(t);
    const b = keep(await openSession(t2.port, bob));
    expect(await receive(b, 1, { ackAs: bob.number })).toEqual([
      { code: '06', src: alice.number, dst: bob.number, ts: T0 + 1, flag: true, data: 'durable' },
    ]);
    // The sender's token and the receipt survive too.
    const a2 = keep(await openSession(t2.port, alice));
    expect((await receive(a2, 1))[0]).toMatchObject({
      src: bob.number,
      data: `recebida ${T0 + 1}`,
    });
  });

  it('delivers after a restart every message of a burst that got its 07, even with close() called mid-burst, in order', async () => {
    const t = await start();
    const alice = await register(t.port);
    const bob = await register(t.port);
    const a = keep(await openSession(t.port, alice));
    // Keep writing, 20 frames every 2 ms, until the server closes the connection.
    let sent = 0;
    const writer = setInterval(() => {
      if (a.closed) return;
      a.sendRaw(
        Buffer.concat(
          Array.from({ length: 20 }, () =>
            encodeFrame(message(alice.number, bob.number, `b${sent}`, { ts: T0 + sent++ })),
          ),
        ),
      );
    }, 2);
    // Close as soon as the first 07 is in: more of the burst is under way.
    const first = await a.next();
    expect(first.code).toBe('07');
    const closing = restart(t);
    const rest = await untilClosed(a, 8_000);
    clearInterval(writer);
    const t2 = await closing;
    const stored = [first, ...rest.filter((f) => f.code === '07')];
    expect(rest.filter((f) => f.code === '09').map((f) => f.data.slice(0, 3))).toEqual(['503']);
    const confirmed = stored.map((f) => f.ts - T0);

    // Every confirmed message is delivered, in the order sent: what was
    // stored is a prefix of the burst. (Stored rows whose 07 the shutdown cut
    // off may follow: at least once allows it.)
    const b = keep(await openSession(t2.port, bob));
    const got = await receive(b, confirmed.length, { ackAs: bob.number, every: 50 });
    expect(got.map((f) => f.ts - T0)).toEqual(confirmed);
    expect(confirmed).toEqual(Array.from({ length: confirmed.length }, (_, i) => i));
  });

  it('delivers after a restart a message that was pushed but not acknowledged when the server closed', async () => {
    const t = await start();
    const alice = await register(t.port);
    const bob = await register(t.port);
    const a = keep(await openSession(t.port, alice));
    const b = keep(await openSession(t.port, bob));
    await sendStored(a, message(alice.number, bob.number, 'in flight'));
    await receive(b, 1);
    const t2 = await restart(t);
    const b2 = keep(await openSession(t2.port, bob));
    expect((await receive(b2, 1))[0]!.data).toBe('in flight');
  });

  it('keeps users and groups across a restart', async () => {
    const t = await start();
    const alice: Identity = await register(t.port);
    const bob: Identity = await register(t.port);
    const a = keep(await openSession(t.port, alice));
    a.send({ code: '10', src: alice.number, ts: T0, data: bob.number });
    const group = (await a.next()).dst;
    const t2 = await restart(t);
    const a2 = keep(await openSession(t2.port, alice));
    a2.send({ code: '19', src: alice.number, dst: group });
    expect(await a2.next()).toMatchObject({ code: '20', data: '1' });
    await sendStored(a2, message(alice.number, group, 'after restart'));
    const b = keep(await openSession(t2.port, bob));
    expect((await receive(b, 2)).map((f) => f.data)).toEqual(['grupo criado', 'after restart']);
  });
});
