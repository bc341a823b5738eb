/**
 * The cluster scenario (issue #11 item 6): the chat shape (bench/chat.ts:
 * many pairs of users, each sender its own connection sending only to its
 * receiver, open loop at given rates, then closed loop) on three
 * configurations in the same run, so that the figures are ratios:
 *
 *   1. one node on SQLite (the default store),
 *   2. one node on PostgreSQL (`--db postgres://`),
 *   3. two nodes on PostgreSQL and Redis (`--redis`), every sender connected
 *      to node A and every receiver's push session on node B, so that every
 *      message crosses nodes (05 stored by A, 06 pushed by B).
 *
 * PostgreSQL and Redis are started here (bench/engines.ts), a fresh engine
 * per configuration (a fresh database, no WAL or checkpoint left by the
 * previous one), and stopped at the end. CPU is read from /proc for every
 * node (per thread) and for every engine (PostgreSQL's backends summed as a
 * process tree), and each step says what bounds it: the busiest thread or
 * process, against all the processes together.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { optionEntries, type ServerOptions } from '../src/server/config.js';
import {
  type ChatParams,
  type CpuSubject,
  loadStep,
  openAndSweep,
  round1,
  type StepFigures,
  type SubjectUse,
  type Sweep,
  usPerMessage,
} from './chat.js';
import {
  type Engine,
  type EngineName,
  engineMissing,
  startPostgres,
  startRedis,
} from './engines.js';
import { ChatGenerator, Generator, ServerHandle } from './harness.js';
import type { ChatPair } from './ipc.js';
import { type CpuUse, processTree, readTreeCpu } from './proc-cpu.js';
import type { Context } from './scenarios.js';

/** The chat scenario's sizes, rates and windows (no peers: every configuration is zapwire's). */
export type ClusterParams = Omit<ChatParams, 'peers' | 'transports'>;

export type ClusterConfig = 'sqlite' | 'postgres' | 'postgres+redis';

interface ConfigSpec {
  config: ClusterConfig;
  label: string;
  engines: EngineName[];
  nodes: 1 | 2;
}

export const CONFIGS: readonly ConfigSpec[] = [
  { config: 'sqlite', label: '1 node, SQLite', engines: [], nodes: 1 },
  { config: 'postgres', label: '1 node, PostgreSQL', engines: ['postgres'], nodes: 1 },
  {
    config: 'postgres+redis',
    label: '2 nodes, PostgreSQL + Redis (senders on A, receivers on B)',
    engines: ['postgres', 'redis'],
    nodes: 2,
  },
];

export const NOT_INSTALLED =
  'not measured: PostgreSQL/Redis not installed (Debian: apt-get install -y postgresql redis-server)';
export const NO_REDIS = 'not measured: this build has no --redis';

/** One process of a configuration over a step. */
export interface ProcessUse {
  /** 'node', 'node A', 'node B', 'PostgreSQL', 'Redis'. */
  process: string;
  /** Over the load window (% of one core; a node per thread, an engine per process). */
  cpu: CpuUse | undefined;
  /** Its CPU from the start of the load to the last delivery, per message delivered, µs. */
  cpuUsPerMsg: number | undefined;
  /** A node's counters. */
  sqlPerSec?: number;
  commitsPerSec?: number;
}

/** What bounds a step: the busiest thread (or engine process), or the cores. */
export interface Bound {
  /** "node A js1", "PostgreSQL tid 1234", … */
  busiest: string;
  busiestPercent: number;
  /** Every node, engine and generator process together, % of one core. */
  totalPercent: number;
  /** Every process of the machine, % of one core. */
  machinePercent: number | undefined;
  cores: number;
  /**
   * thread: one thread near a core; cores: these processes keep the cores
   * near busy; shared: the cores were near busy, with other work than these
   * processes; waits: none of them (fsync, round trips).
   */
  by: 'thread' | 'cores' | 'shared' | 'waits' | 'unknown';
}

export interface ClusterStep extends StepFigures {
  processes: ProcessUse[];
  /** Every node's and engine's CPU per message delivered, µs. */
  cpuUsPerMsg: number | undefined;
  bound: Bound;
}

export interface ClusterRun extends Sweep<ClusterStep> {
  config: ClusterConfig;
  label: string;
  nodes: number;
}

/** A share of one core at or above which a thread is the bound. */
const BUSY = 85;

/**
 * This build's option keys for `--redis` and `--node-id`, read from the
 * option table `zapwire serve --help` is made of; undefined when it has no
 * `--redis`.
 */
export function clusterOptionKeys(): { redis: string; nodeId: string | undefined } | undefined {
  const key = (flag: string) =>
    optionEntries().find(([, spec]) => spec.flag.split(' ')[0] === flag)?.[0];
  const redis = key('--redis');
  return redis === undefined ? undefined : { redis, nodeId: key('--node-id') };
}

/** An Error from a server that does not know an option (src/server/config.ts). */
const refusedOption = (err: unknown) => err instanceof Error && /unknown option/.test(err.message);

class NotMeasured extends Error {}

interface Node {
  name: string;
  server: ServerHandle;
}

/** The processes of one configuration, started in order and stopped whatever happened. */
class Setup {
  readonly nodes: Node[] = [];
  readonly engines: { name: string; engine: Engine }[] = [];

  static async start(ctx: Context, spec: ConfigSpec): Promise<Setup> {
    const keys = spec.engines.includes('redis') ? clusterOptionKeys() : undefined;
    if (spec.engines.includes('redis') && !keys) throw new NotMeasured(NO_REDIS);
    const setup = new Setup();
    try {
      let db: Partial<ServerOptions> = {};
      if (spec.engines.includes('postgres')) {
        const pg = await startPostgres();
        setup.engines.push({ name: 'PostgreSQL', engine: pg });
        db = { dbPath: pg.url };
      }
      if (keys) {
        const redis = await startRedis();
        setup.engines.push({ name: 'Redis', engine: redis });
        for (const id of ['a', 'b'])
          await setup.startNode(ctx, `node ${id.toUpperCase()}`, {
            ...db,
            [keys.redis]: redis.url,
            ...(keys.nodeId ? { [keys.nodeId]: id } : {}),
          });
      } else await setup.startNode(ctx, 'node', db);
      return setup;
    } catch (err) {
      await setup.stop();
      throw refusedOption(err) ? new NotMeasured(NO_REDIS) : err;
    }
  }

  private async startNode(ctx: Context, name: string, options: Partial<ServerOptions>) {
    const server = await ServerHandle.start({
      execArgv: ctx.serverExecArgv,
      ...ctx.serverOptions,
      ...options,
    });
    this.nodes.push({ name, server });
  }

  /** Senders' node and receivers' node: the same one, or A and B. */
  get ports(): { senders: number; receivers: number } {
    return { senders: this.nodes[0]!.server.port, receivers: this.nodes.at(-1)!.server.port };
  }

  /** Every process measured, nodes first; node thread names read once the sessions are open. */
  async subjects(): Promise<{ name: string; subject: CpuSubject }[]> {
    const nodes = await Promise.all(
      this.nodes.map(async ({ name, server }) => ({
        name,
        subject: {
          pid: server.pid,
          // js1 … jsN: the node's Workers in creation order (the broker's first, as in the chat scenario).
          names: new Map((await server.jsThreads()).map((tid, i) => [tid, `js${i + 1}`])),
          sample: () => server.sample(),
        },
      })),
    );
    const engines = this.engines.map(({ name, engine }) => ({
      name,
      subject: {
        pid: engine.pid,
        read: readTreeCpu,
        names: () => processNames(engine.pid),
      },
    }));
    return [...nodes, ...engines];
  }

  async stop(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.server.stop()));
    await Promise.all(this.engines.map((e) => e.engine.stop()));
  }
}

/** PostgreSQL's processes by what they do (its process titles): "walwriter", "backend :40112" (the client's port), … */
function processNames(root: number | undefined): ReadonlyMap<number, string> {
  const names = new Map<number, string>();
  if (root === undefined) return names;
  for (const pid of processTree(root).slice(1)) {
    const title = readTitle(pid);
    if (title === undefined) continue;
    const backend = /^postgres: \S+ \S+ [\d.]+\((\d+)\)/.exec(title);
    names.set(pid, backend ? `backend :${backend[1]}` : title.replace(/^postgres: /, ''));
  }
  return names;
}

function readTitle(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ').trim();
  } catch {
    return undefined;
  }
}

export async function cluster(ctx: Context) {
  const p = ctx.params.cluster;
  const runs: ClusterRun[] = [];
  const skipped: { config: ClusterConfig; reason: string }[] = [];
  const failed: { config: ClusterConfig; error: string }[] = [];
  const gens = Array.from({ length: p.generators }, () => new ChatGenerator());
  try {
    for (const spec of CONFIGS) {
      const skip = (reason: string) => {
        skipped.push({ config: spec.config, reason });
        process.stderr.write(`\ncluster: ${spec.label} ${reason}\n`);
      };
      const fail = (err: unknown) => {
        failed.push({ config: spec.config, error: errorText(err) });
        process.stderr.write(`\ncluster: ${spec.label} failed: ${failed.at(-1)!.error}\n`);
      };
      if (spec.engines.some((e) => engineMissing(e) !== undefined)) {
        skip(NOT_INSTALLED);
        continue;
      }
      ctx.phase(`cluster ${spec.config}: starting`);
      let setup: Setup;
      try {
        setup = await Setup.start(ctx, spec);
      } catch (err) {
        if (err instanceof NotMeasured) skip(err.message);
        else fail(err);
        continue;
      }
      try {
        runs.push(await runConfig(ctx, gens, spec, setup));
      } catch (err) {
        fail(err);
      } finally {
        await setup.stop();
      }
    }
  } finally {
    await Promise.all(gens.map((g) => g.close()));
  }
  return { params: p, runs, skipped, failed };
}

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function runConfig(
  ctx: Context,
  gens: ChatGenerator[],
  spec: ConfigSpec,
  setup: Setup,
): Promise<ClusterRun> {
  const p = ctx.params.cluster;
  ctx.phase(`cluster ${spec.config}: registering ${2 * p.pairs} users`);
  const pairs = await registerPairs(setup.ports.senders, p.pairs);
  let subjects: { name: string; subject: CpuSubject }[] = [];
  const sweep = await openAndSweep(ctx, gens, `cluster ${spec.config}`, p, {
    protocol: 'zapwire',
    port: setup.ports,
    pairs,
    // Time for the receivers' presence to reach the other node (a cluster) and for the threads to settle.
    settleMs: spec.nodes > 1 ? 1_000 : 300,
    ready: async () => {
      subjects = await setup.subjects();
    },
    step: async (how, durationMs) =>
      clusterStep(
        await loadStep(
          gens,
          how,
          durationMs,
          p.drainMs,
          pairs.length,
          subjects.map((s) => s.subject),
        ),
        subjects.map((s) => s.name),
      ),
  });
  return { config: spec.config, label: spec.label, nodes: spec.nodes, ...sweep };
}

/** Registers 2 × `count` users on `port` (any node: they share the store), paired in order. */
async function registerPairs(port: number, count: number): Promise<ChatPair[]> {
  const reg = new Generator();
  try {
    const ids = await reg.register(port, 2 * count);
    return Array.from({ length: count }, (_, i) => ({
      sender: ids[2 * i]!,
      receiver: ids[2 * i + 1]!,
    }));
  } finally {
    await reg.close();
  }
}

function clusterStep(
  r: { figures: StepFigures; uses: SubjectUse[] },
  names: string[],
): ClusterStep {
  const { figures, uses } = r;
  const processes = uses.map(
    (u, i): ProcessUse => ({
      process: names[i]!,
      cpu: u.cpu,
      cpuUsPerMsg: usPerMessage(u.cpuUs, figures.received),
      ...(u.load ? { sqlPerSec: u.load.sqlPerSec, commitsPerSec: u.load.commitsPerSec } : {}),
    }),
  );
  const known = uses.every((u) => u.cpuUs !== undefined);
  return {
    ...figures,
    processes,
    cpuUsPerMsg: known
      ? usPerMessage(
          uses.reduce((a, u) => a + u.cpuUs!, 0),
          figures.received,
        )
      : undefined,
    bound: boundOf(processes, {
      generators: figures.generators?.cpuPercent,
      machine: figures.machineCpuPercent,
    }),
  };
}

/** The busiest thread of every process measured, against a core and all of them against the cores. */
export function boundOf(
  processes: ProcessUse[],
  /** % of one core: the load generators together, and every process of the machine. */
  around: { generators: number | undefined; machine: number | undefined },
  cores = availableParallelism(),
): Bound {
  const machinePercent = around.machine;
  let busiest = '–';
  let busiestPercent = 0;
  for (const p of processes)
    for (const t of p.cpu?.threads ?? [])
      if (t.thread !== 'others' && t.cpuPercent > busiestPercent) {
        busiest = `${p.process} ${t.thread}`;
        busiestPercent = t.cpuPercent;
      }
  const measured = processes.every((p) => p.cpu !== undefined);
  const totalPercent = round1(
    processes.reduce((a, p) => a + (p.cpu?.cpuPercent ?? 0), 0) + (around.generators ?? 0),
  );
  const by: Bound['by'] = !measured
    ? 'unknown'
    : busiestPercent >= BUSY
      ? 'thread'
      : totalPercent >= BUSY * cores
        ? 'cores'
        : (machinePercent ?? 0) >= BUSY * cores
          ? 'shared'
          : 'waits';
  return { busiest, busiestPercent, totalPercent, machinePercent, cores, by };
}
