/**
 * The seed workload (issue #10 §4): the legacy listener driven the way the
 * original client drove the original Python server. `clients` loops (16,
 * the original client's threads) in a process of their own
 * (bench/seed-client.ts), one TCP connection per request.
 *
 * Per legacy pace (--legacy-pace-ms; a fresh server each):
 * 1. sends: `users` legacy users registered with legacy `01`, the first half
 *    sending to the second half (sender i to recipient i, round robin); each
 *    loop connects, writes one `05`, shuts down its writing side and waits for
 *    the server's close, for durationMs. The server's stored-rows counter
 *    over the phase must equal the sends counted.
 * 2. polls: the loops poll the recipients (`03` + number, one connection per
 *    poll, read until the close) until every one is answered with a bare `06`
 *    or pollMs has passed. Rows drained per second; the server's
 *    deleted-rows counter must equal the rows read. The listener writes each
 *    row on its own and waits legacyPaceMs before the next, so one connection
 *    drains at most 1000 / legacyPaceMs rows/s: `clients` of them bound the
 *    drain at clients × 1000 / legacyPaceMs.
 */
import { loadavg } from 'node:os';
import {
  type LatencySummary,
  SeedClient,
  ServerHandle,
  type ServerLoad,
  serverLoad,
  sleep,
  summarise,
} from './harness.js';
import type { SeedPolls } from './ipc.js';
import { cpuBetween, readProcCpu, type ThreadShare } from './proc-cpu.js';
import type { Context } from './scenarios.js';

export interface SeedParams {
  /** Legacy users registered; the first half send, the second half receive. */
  users: number;
  /** Concurrent client loops (the original client's 16 threads). */
  clients: number;
  /** Length of the sends phase. */
  durationMs: number;
  /** Longest the polls phase may run. */
  pollMs: number;
  /** --legacy-pace-ms of each run's server (30 is the default). */
  paces: number[];
}

/**
 * The original Python server's sends/s on the 2-vCPU reference machine with
 * the same 16-client shape (issue #10 §4); the target is 20 times it.
 */
export const ORIGINAL_SENDS_PER_SEC = 574;
export const TARGET_RATIO = 20;

const round1 = (x: number) => Math.round(x * 10) / 10;

export interface SeedRun {
  legacyPaceMs: number;
  users: number;
  loadAvg: [number, number];
  sends: {
    /** Requests that ended with the server's close. */
    count: number;
    errors: number;
    elapsedMs: number;
    perSec: number;
    /** Connect to close, per request (ms). */
    latency: LatencySummary;
    /** Rows the server stored over the phase (its counter). */
    stored: number;
    /** stored === count: every send counted was stored, and nothing else. */
    verified: boolean;
    server: ServerLoad;
    /** The server's threads over the phase, busiest first ('main', js1 = the broker, js2 … the session hosts). */
    serverThreads: ThreadShare[] | undefined;
    /** The client process, % of one core. */
    clientCpuPercent: number | undefined;
  };
  /** The client's counts (SeedPolls, `polls` as `count`), and what the run made of them. */
  polls: Omit<SeedPolls, 'polls' | 'latency'> & {
    count: number;
    drainedPerSec: number;
    /** clients × 1000 / legacyPaceMs; undefined when unpaced. */
    paceBoundPerSec: number | undefined;
    /** Connect to close, per poll (ms). */
    latency: LatencySummary;
    /** Rows the server deleted over the phase (deleted once written). */
    deleted: number;
    /** deleted === rows and no malformed poll. */
    verified: boolean;
    server: ServerLoad;
    clientCpuPercent: number | undefined;
  };
}

export async function seed(ctx: Context) {
  const p = ctx.params.seed;
  const runs: SeedRun[] = [];
  const client = new SeedClient();
  ctx.watch([client]);
  try {
    for (const legacyPaceMs of p.paces) {
      ctx.phase(`seed (legacy pace ${legacyPaceMs} ms): starting a server`);
      const server = await ServerHandle.start({
        execArgv: ctx.serverExecArgv,
        ...ctx.serverOptions,
        legacyPort: 0,
        legacyPaceMs,
      });
      try {
        runs.push(await runPace(ctx, server, client, legacyPaceMs));
      } finally {
        await server.stop();
      }
    }
  } finally {
    ctx.watch([]);
    await client.close();
  }
  return { params: p, original: { sendsPerSec: ORIGINAL_SENDS_PER_SEC }, runs };
}

async function runPace(
  ctx: Context,
  server: ServerHandle,
  client: SeedClient,
  legacyPaceMs: number,
): Promise<SeedRun> {
  const p = ctx.params.seed;
  const port = server.legacyPort;
  if (port === undefined) throw new Error('the server process did not report a legacy port');
  const load0 = round1(loadavg()[0]!);
  const label = `seed (legacy pace ${legacyPaceMs} ms)`;

  ctx.phase(`${label}: registering ${p.users} legacy users`);
  const registered = await client.register(port, p.users, p.clients);
  if (registered.numbers.length !== p.users)
    throw new Error(
      `registered ${registered.numbers.length} of ${p.users} legacy users (${registered.errors} errors)`,
    );
  const half = Math.floor(p.users / 2);
  const senders = registered.numbers.slice(0, half);
  const recipients = registered.numbers.slice(half, 2 * half);
  await sleep(300);

  // js1 … jsN: the server's Workers in creation order (src/server/server.ts starts the broker's first, then the session hosts).
  const names = new Map((await server.jsThreads()).map((tid, i) => [tid, `js${i + 1}`]));

  ctx.phase(`${label}: ${p.clients} clients sending for ${p.durationMs / 1000} s`);
  const s0 = await server.sample();
  const c0 = readProcCpu(client.pid);
  const z0 = readProcCpu(server.pid);
  const sent = await client.sends(
    port,
    senders.map((src, i) => ({ src, dst: recipients[i]! })),
    p.clients,
    p.durationMs,
  );
  const z1 = readProcCpu(server.pid);
  const c1 = readProcCpu(client.pid);
  const s1 = await server.sample();
  const stored = s1.stats.messagesStored - s0.stats.messagesStored;
  await sleep(300);

  ctx.phase(`${label}: ${p.clients} clients polling ${recipients.length} recipients`);
  const s2 = await server.sample();
  const c2 = readProcCpu(client.pid);
  const polled = await client.polls(port, recipients, p.clients, p.pollMs);
  const c3 = readProcCpu(client.pid);
  const s3 = await server.sample();
  const deleted = s3.stats.messagesDelivered - s2.stats.messagesDelivered;
  const clientCpu = (a: typeof c0, b: typeof c0) =>
    client.pid === undefined ? undefined : cpuBetween(client.pid, a, b)?.cpuPercent;

  return {
    legacyPaceMs,
    users: p.users,
    loadAvg: [load0, round1(loadavg()[0]!)],
    sends: {
      count: sent.sends,
      errors: sent.errors,
      elapsedMs: sent.elapsedMs,
      perSec: Math.round(sent.sends / (sent.elapsedMs / 1000)),
      latency: summarise([sent.latency]),
      stored,
      verified: stored === sent.sends,
      server: serverLoad(s0, s1),
      serverThreads:
        server.pid === undefined ? undefined : cpuBetween(server.pid, z0, z1, names)?.threads,
      clientCpuPercent: clientCpu(c0, c1),
    },
    polls: {
      count: polled.polls,
      rows: polled.rows,
      empty: polled.empty,
      malformed: polled.malformed,
      errors: polled.errors,
      drainedAll: polled.drainedAll,
      elapsedMs: polled.elapsedMs,
      drainedPerSec: Math.round(polled.rows / (polled.elapsedMs / 1000)),
      paceBoundPerSec: legacyPaceMs > 0 ? Math.round((p.clients * 1000) / legacyPaceMs) : undefined,
      latency: summarise([polled.latency]),
      deleted,
      verified: deleted === polled.rows && polled.malformed === 0,
      server: serverLoad(s2, s3),
      clientCpuPercent: clientCpu(c2, c3),
    },
  };
}
