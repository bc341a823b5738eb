import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { Piscina } from 'piscina';
import type { ServerOptions } from '../config.js';
import { type MetricsJson, RetiredTotals } from '../metrics/metrics.js';
import { BatchedPort } from '../threads/batched-port.js';
import type {
  BrokerControl,
  FaultInjection,
  HostInbound,
  HostOutbound,
  HostTask,
} from '../threads/thread-messages.js';
import { workerFile, workerResourceLimits } from '../threads/worker-files.js';

/** The main thread's side of one session host. */
export interface HostHandle {
  readonly id: number;
  readonly inbound: BatchedPort<HostInbound>;
  sessions: number;
  retiring: boolean;
  drained: Promise<void>;
}

export type OutboundHandler = (host: HostHandle, message: HostOutbound) => void;

/**
 * Thread per client: idle hosts kept running ahead of demand, so that a new
 * client never waits for a thread to start. A start costs ~170 ms of CPU on a
 * 2-vCPU machine (a bare Worker ~60 ms, then pino and prom-client), and 32
 * started together there all finished ~4.6 s later (DESIGN.md §Thread models:
 * churn). Four spares cost ~30 MB (a Worker is ~7.5 MB) and absorb four
 * clients arriving at once.
 */
export const WARM_SPARES = 4;
/**
 * Thread starts under way at once, after the first spares. Starts slow the
 * main thread down too: under churn on 2 loaded vCPUs, with 4 at a time its
 * `09 503` took 240-370 ms (p50), with 1 at a time 14-36 ms.
 */
const MAX_STARTING = 1;
/** How long an idle host beyond the WARM_SPARES waits for a client before it retires (piscina's own idle timeout for threads). */
const SPARE_IDLE_MS = 30_000;

type PooledHost = HostHandle & {
  port: MessagePort;
  /** The host said `ready`: its thread runs. */
  ready: boolean;
  /** Thread per client: when it last became idle. */
  idleSince: number;
};

/** Every host's metrics, and the hosts that did not answer in time. */
export interface HostsMetrics {
  parts: MetricsJson[];
  missing: number[];
}

/**
 * Assigns connections to session hosts running as long-lived piscina tasks.
 * Pooled (sessionsPerThread > 1): one host per thread, started up front, each
 * taking up to sessionsPerThread sessions. Thread per client
 * (sessionsPerThread = 1): a connection takes an idle host that runs already
 * (a spare: WARM_SPARES are kept, and one is started as one is taken); when
 * the connection closes, its host waits for the next client, so clients that
 * come and go reuse running hosts and pay no thread start. Idle hosts beyond
 * WARM_SPARES retire after SPARE_IDLE_MS and their threads return to piscina.
 * When no host can take a connection, `acquire` says so at once: the caller
 * answers `09 503` instead of leaving the client waiting, in a queue or for a
 * thread start. Hosts never outnumber `threads` (a retired host counts until
 * its task has ended), so piscina never queues a host behind others.
 */
export class HostPool {
  /** Undefined with `--threads 0` (the sessions run on the broker thread). */
  private readonly piscina: Piscina | undefined;
  private readonly onBrokerThread: boolean;
  private readonly hosts = new Map<number, PooledHost>();
  /** Thread per client: idle hosts that run, the most recently idle last. */
  private readonly spares: PooledHost[] = [];
  /** Hosts that have not said `ready` yet. */
  private starting = 0;
  /** Resolves `start()` once the first hosts run (thread per client). */
  private onAllStarted?: () => void;
  private spareSweep?: NodeJS.Timeout;
  private nextHostId = 1; // 0 is the main thread's own broker channel
  private readonly dedicated: boolean;
  private stopping = false;
  private nextRid = 1;
  private readonly waiting = new Map<
    number,
    { hostId: number; resolve: (json: MetricsJson | undefined) => void }
  >();
  private readonly retired = new RetiredTotals();
  /** Retired totals being added; a scrape waits for them. */
  private retiredPending: Promise<void> = Promise.resolve();
  /** Hosts whose final totals are in `retired`, until they are forgotten. */
  private readonly finalSeen = new Set<number>();

  constructor(
    private readonly options: Readonly<ServerOptions>,
    private readonly broker: Worker,
    private readonly onOutbound: OutboundHandler,
    private readonly onHostGone: (hostId: number) => void,
    private readonly logger: Logger,
    private readonly onLog: (lines: string[]) => void = () => {},
    private readonly faults?: FaultInjection,
    /** Tests shorten it to see idle hosts retire. */
    private readonly spareIdleMs = SPARE_IDLE_MS,
  ) {
    this.dedicated = options.sessionsPerThread === 1;
    this.onBrokerThread = options.threads === 0;
    this.piscina = this.onBrokerThread
      ? undefined
      : new Piscina({
          filename: workerFile('../session-host/session-host-worker.js'),
          minThreads: this.dedicated ? Math.min(WARM_SPARES, options.threads) : options.threads,
          maxThreads: options.threads,
          // One long-lived task per thread: the task is the host.
          concurrentTasksPerWorker: 1,
          // With piscina's default atomics 'sync' a worker with no task running
          // blocks in Atomics.wait and freezes the ports a long-lived task
          // listens on (seen on Node 20, piscina 5.3).
          atomics: 'disabled',
          idleTimeout: 30_000,
          resourceLimits: workerResourceLimits(),
        });
    this.piscina?.on('error', (err: unknown) =>
      this.logger.error({ err }, 'session host thread error'),
    );
  }

  /**
   * Starts the hosts, so that the first clients pay no thread start: pooled
   * mode every host (resolving at once, as ever), thread per client its spares
   * (resolving once they run, so the server listens with hosts ready).
   */
  start(): Promise<void> {
    if (!this.dedicated) {
      for (let i = 0; i < Math.max(1, this.options.threads); i++) this.spawn();
      return Promise.resolve();
    }
    this.spareSweep = setInterval(() => this.retireIdleSpares(), this.spareIdleMs / 6);
    this.spareSweep.unref();
    const started = new Promise<void>((resolve) => (this.onAllStarted = resolve));
    // All at once: no client is waiting yet (piscina starts minThreads threads together anyway).
    for (let i = 0; i < Math.min(WARM_SPARES, this.options.threads); i++) this.spawn();
    return started;
  }

  /** A host with room for one more session, or undefined when all are full. */
  acquire(): HostHandle | undefined {
    if (this.dedicated) return this.takeSpare();
    let best: HostHandle | undefined;
    for (const host of this.hosts.values()) {
      if (host.retiring || host.sessions >= this.options.sessionsPerThread) continue;
      if (!best || host.sessions < best.sessions) best = host;
    }
    if (!best && this.hosts.size < this.options.threads) best = this.spawn();
    if (!best && this.onBrokerThread && this.hosts.size === 0 && !this.stopping)
      best = this.spawn();
    if (best) best.sessions++;
    return best;
  }

  /** The most recently idle spare (the others may idle out), or none: never a host still starting. */
  private takeSpare(): HostHandle | undefined {
    const host = this.spares.pop();
    if (!host) return undefined;
    host.sessions++;
    this.topUpSpares();
    return host;
  }

  /** Starts hosts, one at a time, until WARM_SPARES are idle or starting; never more hosts than threads. */
  private topUpSpares(): void {
    while (
      !this.stopping &&
      this.starting < MAX_STARTING &&
      this.spares.length + this.starting < WARM_SPARES &&
      this.hosts.size < this.options.threads
    ) {
      this.spawn();
    }
  }

  release(host: HostHandle): void {
    host.sessions--;
    if (this.dedicated && host.sessions === 0) this.park(host as PooledHost);
  }

  /** A thread-per-client host with no client waits for the next one. */
  private park(host: PooledHost): void {
    if (this.stopping || host.retiring) return;
    host.idleSince = Date.now();
    this.spares.push(host);
  }

  /** Retires the spares beyond WARM_SPARES that have been idle SPARE_IDLE_MS (the oldest idle are first). */
  private retireIdleSpares(): void {
    const before = Date.now() - this.spareIdleMs;
    while (this.spares.length > WARM_SPARES && this.spares[0]!.idleSince <= before) {
      const host = this.spares.shift()!;
      host.retiring = true;
      host.inbound.send({ t: 'retire' });
    }
  }

  /** Every host finishes what is under way, tells its sessions 503, and ends. */
  async shutdown(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const drained: Promise<void>[] = [];
    for (const host of this.hosts.values()) {
      host.inbound.send({ t: 'shutdown' });
      drained.push(host.drained);
    }
    await Promise.race([Promise.all(drained), delay(timeoutMs)]);
  }

  /**
   * Asks every host for its metrics (a scrape, or a health check: a host that
   * does not answer within `timeoutMs` is listed as missing). Retired hosts'
   * totals come along as one more part.
   */
  async collectMetrics(timeoutMs: number): Promise<HostsMetrics> {
    const asked = [...this.hosts.values()]
      .filter((host) => !this.finalSeen.has(host.id))
      .map((host) => {
        const rid = this.nextRid++;
        return new Promise<{ id: number; json: MetricsJson | undefined }>((resolve) => {
          const timer = setTimeout(() => {
            this.waiting.delete(rid);
            resolve({ id: host.id, json: undefined });
          }, timeoutMs);
          timer.unref();
          this.waiting.set(rid, {
            hostId: host.id,
            resolve: (json) => {
              clearTimeout(timer);
              resolve({ id: host.id, json });
            },
          });
          host.inbound.send({ t: 'metrics', rid });
        });
      });
    const answers = await Promise.all(asked);
    await this.retiredPending;
    const parts: MetricsJson[] = [this.retired.json];
    const missing: number[] = [];
    for (const { id, json } of answers) {
      // A host that retired meanwhile is counted once, in the retired totals.
      if (this.finalSeen.has(id)) continue;
      if (json) parts.push(json);
      else missing.push(id);
    }
    return { parts, missing };
  }

  async destroy(): Promise<void> {
    clearInterval(this.spareSweep);
    for (const host of this.hosts.values()) host.port.close();
    await this.piscina?.destroy();
  }

  private spawn(): PooledHost {
    const id = this.nextHostId++;
    const toMain = new MessageChannel();
    const toBroker = new MessageChannel();
    // On the broker thread, the host's channel to the broker is made there.
    if (this.piscina)
      this.broker.postMessage(
        { t: 'attach', hostId: id, port: toBroker.port1 } satisfies BrokerControl,
        [toBroker.port1],
      );
    else toBroker.port1.close();
    let markDrained!: () => void;
    const drained = new Promise<void>((resolve) => (markDrained = resolve));
    const task: HostTask = {
      hostId: id,
      mainPort: toMain.port2,
      brokerPort: toBroker.port2,
      options: {
        pollBatch: this.options.pollBatch,
        logLevel: this.options.logLevel,
        anonymousTimeoutMs: this.options.anonymousTimeoutMs,
        maxInflight: this.options.maxInflight,
        faults: this.faults,
      },
    };
    // The port to main is closed by main when it reads `drained` (the host's
    // last message), never when the task resolves: that news travels on
    // piscina's own channel and may overtake the host's last writes.
    void (
      this.piscina
        ? this.piscina.run(task, { transferList: [toMain.port2, toBroker.port2] })
        : this.hostOnBroker(task, drained)
    ).then(
      () => this.forget(id, false),
      (err: unknown) => {
        // During shutdown this is destroy() ending a host that had not drained in time.
        if (this.stopping)
          this.logger.warn({ host: id }, 'session host terminated before it drained');
        else this.logger.error({ err, host: id }, 'session host failed');
        markDrained();
        this.forget(id, true);
      },
    );
    const host: PooledHost = {
      id,
      inbound: new BatchedPort<HostInbound>(toMain.port1),
      sessions: 0,
      retiring: false,
      drained,
      port: toMain.port1,
      ready: false,
      idleSince: 0,
    };
    this.starting++;
    toMain.port1.on('message', (batch: HostOutbound[]) => {
      for (const message of batch) {
        if (message.t === 'ready') this.onReady(host);
        else if (message.t === 'drained') {
          markDrained();
          toMain.port1.close();
        } else if (message.t === 'metrics') this.onMetrics(id, message);
        else if (message.t === 'log') this.onLog(message.lines);
        else this.onOutbound(host, message);
      }
    });
    this.hosts.set(id, host);
    return host;
  }

  /**
   * `--threads 0`: the broker thread hosts the sessions (DESIGN.md §Thread
   * models). It gets only the port to main; its port to the broker is a
   * channel within its own thread. The host's life ends with its `drained`.
   */
  private hostOnBroker(task: HostTask, drained: Promise<void>): Promise<void> {
    task.brokerPort.close();
    this.broker.postMessage(
      {
        t: 'hostSessions',
        hostId: task.hostId,
        mainPort: task.mainPort,
        options: task.options,
      } satisfies BrokerControl,
      [task.mainPort],
    );
    return drained;
  }

  private onReady(host: PooledHost): void {
    if (!this.hosts.has(host.id)) return;
    this.started(host);
    if (!this.dedicated) return;
    if (host.sessions === 0) this.park(host);
    this.topUpSpares();
  }

  /** Once per host: it said `ready`, or its task ended first (that news may overtake `ready`). */
  private started(host: PooledHost): void {
    if (host.ready) return;
    host.ready = true;
    this.starting--;
    if (this.starting === 0) {
      this.onAllStarted?.();
      this.onAllStarted = undefined;
    }
  }

  private onMetrics(id: number, message: Extract<HostOutbound, { t: 'metrics' }>): void {
    if (message.final) {
      this.finalSeen.add(id);
      // Questions this host will no longer answer: its totals are in `retired`.
      for (const [rid, entry] of this.waiting) {
        if (entry.hostId !== id) continue;
        this.waiting.delete(rid);
        entry.resolve(undefined);
      }
      const json = message.json;
      this.retiredPending = this.retiredPending
        .then(() => this.retired.add(json))
        .catch((err: unknown) => this.logger.error({ err }, 'cannot add retired metrics'));
      return;
    }
    const entry = this.waiting.get(message.rid);
    this.waiting.delete(message.rid);
    entry?.resolve(message.json);
  }

  private forget(id: number, failed: boolean): void {
    const host = this.hosts.get(id);
    if (!host) return;
    this.hosts.delete(id);
    this.started(host);
    const spare = this.spares.indexOf(host);
    if (spare >= 0) this.spares.splice(spare, 1);
    // Wait one scrape's worth before forgetting the host retired: a scrape
    // under way may still hold its last live answer.
    setTimeout(() => this.finalSeen.delete(id), 5_000).unref();
    if (failed) host.port.close();
    this.broker.postMessage({ t: 'detach', hostId: id } satisfies BrokerControl);
    if (failed && host.sessions > 0) this.onHostGone(id);
    // A pooled host that died is replaced, and in thread-per-client mode a
    // spare started if one is due; after a failure, only after a pause, so a
    // host that cannot start does not spin.
    if (this.stopping) return;
    if (!this.dedicated) {
      if (failed) setTimeout(() => !this.stopping && this.spawn(), 1_000).unref();
    } else if (failed) setTimeout(() => this.topUpSpares(), 1_000).unref();
    else this.topUpSpares();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
