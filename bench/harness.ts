/**
 * The parent's handles on its children: the server process and the load
 * generator processes, each a fork with typed IPC (bench/ipc.ts).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import hdr from 'hdr-histogram-js';
import type { ServerOptions } from '../src/server/config.js';
import type {
  ChatCollected,
  ChatPair,
  ChatProtocol,
  ChatReply,
  ChatRequest,
  Collected,
  GeneratorReply,
  GeneratorRequest,
  Identity,
  SeedPair,
  SeedPolls,
  SeedReply,
  SeedRequest,
  SeedSends,
  ServerReply,
  ServerRequest,
  ServerSample,
} from './ipc.js';
import { newHistogram } from './measure.js';

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

class Child<Req extends { rid: number }, Rep extends { t: string }> {
  private rid = 1;
  private readonly waiting = new Map<
    number,
    { resolve: (r: Rep) => void; reject: (e: Error) => void }
  >();
  readonly exited: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    onOther: (reply: Rep) => void = () => {},
  ) {
    child.on('message', (reply: Rep & { rid?: number }) => {
      const w = reply.rid === undefined ? undefined : this.waiting.get(reply.rid);
      if (!w) return onOther(reply);
      this.waiting.delete(reply.rid!);
      if (reply.t === 'failed')
        w.reject(new Error((reply as unknown as { message: string }).message));
      else w.resolve(reply);
    });
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        for (const w of this.waiting.values())
          w.reject(new Error(`child exited (${code ?? signal})`));
        this.waiting.clear();
        resolve();
      }),
    );
  }

  /** Asks the process to let go (`farewell`, answered `done`), then ends it, whether it answered or not. */
  async endAfter(farewell: DistributiveOmit<Req, 'rid'>): Promise<void> {
    await Promise.race([
      this.request(farewell, 'done' as Rep['t']).catch(() => undefined),
      sleep(5_000),
    ]);
    this.child.disconnect?.();
    await Promise.race([this.exited, sleep(2_000)]);
    this.kill();
  }

  request<T extends Rep['t']>(
    message: DistributiveOmit<Req, 'rid'>,
    _expect: T,
  ): Promise<Extract<Rep, { t: T }>> {
    const rid = this.rid++;
    return new Promise((resolve, reject) => {
      this.waiting.set(rid, { resolve: resolve as (r: Rep) => void, reject });
      this.child.send({ ...message, rid });
    });
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

/**
 * The node flags `npm start` and the `zapwire` command run the server with
 * (package.json "start", the shebang of src/cli/main.ts): the main thread's
 * young generation capped as the workers' are (DESIGN.md §Memory). The
 * server under test runs as users run it.
 */
export const SERVER_NODE_FLAGS = ['--max-semi-space-size=2'];

/**
 * The limits a public server needs (docs/protocol.md §Limits) that a
 * benchmark must lift to measure the server rather than its quotas: all load
 * comes from one address (127.0.0.1), a few users send thousands of messages
 * a second, offline recipients collect large backlogs, and the saturation
 * sweep keeps up to thousands of 05 in flight per connection. Passed
 * explicitly here so every report says what it ran with.
 */
export const BENCH_LIMITS: Readonly<Partial<ServerOptions>> = Object.freeze({
  rateLimit: 0,
  groupRateLimit: 0,
  maxPendingPerRecipient: 0,
  registerRate: 0,
  authFailuresPerMinute: 0,
  maxConnections: 0,
  maxConnectionsPerAddress: 0,
  maxInflight: 1_024,
});

export interface ServerHandleOptions extends Partial<ServerOptions> {
  /** Extra node flags for the server process (e.g. --cpu-prof). */
  execArgv?: string[];
}

export class ServerHandle {
  private constructor(
    private readonly proc: Child<ServerRequest, ServerReply>,
    readonly port: number,
    private readonly dir: string,
    /** The HTTP API's port, when the server was started with httpPort. */
    readonly httpPort: number | undefined,
    /** The legacy listener's port, when the server was started with legacyPort. */
    readonly legacyPort: number | undefined,
  ) {}

  static async start(options: ServerHandleOptions): Promise<ServerHandle> {
    const { execArgv = [], ...serverOptions } = options;
    const dir = mkdtempSync(join(tmpdir(), 'zapwire-bench-'));
    const child = fork(here('./server-process.js'), [], {
      execArgv: [...SERVER_NODE_FLAGS, ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const proc = new Child<ServerRequest, ServerReply>(child);
    try {
      const ready = await proc.request(
        {
          t: 'start',
          options: { ...BENCH_LIMITS, dbPath: join(dir, 'bench.db'), ...serverOptions },
        },
        'ready',
      );
      return new ServerHandle(proc, ready.port, dir, ready.httpPort, ready.legacyPort);
    } catch (err) {
      proc.kill();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** The server process's pid (its CPU is read from /proc, bench/proc-cpu.ts). */
  get pid(): number | undefined {
    return this.proc.child.pid;
  }

  /** OS thread ids of the server's JavaScript threads (its Workers), in creation order (Linux; [] elsewhere). */
  async jsThreads(): Promise<number[]> {
    return (await this.proc.request({ t: 'threads' }, 'threads')).jsThreads;
  }

  async sample(): Promise<ServerSample> {
    return (await this.proc.request({ t: 'sample' }, 'sample')).sample;
  }

  async stop(): Promise<void> {
    await Promise.race([
      this.proc.request({ t: 'stop' }, 'stopped').catch(() => undefined),
      sleep(15_000),
    ]);
    await Promise.race([this.proc.exited, sleep(2_000)]);
    this.proc.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Progress {
  received: number;
  sent: number;
  stored: number;
  open: number;
}

export class Generator {
  readonly progress: Progress = { received: 0, sent: 0, stored: 0, open: 0 };
  private readonly proc: Child<GeneratorRequest, GeneratorReply>;

  constructor() {
    this.proc = forkLoad<GeneratorRequest, GeneratorReply>('./load-generator.js', this.progress);
  }

  async register(port: number, count: number): Promise<Identity[]> {
    return (await this.proc.request({ t: 'register', port, count }, 'registered')).identities;
  }
  open(
    port: number,
    kind: 'push' | 'poll' | 'sender',
    identities: Identity[],
    concurrency = 200,
    timeoutMs = 60_000,
  ) {
    return this.proc.request(
      { t: 'open', port, kind, identities, concurrency, timeoutMs },
      'opened',
    );
  }
  async startPolling(intervalMs: number): Promise<void> {
    await this.proc.request({ t: 'start-polling', intervalMs }, 'done');
  }
  async startOriginal(port: number, identities: Identity[], intervalMs: number): Promise<void> {
    await this.proc.request({ t: 'start-original', port, identities, intervalMs }, 'done');
  }
  async stopPolling(): Promise<void> {
    await this.proc.request({ t: 'stop-polling' }, 'done');
  }
  load(targets: string[], durationMs: number, how: { rate?: number; window?: number }) {
    return this.proc.request({ t: 'load', targets, durationMs, ...how }, 'loaded');
  }
  async reset(): Promise<void> {
    await this.proc.request({ t: 'reset' }, 'done');
  }
  async collect(): Promise<Collected> {
    return (await this.proc.request({ t: 'collect' }, 'collected')).collected;
  }
  async close(): Promise<void> {
    await this.proc.endAfter({ t: 'close' });
  }
}

/** Forks a load process (bench/load-generator.ts, chat-generator.ts, seed-client.ts) whose progress replies update `progress`. */
function forkLoad<Req extends { rid: number }, Rep extends { t: string }>(
  file: string,
  progress: Progress,
): Child<Req, Rep> {
  const child = fork(here(file), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Child<Req, Rep>(child, (reply) => {
    if (reply.t !== 'progress') return;
    const p = reply as unknown as Progress;
    Object.assign(progress, { received: p.received, sent: p.sent, stored: p.stored, open: p.open });
  });
}

/** A chat load generator process (bench/chat-generator.ts). */
export class ChatGenerator {
  readonly progress: Progress = { received: 0, sent: 0, stored: 0, open: 0 };
  private readonly proc: Child<ChatRequest, ChatReply>;

  constructor() {
    this.proc = forkLoad<ChatRequest, ChatReply>('./chat-generator.js', this.progress);
  }

  get pid(): number | undefined {
    return this.proc.child.pid;
  }
  /** `port`: where senders and receivers connect, or each their own (two nodes of a cluster). */
  open(
    protocol: ChatProtocol,
    port: number | { senders: number; receivers: number },
    pairs: ChatPair[],
    concurrency = 200,
    timeoutMs = 60_000,
  ) {
    const ports =
      typeof port === 'number' ? { port } : { port: port.senders, receiverPort: port.receivers };
    return this.proc.request(
      { t: 'open', protocol, ...ports, pairs, concurrency, timeoutMs },
      'opened',
    );
  }
  load(how: {
    durationMs: number;
    startAt: number;
    totalRate?: number;
    slot: number;
    slots: number;
    window?: number;
  }) {
    return this.proc.request({ t: 'load', ...how }, 'loaded');
  }
  async reset(): Promise<void> {
    await this.proc.request({ t: 'reset' }, 'done');
  }
  async collect(): Promise<ChatCollected> {
    return (await this.proc.request({ t: 'collect' }, 'collected')).collected;
  }
  /** Closes every connection; the process stays for the next system. */
  async drop(): Promise<void> {
    await this.proc.request({ t: 'drop' }, 'done');
  }
  async close(): Promise<void> {
    await this.proc.endAfter({ t: 'drop' });
  }
}

/** The seed workload's client process (bench/seed-client.ts): the original client's connection per request. */
export class SeedClient {
  readonly progress: Progress = { received: 0, sent: 0, stored: 0, open: 0 };
  private readonly proc: Child<SeedRequest, SeedReply>;

  constructor() {
    this.proc = forkLoad<SeedRequest, SeedReply>('./seed-client.js', this.progress);
  }

  get pid(): number | undefined {
    return this.proc.child.pid;
  }
  register(port: number, count: number, clients: number) {
    return this.proc.request({ t: 'register', port, count, clients }, 'registered');
  }
  async sends(
    port: number,
    pairs: SeedPair[],
    clients: number,
    durationMs: number,
  ): Promise<SeedSends> {
    return (await this.proc.request({ t: 'sends', port, pairs, clients, durationMs }, 'sent'))
      .result;
  }
  async polls(
    port: number,
    numbers: string[],
    clients: number,
    durationMs: number,
  ): Promise<SeedPolls> {
    return (await this.proc.request({ t: 'polls', port, numbers, clients, durationMs }, 'polled'))
      .result;
  }
  async close(): Promise<void> {
    await this.proc.endAfter({ t: 'close' });
  }
}

/** Registers `count` users, split across generators (pipelined 01 frames). */
export async function registerMany(
  gens: Generator[],
  port: number,
  count: number,
): Promise<Identity[]> {
  const parts = await Promise.all(
    gens.map((g, i) =>
      g.register(port, Math.floor(count / gens.length) + (i < count % gens.length ? 1 : 0)),
    ),
  );
  return parts.flat();
}

/** Splits a list into n nearly equal slices. */
export function split<T>(items: readonly T[], n: number): T[][] {
  const out: T[][] = Array.from({ length: n }, () => []);
  for (const [i, item] of items.entries()) out[i % n]!.push(item);
  return out;
}

/** Generators so that none holds more than ~8,000 sockets (the limit is 20,000 open files per process). */
export function generatorsFor(sockets: number, min = 1): number {
  return Math.max(min, Math.ceil(sockets / 8_000));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ---- histograms -----------------------------------------------------------------

export interface LatencySummary {
  count: number;
  /** milliseconds */
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
  /** [latency ms, fraction <= it] points for CDF charts. */
  cdf: [number, number][];
}

const CDF_PERCENTILES = [
  0, 1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95, 97, 99, 99.5, 99.9, 99.99, 100,
];

/** Merges encoded hdr histograms (microseconds) and summarises them in ms. */
export function summarise(encoded: string[]): LatencySummary {
  const total = newHistogram();
  for (const e of encoded) total.add(hdr.decodeFromCompressedBase64(e, 32, false));
  const ms = (us: number) => Math.round(us) / 1000;
  return {
    count: total.totalCount,
    p50: ms(total.getValueAtPercentile(50)),
    p95: ms(total.getValueAtPercentile(95)),
    p99: ms(total.getValueAtPercentile(99)),
    max: ms(total.maxValue),
    mean: Math.round(total.mean) / 1000,
    cdf:
      total.totalCount === 0
        ? []
        : CDF_PERCENTILES.map((p) => [ms(total.getValueAtPercentile(p)), p / 100]),
  };
}

/** Server load between two samples: SQL/s, CPU % of one core, RSS. */
export interface ServerLoad {
  seconds: number;
  sqlPerSec: number;
  commitsPerSec: number;
  storedPerSec: number;
  deliveredPerSec: number;
  cpuPercent: number;
  rssMB: number;
  sessions: number;
}

export function serverLoad(a: ServerSample, b: ServerSample): ServerLoad {
  const s = (b.at - a.at) / 1000;
  const r = (x: number) => Math.round(x * 10) / 10;
  return {
    seconds: r(s),
    sqlPerSec: r((b.stats.statements - a.stats.statements) / s),
    commitsPerSec: r((b.stats.commits - a.stats.commits) / s),
    storedPerSec: r((b.stats.messagesStored - a.stats.messagesStored) / s),
    deliveredPerSec: r((b.stats.messagesDelivered - a.stats.messagesDelivered) / s),
    cpuPercent: r(
      ((b.cpuUser + b.cpuSystem - a.cpuUser - a.cpuSystem) / 1000 / (b.at - a.at)) * 100,
    ),
    rssMB: r(b.rss / 1048576),
    sessions: b.sessions,
  };
}
