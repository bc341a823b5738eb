/**
 * The chat scenario, the benchmark's headline (issue #10): many users each
 * sending a little. N pairs of users; each sender its own connection and
 * user, sending only to its receiver, each receiver its own push session.
 * Open loop at each total rate, split evenly over the senders and spread
 * evenly in time (bench/chat-generator.ts), then a closed-loop saturation
 * sweep with the same pairs (1 to 64 unanswered per sender).
 *
 * The same pairs, rates and windows run against the MQTT peers in the same
 * run (bench/peers.ts), with QoS 1 and 256-byte payloads: each publisher its
 * own connection, each subscriber its own connection and topic. CPU is read
 * from /proc the same way for every broker (bench/proc-cpu.ts), and so is the
 * generators' CPU, to show they are not the bottleneck.
 */
import { loadavg } from 'node:os';
import {
  ChatGenerator,
  Generator,
  type LatencySummary,
  ServerHandle,
  type ServerLoad,
  serverLoad,
  sleep,
  split,
  summarise,
} from './harness.js';
import type { ChatPair, ChatProtocol, ServerSample } from './ipc.js';
import { now } from './measure.js';
import { type PeerBroker, startAedes, startMosquitto } from './peers.js';
import {
  type CpuUse,
  cpuBetween,
  machineBetween,
  type ProcCpu,
  readMachineCpu,
  readProcCpu,
} from './proc-cpu.js';
import type { Context } from './scenarios.js';

export interface ChatParams {
  pairs: number;
  /** Load generator processes the pairs are split over. */
  generators: number;
  /** Open-loop total rates, msgs/s. */
  rates: number[];
  durationMs: number;
  /** Closed loop: messages unanswered per sender. */
  windows: number[];
  stepMs: number;
  /** How long to wait after a step for the last deliveries. */
  drainMs: number;
  peers: ('aedes' | 'mosquitto')[];
  /**
   * zapwire's transports, each a run of its own on a fresh server: `tcp`
   * (the v1 listener) and `ws` (WebSockets at /v1/ws on the HTTP listener,
   * system `zapwire-ws`). Default: tcp alone.
   */
  transports?: ('tcp' | 'ws')[];
}

export type ChatSystem = 'zapwire' | 'zapwire-ws' | 'aedes' | 'mosquitto';

export interface ChatStep {
  /** Open loop: the total rate offered. */
  rate?: number;
  /** Closed loop: unanswered messages per sender, and in all. */
  window?: number;
  inFlight?: number;
  /** Whether the previous step's messages had all been answered and delivered before this one started. */
  settledBefore: boolean;
  /** Messages due in the open loop's window (rate × duration); 0 in closed loop. */
  offered: number;
  sent: number;
  /** 07 / PUBACK read by the senders. */
  acked: number;
  /** New 06 / PUBLISH read by the receivers (redeliveries apart). */
  received: number;
  duplicates: number;
  errors: number;
  /** received per second of the load window. */
  deliveredPerSec: number;
  /** Open loop: from the intended send time. Closed loop: from the write. */
  latency0506: LatencySummary;
  latency0507: LatencySummary;
  /** How late the generators wrote each message after its due time (open loop). */
  sendLag: LatencySummary;
  /** The broker process over the load window (% of one core, per thread). */
  cpu: CpuUse | undefined;
  /** Broker CPU from the start of the load to the last delivery, per message received, µs. */
  cpuUsPerMsg: number | undefined;
  /** zapwire only: from its counters. */
  sqlPerSec?: number;
  commitsPerSec?: number;
  rssMB?: number;
  /** All generator processes together. */
  generators: { cpuPercent: number; cpuUsPerMsg: number } | undefined;
  /** Every process of the machine over the load window, % of one core (up to 100 × the cores): other work shares them. */
  machineCpuPercent: number | undefined;
}

export interface ChatRun extends Sweep<ChatStep> {
  system: ChatSystem;
  version: string;
  /** Whether a message is committed to disk before it is acknowledged. */
  durable: boolean;
}

export const round1 = (x: number) => Math.round(x * 10) / 10;

interface Target {
  system: ChatSystem;
  version: string;
  protocol: ChatProtocol;
  port: number;
  pid: number | undefined;
  /** Names of threads for the per-thread CPU (zapwire: its Workers), read once the sessions are open. */
  threadNames?: () => Promise<ReadonlyMap<number, string>>;
  /** zapwire's own counters. */
  sample?: () => Promise<ServerSample>;
  stop(): Promise<void>;
}

export async function chat(ctx: Context) {
  const p = ctx.params.chat;
  const runs: ChatRun[] = [];
  const skipped: { system: ChatSystem; reason: string }[] = [];
  const failed: { system: ChatSystem; error: string }[] = [];

  // The same generator processes drive every system in turn (forking them costs seconds on a busy 2-core machine).
  const gens = Array.from({ length: p.generators }, () => new ChatGenerator());
  const attempt = async (
    system: ChatSystem,
    start: () => Promise<Target | { skipped: string }>,
    pairs: (t: Target) => Promise<ChatPair[]>,
  ) => {
    ctx.phase(`chat ${system}: starting`);
    try {
      const target = await start();
      if ('skipped' in target) {
        skipped.push({ system, reason: target.skipped });
        process.stderr.write(`\nchat: ${system} skipped: ${target.skipped}\n`);
        return;
      }
      try {
        runs.push(await runSystem(ctx, gens, target, await pairs(target)));
      } finally {
        await target.stop();
      }
    } catch (err) {
      failed.push({ system, error: err instanceof Error ? err.message : String(err) });
      process.stderr.write(`\nchat: ${system} failed: ${failed.at(-1)!.error}\n`);
    }
  };

  try {
    for (const transport of p.transports ?? ['tcp']) {
      const ws = transport === 'ws';
      const system: ChatSystem = ws ? 'zapwire-ws' : 'zapwire';
      // Forked while the server starts; registers the users (over TCP), then goes.
      let reg: Generator | undefined;
      let registerPort = 0;
      await attempt(
        system,
        async () => {
          reg = new Generator();
          const server = await ServerHandle.start({
            execArgv: ctx.serverExecArgv,
            ...ctx.serverOptions,
            ...(ws ? { httpPort: 0 } : {}),
          });
          registerPort = server.port;
          // js1 … jsN: the server's Workers in creation order (src/server/server.ts starts the broker's first, then the session hosts).
          const threadNames = async () =>
            new Map((await server.jsThreads()).map((tid, i) => [tid, `js${i + 1}`]));
          return {
            system,
            version: 'this commit',
            protocol: ws ? 'zapwire-ws' : 'zapwire',
            port: ws ? server.httpPort! : server.port,
            pid: server.pid,
            threadNames,
            sample: () => server.sample(),
            stop: () => server.stop(),
          };
        },
        async () => {
          ctx.phase(`chat ${system}: registering ${2 * p.pairs} users`);
          const r = reg!;
          reg = undefined;
          try {
            const ids = await r.register(registerPort, 2 * p.pairs);
            return Array.from({ length: p.pairs }, (_, i) => ({
              sender: ids[2 * i]!,
              receiver: ids[2 * i + 1]!,
            }));
          } finally {
            await r.close();
          }
        },
      );
      await reg?.close(); // when the server did not start
    }
    const mqttPairs = async () =>
      Array.from({ length: p.pairs }, (_, i) => ({
        sender: { number: `${i}`, token: '' },
        receiver: { number: `${i}`, token: '' },
      }));
    const peer = (b: PeerBroker): Target => ({
      system: b.name,
      version: b.version,
      protocol: 'mqtt',
      port: b.port,
      pid: b.pid,
      stop: () => b.stop(),
    });
    if (p.peers.includes('aedes'))
      await attempt('aedes', async () => peer(await startAedes()), mqttPairs);
    if (p.peers.includes('mosquitto'))
      await attempt(
        'mosquitto',
        async () => {
          const m = await startMosquitto();
          return 'skipped' in m ? m : peer(m);
        },
        mqttPairs,
      );
  } finally {
    await Promise.all(gens.map((g) => g.close()));
  }
  return { params: p, runs, skipped, failed };
}

async function runSystem(
  ctx: Context,
  gens: ChatGenerator[],
  target: Target,
  pairs: ChatPair[],
): Promise<ChatRun> {
  let names: ReadonlyMap<number, string> = new Map();
  const sweep = await openAndSweep(ctx, gens, `chat ${target.system}`, ctx.params.chat, {
    protocol: target.protocol,
    port: target.port,
    pairs,
    settleMs: 300,
    ready: async () => {
      names = (await target.threadNames?.()) ?? names;
    },
    step: (how, durationMs) =>
      step(target, names, gens, ctx.params.chat, how, durationMs, pairs.length),
  });
  return {
    system: target.system,
    version: target.version,
    durable: target.protocol !== 'mqtt',
    ...sweep,
  };
}

/** What openAndSweep measured: the sessions opened, the open-loop and closed-loop steps. */
export interface Sweep<S> {
  sessions: number;
  failed: number;
  rates: S[];
  saturation: S[];
  /** Best closed-loop delivered msgs/s. */
  best: number;
  /** The machine's 1-minute load average when the sweep started and ended (other work on the cores). */
  loadAvg: [number, number];
}

/**
 * Opens every pair's sessions (receivers first, on `port` or a port of their
 * own), waits `settleMs`, then runs `step` at each open-loop rate and each
 * closed-loop window of `p`; the generators' connections are dropped at the
 * end whatever happened.
 */
export async function openAndSweep<S extends { deliveredPerSec: number }>(
  ctx: Context,
  gens: ChatGenerator[],
  label: string,
  p: Pick<ChatParams, 'rates' | 'windows' | 'durationMs' | 'stepMs'>,
  how: {
    protocol: ChatProtocol;
    port: number | { senders: number; receivers: number };
    pairs: ChatPair[];
    settleMs: number;
    /** Once the sessions are open and settled, before the first step. */
    ready?: () => Promise<void>;
    step: (load: { rate?: number; window?: number }, durationMs: number) => Promise<S>;
  },
): Promise<Sweep<S>> {
  const load0 = round1(loadavg()[0]!);
  ctx.watch(gens);
  try {
    ctx.phase(`${label}: opening ${2 * how.pairs.length} sessions`);
    const parts = split(how.pairs, gens.length);
    const opened = await Promise.all(gens.map((g, i) => g.open(how.protocol, how.port, parts[i]!)));
    const ok = opened.reduce((a, o) => a + o.ok, 0);
    const failedOpen = opened.reduce((a, o) => a + o.failed, 0);
    if (ok === 0) throw new Error(`no session opened (${failedOpen} failed)`);
    await sleep(how.settleMs);
    await how.ready?.();
    const rates: S[] = [];
    for (const rate of p.rates) {
      ctx.phase(`${label}: ${rate} msgs/s over ${how.pairs.length} pairs`);
      rates.push(await how.step({ rate }, p.durationMs));
      await sleep(300);
    }
    const saturation: S[] = [];
    for (const window of p.windows) {
      ctx.phase(`${label}: ${window} in flight per sender`);
      saturation.push(await how.step({ window }, p.stepMs));
      await sleep(300);
    }
    return {
      sessions: ok,
      failed: failedOpen,
      rates,
      saturation,
      best: Math.max(0, ...saturation.map((s) => s.deliveredPerSec)),
      loadAvg: [load0, round1(loadavg()[0]!)],
    };
  } finally {
    ctx.watch([]);
    await Promise.all(gens.map((g) => g.drop()));
  }
}

/** Longest wait for the previous step's backlog before the next step starts. */
const SETTLE_MS = 30_000;

/**
 * Waits until every message written has been answered and delivered, so that
 * a step that left a backlog (an overloaded broker) does not count its
 * deliveries in the next step. Returns whether it got there in time.
 */
async function settle(gens: ChatGenerator[]): Promise<boolean> {
  const deadline = Date.now() + SETTLE_MS;
  for (;;) {
    const c = await Promise.all(gens.map((g) => g.collect()));
    const sent = c.reduce((a, x) => a + x.sent, 0);
    if (
      c.reduce((a, x) => a + x.acked, 0) >= sent &&
      c.reduce((a, x) => a + x.received + x.duplicates, 0) >= sent
    )
      return true;
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
}

/** A process whose CPU a step reads: a broker (its threads), or a database engine (its process tree). */
export interface CpuSubject {
  pid: number | undefined;
  /** How to read it; its threads by default (readProcCpu). */
  read?: (pid: number | undefined) => ProcCpu | undefined;
  /** Names of its threads (or processes), or a function that reads them at the end of the step (a tree's processes come and go). */
  names?: ReadonlyMap<number, string> | (() => ReadonlyMap<number, string>);
  /** zapwire's own counters. */
  sample?: () => Promise<ServerSample>;
}

/** What a step measured of one CpuSubject. */
export interface SubjectUse {
  /** Over the load window (% of one core, per thread). */
  cpu: CpuUse | undefined;
  /** CPU from the start of the load to the last delivery, µs. */
  cpuUs: number | undefined;
  /** zapwire's counters over the load window. */
  load: ServerLoad | undefined;
}

/** A step's figures apart from the broker's own. */
export type StepFigures = Omit<
  ChatStep,
  'cpu' | 'cpuUsPerMsg' | 'sqlPerSec' | 'commitsPerSec' | 'rssMB'
>;

/**
 * One step of the chat shape: waits for the previous step's backlog, then
 * drives the generators open loop at `how.rate` or closed loop with
 * `how.window` for durationMs, waits up to drainMs for the last deliveries,
 * and reads the clients' figures and the CPU of every subject (in order).
 */
export async function loadStep(
  gens: ChatGenerator[],
  how: { rate?: number; window?: number },
  durationMs: number,
  drainMs: number,
  pairs: number,
  subjects: CpuSubject[],
): Promise<{ figures: StepFigures; uses: SubjectUse[] }> {
  const settled = await settle(gens);
  await Promise.all(gens.map((g) => g.reset()));
  const startAt = now() + 200;
  const loads = Promise.all(
    gens.map((g, i) =>
      g.load({
        durationMs,
        startAt,
        slot: i,
        slots: gens.length,
        ...(how.rate !== undefined ? { totalRate: how.rate } : { window: how.window }),
      }),
    ),
  );
  await sleep(Math.max(0, startAt - now()));
  const read = (x: CpuSubject) => (x.read ?? readProcCpu)(x.pid);
  const c0 = subjects.map(read);
  const m0 = readMachineCpu();
  const gc0 = gens.map((g) => readProcCpu(g.pid));
  // zapwire's counters from the start of the load (SQL/s over the load window, not the 200 ms before it).
  const z0 = await Promise.all(subjects.map((x) => x.sample?.()));
  const loaded = await loads;
  const c1 = subjects.map(read);
  const m1 = readMachineCpu();
  const z1 = await Promise.all(subjects.map((x) => x.sample?.()));
  const acked = loaded.reduce((a, l) => a + l.acked, 0);
  const deadline = Date.now() + drainMs;
  while (Date.now() < deadline && gens.reduce((a, g) => a + g.progress.received, 0) < acked)
    await sleep(20);
  const c2 = subjects.map(read);
  const gc2 = gens.map((g) => readProcCpu(g.pid));
  const c = await Promise.all(gens.map((g) => g.collect()));
  const received = c.reduce((a, x) => a + x.received, 0);
  const elapsedSec =
    how.rate !== undefined ? durationMs / 1000 : Math.max(...loaded.map((l) => l.elapsedMs)) / 1000;
  const genUs = gens.reduce(
    (a, g, i) => a + (g.pid === undefined ? 0 : (cpuBetween(g.pid, gc0[i], gc2[i])?.cpuUs ?? 0)),
    0,
  );
  const genWallUs = gc0[0] && gc2[0] ? (gc2[0].at - gc0[0].at) * 1000 : 0;
  const uses = subjects.map((x, i): SubjectUse => {
    const names = typeof x.names === 'function' ? x.names() : x.names;
    const z = z0[i] && z1[i] ? serverLoad(z0[i], z1[i]) : undefined;
    if (x.pid === undefined) return { cpu: undefined, cpuUs: undefined, load: z };
    return {
      cpu: cpuBetween(x.pid, c0[i], c1[i], names),
      cpuUs: cpuBetween(x.pid, c0[i], c2[i])?.cpuUs,
      load: z,
    };
  });
  const figures: StepFigures = {
    ...(how.rate !== undefined
      ? { rate: how.rate }
      : { window: how.window, inFlight: how.window! * pairs }),
    settledBefore: settled,
    offered: how.rate !== undefined ? Math.round((how.rate * durationMs) / 1000) : 0,
    sent: c.reduce((a, x) => a + x.sent, 0),
    acked: c.reduce((a, x) => a + x.acked, 0),
    received,
    duplicates: c.reduce((a, x) => a + x.duplicates, 0),
    errors: c.reduce((a, x) => a + x.errors, 0),
    deliveredPerSec: Math.round(received / elapsedSec),
    latency0506: summarise(c.map((x) => x.latency0506)),
    latency0507: summarise(c.map((x) => x.latency0507)),
    sendLag: summarise(c.map((x) => x.sendLag)),
    generators:
      genWallUs > 0 && received > 0
        ? { cpuPercent: round1((genUs / genWallUs) * 100), cpuUsPerMsg: round1(genUs / received) }
        : undefined,
    machineCpuPercent: machineBetween(m0, m1),
  };
  return { figures, uses };
}

/** CPU µs per message received, when both are known. */
export const usPerMessage = (cpuUs: number | undefined, received: number) =>
  cpuUs !== undefined && received > 0 ? round1(cpuUs / received) : undefined;

async function step(
  target: Target,
  names: ReadonlyMap<number, string>,
  gens: ChatGenerator[],
  p: ChatParams,
  how: { rate?: number; window?: number },
  durationMs: number,
  pairs: number,
): Promise<ChatStep> {
  const {
    figures,
    uses: [broker],
  } = await loadStep(gens, how, durationMs, p.drainMs, pairs, [
    { pid: target.pid, names, ...(target.sample ? { sample: target.sample } : {}) },
  ]);
  const zap = broker!.load;
  return {
    ...figures,
    cpu: broker!.cpu,
    cpuUsPerMsg: usPerMessage(broker!.cpuUs, figures.received),
    ...(zap
      ? { sqlPerSec: zap.sqlPerSec, commitsPerSec: zap.commitsPerSec, rssMB: zap.rssMB }
      : {}),
  };
}
