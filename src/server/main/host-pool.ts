import { MessageChannel, type MessagePort, type Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Logger } from 'pino';
import { BatchedPort } from '../batched-port.js';
import type { ServerOptions } from '../config.js';
import { RetiredTotals, type MetricsJson } from '../metrics/metrics.js';
import type { BrokerControl, FaultInjection, HostInbound, HostOutbound, HostTask } from '../thread-messages.js';
import { workerFile, workerResourceLimits } from '../worker-files.js';

/** The main thread's side of one session host. */
export interface HostHandle {
  readonly id: number;
  readonly inbound: BatchedPort<HostInbound>;
  sessions: number;
  retiring: boolean;
  drained: Promise<void>;
}

export type OutboundHandler = (host: HostHandle, message: HostOutbound) => void;

/** Every host's metrics, and the hosts that did not answer in time. */
export interface HostsMetrics {
  parts: MetricsJson[];
  missing: number[];
}

/**
 * Assigns connections to session hosts running as long-lived piscina tasks.
 * Pooled (sessionsPerThread > 1): one host per thread, started up front, each
 * taking up to sessionsPerThread sessions. Thread per client
 * (sessionsPerThread = 1): a host is started for each connection and retired
 * when it closes, so the thread returns to piscina's idle pool for the next.
 * When no host can take a connection, `acquire` says so at once: the caller
 * answers `09 503` instead of leaving the client waiting in a queue.
 */
export class HostPool {
  private readonly piscina: Piscina;
  private readonly hosts = new Map<number, HostHandle & { port: MessagePort; finished: Promise<unknown> }>();
  private nextHostId = 1; // 0 is the main thread's own broker channel
  private readonly dedicated: boolean;
  private stopping = false;
  private nextRid = 1;
  private readonly waiting = new Map<number, { hostId: number; resolve: (json: MetricsJson | undefined) => void }>();
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
  ) {
    this.dedicated = options.sessionsPerThread === 1;
    this.piscina = new Piscina({
      filename: workerFile('./session/session-host-worker.js'),
      minThreads: this.dedicated ? Math.min(2, options.threads) : options.threads,
      maxThreads: options.threads,
      // One long-lived task per thread: the task is the host.
      concurrentTasksPerWorker: 1,
      // MEASUREMENTS.md: with atomics 'sync' an idle worker blocks in
      // Atomics.wait and freezes the ports a long-lived task listens on.
      atomics: 'disabled',
      idleTimeout: 30_000,
      resourceLimits: workerResourceLimits(),
    });
    this.piscina.on('error', (err: unknown) => this.logger.error({ err }, 'session host thread error'));
  }

  /** Pooled mode starts every host now, so the first clients pay no thread start. */
  start(): void {
    if (!this.dedicated) for (let i = 0; i < this.options.threads; i++) this.spawn();
  }

  /** A host with room for one more session, or undefined when all are full. */
  acquire(): HostHandle | undefined {
    let best: HostHandle | undefined;
    for (const host of this.hosts.values()) {
      if (host.retiring || host.sessions >= this.options.sessionsPerThread) continue;
      if (!best || host.sessions < best.sessions) best = host;
    }
    if (!best && this.hosts.size < this.options.threads) best = this.spawn();
    if (best) best.sessions++;
    return best;
  }

  release(host: HostHandle): void {
    host.sessions--;
    if (this.dedicated && host.sessions === 0 && !host.retiring) {
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
    const asked = [...this.hosts.values()].filter((host) => !this.finalSeen.has(host.id)).map((host) => {
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
    for (const host of this.hosts.values()) host.port.close();
    await this.piscina.destroy();
  }

  private spawn(): HostHandle {
    const id = this.nextHostId++;
    const toMain = new MessageChannel();
    const toBroker = new MessageChannel();
    this.broker.postMessage({ t: 'attach', hostId: id, port: toBroker.port1 } satisfies BrokerControl, [toBroker.port1]);
    let markDrained!: () => void;
    const drained = new Promise<void>((resolve) => (markDrained = resolve));
    const task: HostTask = {
      hostId: id,
      mainPort: toMain.port2,
      brokerPort: toBroker.port2,
      options: { pollBatch: this.options.pollBatch, logLevel: this.options.logLevel, anonymousTimeoutMs: this.options.anonymousTimeoutMs, faults: this.faults },
    };
    // The port to main is closed by main when it reads `drained` (the host's
    // last message), never when the task resolves: that news travels on
    // piscina's own channel and may overtake the host's last writes.
    const finished = this.piscina.run(task, { transferList: [toMain.port2, toBroker.port2] }).then(
      () => this.forget(id, false),
      (err: unknown) => {
        // During shutdown this is destroy() ending a host that had not drained in time.
        if (this.stopping) this.logger.warn({ host: id }, 'session host terminated before it drained');
        else this.logger.error({ err, host: id }, 'session host failed');
        markDrained();
        this.forget(id, true);
      },
    );
    const host = { id, inbound: new BatchedPort<HostInbound>(toMain.port1), sessions: 0, retiring: false, drained, port: toMain.port1, finished };
    toMain.port1.on('message', (batch: HostOutbound[]) => {
      for (const message of batch) {
        if (message.t === 'drained') {
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
      this.retiredPending = this.retiredPending.then(() => this.retired.add(json)).catch((err: unknown) => this.logger.error({ err }, 'cannot add retired metrics'));
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
    // Wait one scrape's worth before forgetting the host retired: a scrape
    // under way may still hold its last live answer.
    setTimeout(() => this.finalSeen.delete(id), 5_000).unref();
    if (failed) host.port.close();
    this.broker.postMessage({ t: 'detach', hostId: id } satisfies BrokerControl);
    if (failed && host.sessions > 0) this.onHostGone(id);
    // A pooled host that died is replaced, after a pause so a host that cannot
    // start does not spin.
    if (failed && !this.dedicated && !this.stopping) setTimeout(() => !this.stopping && this.spawn(), 1_000).unref();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
