/**
 * The benchmark scenarios: the chat scenario first (bench/chat.ts, many
 * users each sending a little), then the batched scenarios of the first
 * benchmark (10 sender connections carrying all the load), then the seed
 * workload on the legacy listener (bench/seed.ts), then the chat shape on
 * SQLite, PostgreSQL and two nodes with Redis (bench/cluster.ts). Each starts its own server
 * process per configuration, so that runs never share a database or a heap,
 * and returns plain JSON for the result file.
 */
import autocannon from 'autocannon';
import { type ChatParams, chat } from './chat.js';
import { type ClusterParams, cluster } from './cluster.js';
import {
  Generator,
  generatorsFor,
  type LatencySummary,
  type Progress,
  registerMany,
  ServerHandle,
  type ServerHandleOptions,
  type ServerLoad,
  serverLoad,
  sleep,
  split,
  summarise,
} from './harness.js';
import type { Identity } from './ipc.js';
import { type SeedParams, seed } from './seed.js';

export type Mode = 'tiny' | 'quick' | 'full';

export interface Params {
  chat: ChatParams;
  pushVsPoll: {
    recipients: number;
    senders: number;
    rate: number;
    durationMs: number;
    modes: string[];
    pushRates: number[];
  };
  idle: { clients: number; durationMs: number; settleMs: number };
  threadModels: { clients: number[]; rate: number; durationMs: number; deadlineMs: number };
  saturation: {
    sessions: number;
    senders: number;
    windows: number[];
    stepMs: number;
    synchronous: ('normal' | 'full')[];
  };
  sessionScale: { sessions: number; probeRate: number; probeMs: number; settleMs: number };
  http: {
    recipients: number;
    senders: number;
    durationMs: number;
    levels: { connections: number; pipelining: number }[];
    drainMs: number;
  };
  seed: SeedParams;
  cluster: ClusterParams;
}

export const PARAMS: Record<Mode, Params> = {
  tiny: {
    chat: {
      pairs: 4,
      generators: 2,
      rates: [200],
      durationMs: 500,
      windows: [1, 4],
      stepMs: 500,
      drainMs: 3_000,
      peers: ['aedes', 'mosquitto'],
    },
    pushVsPoll: {
      recipients: 4,
      senders: 2,
      rate: 200,
      durationMs: 1_000,
      modes: ['push', 'poll-100ms'],
      pushRates: [100],
    },
    idle: { clients: 8, durationMs: 1_000, settleMs: 200 },
    threadModels: { clients: [4], rate: 100, durationMs: 1_000, deadlineMs: 60_000 },
    saturation: {
      sessions: 4,
      senders: 2,
      windows: [1, 8],
      stepMs: 1_000,
      synchronous: ['normal'],
    },
    sessionScale: { sessions: 20, probeRate: 20, probeMs: 1_000, settleMs: 200 },
    http: {
      recipients: 4,
      senders: 2,
      durationMs: 1_000,
      levels: [{ connections: 4, pipelining: 1 }],
      drainMs: 3_000,
    },
    seed: { users: 8, clients: 4, durationMs: 500, pollMs: 1_000, paces: [30, 0] },
    cluster: {
      pairs: 4,
      generators: 2,
      rates: [200],
      durationMs: 500,
      windows: [4],
      stepMs: 500,
      drainMs: 3_000,
    },
  },
  quick: {
    chat: {
      pairs: 1_000,
      generators: 4,
      rates: [2_000, 5_000, 10_000, 20_000],
      durationMs: 4_000,
      windows: [1, 4, 16, 64],
      stepMs: 3_000,
      drainMs: 5_000,
      peers: ['aedes', 'mosquitto'],
    },
    pushVsPoll: {
      recipients: 1_000,
      senders: 10,
      rate: 10_000,
      durationMs: 4_000,
      modes: ['push', 'poll-100ms', 'poll-1s', 'poll-5s', 'original-1s'],
      pushRates: [1_000, 2_500, 5_000, 15_000],
    },
    idle: { clients: 10_000, durationMs: 5_000, settleMs: 15_000 },
    threadModels: { clients: [10, 100], rate: 1_000, durationMs: 3_000, deadlineMs: 180_000 },
    saturation: {
      sessions: 1_000,
      senders: 10,
      windows: [1, 4, 16, 64, 256, 1024],
      stepMs: 3_000,
      synchronous: ['normal', 'full'],
    },
    sessionScale: { sessions: 18_000, probeRate: 50, probeMs: 4_000, settleMs: 15_000 },
    http: {
      recipients: 100,
      senders: 5,
      durationMs: 5_000,
      levels: [
        { connections: 10, pipelining: 2 },
        { connections: 25, pipelining: 2 },
        { connections: 50, pipelining: 2 },
      ],
      drainMs: 10_000,
    },
    seed: { users: 1_000, clients: 16, durationMs: 5_000, pollMs: 5_000, paces: [30, 0] },
    cluster: {
      pairs: 1_000,
      generators: 4,
      rates: [1_000, 2_000, 5_000],
      durationMs: 4_000,
      windows: [16],
      stepMs: 3_000,
      drainMs: 5_000,
    },
  },
  full: {
    chat: {
      pairs: 1_000,
      generators: 4,
      rates: [2_000, 5_000, 10_000, 20_000],
      durationMs: 15_000,
      windows: [1, 2, 4, 8, 16, 32, 64],
      stepMs: 8_000,
      drainMs: 10_000,
      peers: ['aedes', 'mosquitto'],
    },
    pushVsPoll: {
      recipients: 1_000,
      senders: 10,
      rate: 10_000,
      durationMs: 15_000,
      modes: ['push', 'poll-100ms', 'poll-1s', 'poll-5s', 'original-1s'],
      pushRates: [1_000, 2_500, 5_000, 15_000, 20_000],
    },
    idle: { clients: 10_000, durationMs: 20_000, settleMs: 15_000 },
    threadModels: { clients: [10, 100, 500], rate: 1_000, durationMs: 10_000, deadlineMs: 420_000 },
    saturation: {
      sessions: 1_000,
      senders: 10,
      windows: [1, 4, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
      stepMs: 8_000,
      synchronous: ['normal', 'full'],
    },
    sessionScale: { sessions: 18_000, probeRate: 100, probeMs: 15_000, settleMs: 15_000 },
    http: {
      recipients: 1_000,
      senders: 10,
      durationMs: 15_000,
      levels: [
        { connections: 10, pipelining: 2 },
        { connections: 25, pipelining: 2 },
        { connections: 50, pipelining: 2 },
        { connections: 100, pipelining: 4 },
      ],
      drainMs: 20_000,
    },
    seed: { users: 1_000, clients: 16, durationMs: 15_000, pollMs: 15_000, paces: [30, 0] },
    cluster: {
      pairs: 1_000,
      generators: 4,
      rates: [1_000, 2_000, 5_000, 10_000],
      durationMs: 15_000,
      windows: [16],
      stepMs: 8_000,
      drainMs: 10_000,
    },
  },
};

export interface Context {
  params: Params;
  /** Names the phase shown on the live progress line. */
  phase(text: string): void;
  /** Generators whose counters the progress line shows. */
  watch(gens: { progress: Progress }[]): void;
  /** Extra node flags for server processes (--cpu-prof). */
  serverExecArgv: string[];
  /** Server options every scenario's servers start with (--threads); a scenario's own options win. */
  serverOptions: ServerHandleOptions;
}

/** Bytes as MB, one decimal. */
const mb = (bytes: number): number => Math.round(bytes / 104857.6) / 10;
/** Bytes shared by `sessions` as KB each, one decimal. */
const kbPerSession = (bytes: number, sessions: number): number =>
  Math.round(bytes / Math.max(1, sessions) / 102.4) / 10;

/**
 * A server, generators and identities for one configuration; always torn
 * down. With `deadlineMs`, a body still running then is given up on (an
 * Error naming the deadline) and the processes are stopped all the same.
 */
async function withSetup<T>(
  ctx: Context,
  options: ServerHandleOptions,
  generators: number,
  body: (server: ServerHandle, gens: Generator[]) => Promise<T>,
  deadlineMs?: number,
): Promise<T> {
  const server = await ServerHandle.start({
    execArgv: ctx.serverExecArgv,
    ...ctx.serverOptions,
    ...options,
  });
  const gens = Array.from({ length: generators }, () => new Generator());
  ctx.watch(gens);
  let timer: NodeJS.Timeout | undefined;
  try {
    const work = body(server, gens);
    if (deadlineMs === undefined) return await work;
    work.catch(() => {}); // it may still settle after it was given up on
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`did not finish within ${deadlineMs / 1000} s`)),
        deadlineMs,
      );
    });
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    ctx.watch([]);
    await Promise.all(gens.map((g) => g.close()));
    await server.stop();
  }
}

async function openAll(
  gens: Generator[],
  port: number,
  kind: 'push' | 'poll' | 'sender',
  ids: Identity[],
  concurrency = 200,
  timeoutMs = 60_000,
) {
  const parts = split(ids, gens.length);
  const t0 = performance.now();
  const results = await Promise.all(
    gens.map((g, i) => g.open(port, kind, parts[i]!, concurrency, timeoutMs)),
  );
  return {
    ok: results.reduce((a, r) => a + r.ok, 0),
    failed: results.reduce((a, r) => a + r.failed, 0),
    refused: results.reduce((a, r) => a + r.refused, 0),
    elapsedMs: Math.round(performance.now() - t0),
    connect: summarise(results.map((r) => r.connect)),
  };
}

interface LoadOutcome {
  sent: number;
  stored: number;
  received: number;
  duplicates: number;
  errors: number;
  latency0506: LatencySummary;
  latency0507: LatencySummary;
  server: ServerLoad;
}

/** Sends at `rate` (split over the generators) for durationMs, then waits up to drainMs for deliveries. */
async function runLoad(
  server: ServerHandle,
  gens: Generator[],
  targets: string[],
  how: { rate?: number; window?: number },
  durationMs: number,
  drainMs: number,
): Promise<LoadOutcome> {
  await Promise.all(gens.map((g) => g.reset()));
  const s0 = await server.sample();
  const share = how.rate === undefined ? how : { rate: how.rate / gens.length };
  const loaded = await Promise.all(gens.map((g) => g.load(targets, durationMs, share)));
  const s1 = await server.sample();
  const stored = loaded.reduce((a, l) => a + l.stored, 0);
  const deadline = Date.now() + drainMs;
  while (Date.now() < deadline) {
    const received = gens.reduce((a, g) => a + g.progress.received, 0);
    if (received >= stored) break;
    await sleep(100);
  }
  const c = await Promise.all(gens.map((g) => g.collect()));
  return {
    sent: c.reduce((a, x) => a + x.sent, 0),
    stored: c.reduce((a, x) => a + x.stored, 0),
    received: c.reduce((a, x) => a + x.received, 0),
    duplicates: c.reduce((a, x) => a + x.duplicates, 0),
    errors: c.reduce((a, x) => a + x.errors, 0),
    latency0506: summarise(c.map((x) => x.latency0506)),
    latency0507: summarise(c.map((x) => x.latency0507)),
    server: serverLoad(s0, s1),
  };
}

// ---- 1. push vs poll ---------------------------------------------------------------

export async function pushVsPoll(ctx: Context) {
  const p = ctx.params.pushVsPoll;
  const runs = [];
  // The models at the scenario's rate, then push alone at other rates (how its latency grows with load).
  const plan = [
    ...p.modes.map((mode) => ({ mode, rate: p.rate })),
    ...p.pushRates.filter((r) => r !== p.rate).map((rate) => ({ mode: 'push', rate })),
  ];
  for (const { mode, rate } of plan) {
    ctx.phase(`push-vs-poll ${mode} at ${rate} msgs/s`);
    const intervalMs = mode === 'push' ? 0 : parseInterval(mode);
    const run = await withSetup(
      ctx,
      {},
      generatorsFor(p.recipients + p.senders),
      async (server, gens) => {
        const ids = await registerMany(gens, server.port, p.recipients + p.senders);
        const recipients = ids.slice(0, p.recipients);
        const senders = ids.slice(p.recipients);
        if (mode.startsWith('original')) {
          const parts = split(recipients, gens.length);
          await Promise.all(
            gens.map((g, i) => g.startOriginal(server.port, parts[i]!, intervalMs)),
          );
        } else {
          await openAll(gens, server.port, mode === 'push' ? 'push' : 'poll', recipients);
          if (mode !== 'push') await Promise.all(gens.map((g) => g.startPolling(intervalMs)));
        }
        await openAll(gens, server.port, 'sender', senders);
        await sleep(Math.min(1_000, intervalMs || 200));
        const outcome = await runLoad(
          server,
          gens,
          recipients.map((r) => r.number),
          { rate },
          p.durationMs,
          intervalMs + 3_000,
        );
        await Promise.all(gens.map((g) => g.stopPolling()));
        return outcome;
      },
    );
    runs.push({ mode, intervalMs, rate, ...run });
  }
  return { params: p, runs };
}

function parseInterval(mode: string): number {
  const m = /-(\d+)(ms|s)$/.exec(mode);
  if (!m) throw new Error(`cannot read a poll interval from ${mode}`);
  return Number(m[1]) * (m[2] === 's' ? 1_000 : 1);
}

// ---- 2. idle cost ---------------------------------------------------------------------

export async function idleCost(ctx: Context) {
  const p = ctx.params.idle;
  const runs = [];
  for (const mode of ['push', 'poll-1s']) {
    ctx.phase(`idle ${mode} (${p.clients} clients)`);
    const run = await withSetup(ctx, {}, generatorsFor(p.clients), async (server, gens) => {
      const ids = await registerMany(gens, server.port, p.clients);
      // As in session-scale: the registration burst's garbage is returned
      // after the threads have been quiet a while; the idle state is read
      // once the opening burst has settled the same way.
      await sleep(p.settleMs);
      const base = await server.sample();
      const opened = await openAll(gens, server.port, mode === 'push' ? 'push' : 'poll', ids, 500);
      if (mode !== 'push') await Promise.all(gens.map((g) => g.startPolling(1_000)));
      await sleep(p.settleMs);
      const s0 = await server.sample();
      await sleep(p.durationMs);
      const s1 = await server.sample();
      await Promise.all(gens.map((g) => g.stopPolling()));
      return {
        clients: p.clients,
        opened: opened.ok,
        failed: opened.failed,
        openMs: opened.elapsedMs,
        server: serverLoad(s0, s1),
        rssBeforeMB: mb(base.rss),
        rssPerSessionKB: kbPerSession(s1.rss - base.rss, opened.ok),
      };
    });
    runs.push({ mode, ...run });
  }
  return { params: p, runs };
}

// ---- 3. thread models ------------------------------------------------------------------

export async function threadModels(ctx: Context) {
  const p = ctx.params.threadModels;
  const runs = [];
  /** Configurations that did not complete (a thread per client, hundreds of clients, on 2 cores). */
  const failures: { model: string; clients: number; error: string }[] = [];
  for (const model of ['pooled', 'dedicated'] as const) {
    for (const clients of p.clients) {
      ctx.phase(`thread-models ${model} ${clients} clients`);
      const options: ServerHandleOptions = model === 'dedicated' ? { sessionsPerThread: 1 } : {};
      const step = withSetup(
        ctx,
        options,
        1,
        async (server, gens) => {
          const ids = await registerMany(gens, server.port, clients + 2);
          const recipients = ids.slice(0, clients);
          await sleep(300);
          const s0 = await server.sample();
          // A thread per client starts slower as threads accumulate (~130 ms each
          // at 450 on 2 cores): give each client 0.4 s, at least the usual minute.
          const opened = await openAll(
            gens,
            server.port,
            'push',
            recipients,
            50,
            Math.max(60_000, clients * 400),
          );
          await sleep(500);
          const s1 = await server.sample();
          await openAll(gens, server.port, 'sender', ids.slice(clients));
          const outcome = await runLoad(
            server,
            gens,
            recipients.map((r) => r.number),
            { rate: p.rate },
            p.durationMs,
            3_000,
          );
          return {
            clients,
            opened: opened.ok,
            failed: opened.failed,
            refusedOpens: opened.refused,
            openAllMs: opened.elapsedMs,
            connect: opened.connect,
            rssBeforeMB: mb(s0.rss),
            rssAfterMB: mb(s1.rss),
            rssPerSessionKB: kbPerSession(s1.rss - s0.rss, opened.ok),
            ...outcome,
          };
        },
        p.deadlineMs,
      );
      try {
        runs.push({
          model,
          sessionsPerThread: model === 'dedicated' ? 1 : 10_000,
          ...(await step),
        });
      } catch (err) {
        failures.push({ model, clients, error: err instanceof Error ? err.message : String(err) });
      }
    }
  }
  return { params: p, runs, failures };
}

// ---- 4. saturation ---------------------------------------------------------------------

/** The saturation sweep never stops before this window (see the sweep). */
const MIN_WINDOW_TO_STOP = 1_024;

export async function saturation(ctx: Context) {
  const p = ctx.params.saturation;
  const runs = [];
  for (const synchronous of p.synchronous) {
    ctx.phase(`saturation ${synchronous}: setting up`);
    const steps = await withSetup(
      ctx,
      { synchronous },
      Math.max(2, generatorsFor(p.sessions + p.senders)),
      async (server, gens) => {
        const ids = await registerMany(gens, server.port, p.sessions + p.senders);
        const recipients = ids.slice(0, p.sessions);
        await openAll(gens, server.port, 'push', recipients);
        await openAll(gens, server.port, 'sender', ids.slice(p.sessions));
        const out = [];
        let best = 0;
        let flat = 0;
        for (const window of p.windows) {
          ctx.phase(`saturation ${synchronous} window ${window}`);
          const o = await runLoad(
            server,
            gens,
            recipients.map((r) => r.number),
            { window },
            p.stepMs,
            3_000,
          );
          const throughput = o.server.deliveredPerSec;
          out.push({
            window,
            inFlight: window * p.senders,
            throughput,
            storedPerSec: o.server.storedPerSec,
            ...o,
          });
          // The sweep ends once two steps in a row fail to raise the best
          // throughput by 3% (two, so that one noisy step does not end it),
          // but not before a window of 1,024: between ~100 and ~500 in flight
          // throughput flattens before group commit grows enough to lift it
          // again, and a full run once stopped there.
          if (throughput < best * 1.03) {
            if (++flat >= 2 && window >= MIN_WINDOW_TO_STOP) break;
          } else flat = 0;
          best = Math.max(best, throughput);
        }
        return out;
      },
    );
    runs.push({ synchronous, best: Math.max(...steps.map((s) => s.throughput)), steps });
  }
  return { params: p, runs };
}

// ---- 5. scale of sessions --------------------------------------------------------------

export async function sessionScale(ctx: Context) {
  const p = ctx.params.sessionScale;
  ctx.phase(`session-scale ${p.sessions} push sessions`);
  return withSetup(ctx, {}, generatorsFor(p.sessions + 1), async (server, gens) => {
    const ids = await registerMany(gens, server.port, p.sessions + 1);
    const recipients = ids.slice(0, p.sessions);
    const registered = await server.sample();
    // Registering every number at once is a burst no running server sees
    // before its sessions open; V8's memory reducer returns its garbage once
    // the threads have been quiet for a while (~10 s), so the base is read after that.
    ctx.phase(`session-scale settling after ${p.sessions + 1} registrations`);
    await sleep(p.settleMs);
    const base = await server.sample();
    ctx.phase(`session-scale opening ${p.sessions} push sessions`);
    const opened = await openAll(gens, server.port, 'push', recipients, 500);
    await sleep(2_000);
    const justOpened = await server.sample();
    // Held: the same sessions after the same settling; RSS right after the
    // opening burst is reported too (rssOpenedMB).
    await sleep(p.settleMs);
    const held = await server.sample();
    ctx.phase(`session-scale probe messages`);
    // The probe: one sender (first generator), messages to sessions spread over all of them.
    await gens[0]!.open(server.port, 'sender', [ids[p.sessions]!]);
    const step = Math.max(1, Math.floor(recipients.length / 500));
    const targets = recipients.filter((_, i) => i % step === 0).map((r) => r.number);
    await Promise.all(gens.map((g) => g.reset()));
    const loaded = await gens[0]!.load(targets, p.probeMs, { rate: p.probeRate });
    const deadline = Date.now() + 3_000;
    while (
      Date.now() < deadline &&
      gens.reduce((a, g) => a + g.progress.received, 0) < loaded.stored
    )
      await sleep(100);
    const c = await Promise.all(gens.map((g) => g.collect()));
    const end = await server.sample();
    return {
      params: p,
      opened: opened.ok,
      failed: opened.failed,
      openMs: opened.elapsedMs,
      connect: opened.connect,
      serverSessions: held.sessions,
      rssRegisteredMB: mb(registered.rss),
      rssBeforeMB: mb(base.rss),
      rssOpenedMB: mb(justOpened.rss),
      rssMB: mb(held.rss),
      rssEndMB: mb(end.rss),
      rssPerSessionKB: kbPerSession(held.rss - base.rss, opened.ok),
      probes: {
        sent: loaded.sent,
        received: c.reduce((a, x) => a + x.received, 0),
        latency0506: summarise(c.map((x) => x.latency0506)),
        latency0507: summarise(c.map((x) => x.latency0507)),
      },
    };
  });
}

// ---- 6. HTTP ------------------------------------------------------------------------------

/**
 * POST /v1/messages driven by autocannon (in this process) for durationMs at
 * each concurrency level (connections x pipelining: requests in flight),
 * bodies cycling over senders x recipients; recipients hold push sessions in
 * a load generator that counts the 06 it reads and acknowledges them. After
 * each level it waits (up to drainMs) until every 201 has been pushed. More
 * in flight buys throughput with latency (Little's law), hence the sweep.
 */
export async function http(ctx: Context) {
  const p = ctx.params.http;
  ctx.phase(`http: setting up (${p.recipients} push sessions)`);
  return withSetup(ctx, { httpPort: 0 }, generatorsFor(p.recipients), async (server, gens) => {
    if (server.httpPort === undefined)
      throw new Error('the server process did not report an HTTP port');
    const ids = await registerMany(gens, server.port, p.recipients + p.senders);
    const recipients = ids.slice(0, p.recipients);
    const senders = ids.slice(p.recipients);
    const opened = await openAll(gens, server.port, 'push', recipients);
    await sleep(300);
    // The 06 text is "<seq> <send time in ms>" like the TCP senders' (the
    // generator records 05->06 latency from it); the seq is global, so that
    // it only grows per (sender, recipient) apart from reordering across
    // autocannon's connections.
    const auth = senders.map((s) => `Bearer ${s.number}:${s.token}`);
    let seq = 0;
    const setupRequest = (req: { headers?: Record<string, string>; body?: string }) => {
      const n = seq++;
      const to = recipients[n % recipients.length]!.number;
      const from = Math.floor(n / recipients.length) % senders.length;
      const t = performance.timeOrigin + performance.now();
      req.headers = { 'content-type': 'application/json', authorization: auth[from]! };
      req.body = JSON.stringify({ to, text: `${n + 1} ${t.toFixed(3)}`, receipts: false });
      return req;
    };
    const runs = [];
    for (const level of p.levels) {
      await Promise.all(gens.map((g) => g.reset()));
      ctx.phase(
        `http: autocannon ${level.connections} connections x pipelining ${level.pipelining} for ${p.durationMs / 1000} s`,
      );
      const s0 = await server.sample();
      const cpu0 = process.cpuUsage();
      const wall0 = performance.now();
      const ac = await autocannon({
        url: `http://127.0.0.1:${server.httpPort}`,
        connections: level.connections,
        pipelining: level.pipelining,
        duration: p.durationMs / 1000,
        timeout: 10,
        requests: [{ method: 'POST', path: '/v1/messages', setupRequest }],
      });
      const cpu = process.cpuUsage(cpu0);
      const harnessCpuPercent =
        Math.round(((cpu.user + cpu.system) / 1000 / (performance.now() - wall0)) * 1000) / 10;
      const s1 = await server.sample();
      const created = ac['2xx'];
      ctx.phase(`http: waiting for ${created} pushes`);
      // 06 frames read by the push sessions (new ones plus any the generator took
      // for redeliveries: with requests reordered across connections, a lower
      // seq can arrive after a higher one from the same sender).
      const pushed = async () =>
        (await Promise.all(gens.map((g) => g.collect()))).reduce(
          (a, c) => a + c.received + c.duplicates,
          0,
        );
      const t0 = Date.now();
      let read = await pushed();
      while (read < created && Date.now() - t0 < p.drainMs) {
        await sleep(100);
        read = await pushed();
      }
      const drainMs = Date.now() - t0;
      await sleep(200); // the last 08s
      const c = await Promise.all(gens.map((g) => g.collect()));
      const s2 = await server.sample();
      const statusCodes: Record<string, number> = {};
      for (const [code, v] of Object.entries(ac.statusCodeStats ?? {})) statusCodes[code] = v.count;
      runs.push({
        ...level,
        inFlight: level.connections * level.pipelining,
        requests: ac.requests.total,
        reqPerSec: Math.round((created + ac.non2xx) / ac.duration),
        created,
        non2xx: ac.non2xx,
        errors: ac.errors,
        timeouts: ac.timeouts,
        statusCodes,
        /** autocannon's latency, ms (request written to response read). */
        latency: {
          p50: ac.latency.p50,
          p90: ac.latency.p90,
          p99: ac.latency.p99,
          max: ac.latency.max,
          mean: ac.latency.average,
        },
        /** Server counters: messages stored during the run, deleted after the recipients' 08 by the end. */
        stored: s1.stats.messagesStored - s0.stats.messagesStored,
        deliveredAcked: s2.stats.messagesDelivered - s0.stats.messagesDelivered,
        /** 06 frames the push sessions read. */
        pushed: c.reduce((a, x) => a + x.received + x.duplicates, 0),
        allPushed: read >= created,
        drainMs,
        latencyPush: summarise(c.map((x) => x.latency0506)),
        server: serverLoad(s0, s1),
        /** CPU of this process (autocannon and the progress line), % of one core: it shares the cores with the server. */
        harnessCpuPercent,
      });
    }
    return { params: p, sessions: opened.ok, runs };
  });
}

export const SCENARIOS = {
  chat,
  'push-vs-poll': pushVsPoll,
  idle: idleCost,
  'thread-models': threadModels,
  saturation,
  'session-scale': sessionScale,
  http,
  seed,
  cluster,
} as const;

export type ScenarioName = keyof typeof SCENARIOS;
