/**
 * DESIGN.md §Thread models, thread per client (sessionsPerThread 1): a new
 * connection gets a host that already runs, or none at once (the listener
 * answers `09 503`); it never waits for a thread to start. A host whose
 * client left serves the next client; idle hosts beyond the warm spares
 * retire, and piscina gets their threads back. Real session-host threads
 * (from dist/), with a stand-in for the broker thread: no request reaches it.
 */
import type { Worker } from 'node:worker_threads';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveServerOptions } from '../../src/server/config.js';
import { type HostHandle, HostPool, WARM_SPARES } from '../../src/server/main-thread/host-pool.js';
import { eventually } from '../helpers/v1.js';

const SPARE_IDLE_MS = 300;
const brokerStandIn = { postMessage() {} } as unknown as Worker;

/** Hosts that run: each answers a metrics question (one still starting does not), and retired ones are summed in one more part. */
async function runningHosts(pool: HostPool): Promise<number> {
  const { parts } = await pool.collectMetrics(500);
  return parts.length - 1;
}

describe(`a thread-per-client host pool (${WARM_SPARES} warm spares)`, () => {
  let pool: HostPool | undefined;
  afterEach(async () => {
    await pool?.shutdown(3_000);
    await pool?.destroy();
    pool = undefined;
  });

  const start = async (threads: number): Promise<HostPool> => {
    const options = resolveServerOptions({ sessionsPerThread: 1, threads, logLevel: 'silent' });
    pool = new HostPool(
      options,
      brokerStandIn,
      () => {},
      () => {},
      pino({ level: 'silent' }),
      () => {},
      undefined,
      SPARE_IDLE_MS,
    );
    await pool.start();
    return pool;
  };

  it(`is ready when it starts: ${WARM_SPARES} clients at once get a running host each, the next one none at once (503) though threads are left; a host whose client left is the next client's`, async () => {
    const p = await start(64);
    const taken = Array.from({ length: WARM_SPARES }, () => p.acquire());
    expect(taken.every((host) => host !== undefined)).toBe(true);
    expect(new Set(taken.map((host) => host!.id)).size).toBe(WARM_SPARES);
    // Their replacements are starting threads now: no one is handed a host that does not run yet.
    expect(p.acquire()?.id).toBeUndefined();
    // Once the replacements run, new clients are served again.
    let next: HostHandle | undefined;
    await eventually(
      () => (next = p.acquire()) !== undefined,
      10_000,
      'a replacement spare running',
    );
    expect(taken.map((host) => host!.id)).not.toContain(next!.id);
    // A client leaves: its host, running, is the next client's.
    p.release(taken[0]!);
    expect(p.acquire()!.id).toBe(taken[0]!.id);
  });

  it('never holds more hosts than threads: with all of them taken, the next client gets none', async () => {
    const p = await start(WARM_SPARES + 2);
    const taken: HostHandle[] = [];
    await eventually(
      () => {
        const host = p.acquire();
        if (host) taken.push(host);
        return taken.length === WARM_SPARES + 2;
      },
      10_000,
      'every thread taken',
    );
    expect(await runningHosts(p)).toBe(WARM_SPARES + 2);
    expect(p.acquire()?.id).toBeUndefined();
    // One leaves: its host serves the next client.
    p.release(taken[0]!);
    expect(p.acquire()!.id).toBe(taken[0]!.id);
  });

  it(`retires the idle hosts beyond the ${WARM_SPARES} spares once they have been idle a while, and their tasks end`, async () => {
    const p = await start(64);
    const busy = WARM_SPARES + 3;
    const taken: HostHandle[] = [];
    await eventually(
      () => {
        const host = p.acquire();
        if (host) taken.push(host);
        return taken.length === busy;
      },
      10_000,
      `${busy} clients served`,
    );
    for (const host of taken) p.release(host);
    await eventually(
      () => taken.filter((host) => host.retiring).length >= busy - WARM_SPARES,
      5_000,
      'the hosts beyond the spares retiring',
    );
    // Their tasks end (piscina has the threads back), and the spares left still serve.
    await Promise.all(taken.filter((host) => host.retiring).map((host) => host.drained));
    await eventually(
      async () => (await runningHosts(p)) === WARM_SPARES,
      5_000,
      `back to ${WARM_SPARES} hosts`,
    );
    expect(p.acquire()?.id).toBeDefined();
  });
});
