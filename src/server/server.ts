import { once } from 'node:events';
import type { AddressInfo, Server } from 'node:net';
import type { TlsOptions } from 'node:tls';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { UnavailableError } from '../errors.js';
import { databaseName, redacted } from '../store/database-name.js';
import {
  type LogLevel,
  openFileLimit,
  resolveServerOptions,
  type ServerOptions,
} from './config.js';
import { createLogger, writeForwarded } from './logger.js';
import { Admission } from './main-thread/admission.js';
import { ConnectionTable } from './main-thread/connection-table.js';
import { HostPool } from './main-thread/host-pool.js';
import { type HttpFlowStats, HttpListener } from './main-thread/http-listener.js';
import { LegacyListener } from './main-thread/legacy-listener.js';
import { loadTlsFiles } from './main-thread/tls-files.js';
import { type V1FlowStats, V1Listener } from './main-thread/v1-listener.js';
import { builtWebDirectory, WebFiles } from './main-thread/web-files.js';
import { WebSocketEndpoint } from './main-thread/websocket-endpoint.js';
import { expose, MainMetrics, type MetricsJson } from './metrics/metrics.js';
import { BrokerClient } from './threads/broker-client.js';
import type {
  BrokerControl,
  BrokerControlEvent,
  BrokerStats,
  BrokerWorkerData,
  FaultInjection,
} from './threads/thread-messages.js';
import { workerFile, workerResourceLimits } from './threads/worker-files.js';

export interface StartOptions extends Partial<ServerOptions> {
  /** A root logger to use instead of one made from logLevel (tests pass a capturing one). */
  logger?: Logger;
  /** Test-only fault injection (DESIGN.md §Containment); never set in production. */
  faults?: FaultInjection;
}

/** How long a scrape or a health check waits for a thread's answer. */
const THREAD_ANSWER_MS = 1_000;
/** The number /healthz asks the store about: a query that touches the database. */
const HEALTH_PROBE_NUMBER = '0000000000000';

/** DESIGN.md §Flow control: what is in flight per connection now, and the most since start. */
export interface FlowStats {
  v1: V1FlowStats;
  /** Undefined when the HTTP API is off. */
  http: HttpFlowStats | undefined;
}

export interface ListenAddress {
  host: string;
  port: number;
}

/**
 * The composition root of a zapwire server: the broker thread (SQLite and push
 * routing), the session hosts (piscina), and the listeners on the main thread.
 */
export class ZapwireServer {
  private closing: Promise<void> | undefined;
  private statsRid = 1;
  private readonly metrics: MainMetrics;
  private readonly brokerClient: BrokerClient;
  private readonly pool: HostPool;
  private readonly v1: V1Listener;
  private readonly legacy: LegacyListener | undefined;
  private readonly http: HttpListener | undefined;

  /**
   * The wiring, in dependency order, so that no part needs one built after
   * it: the connection table depends on nothing; the broker client and the
   * host pool deliver what the other threads write into it; the listeners
   * come last and use them. (The HTTP listener's scrape and health callbacks
   * call this server back only once it serves.)
   */
  private constructor(
    readonly options: Readonly<ServerOptions>,
    readonly logger: Logger,
    private readonly broker: Worker,
    threads: ThreadSetup,
    /** Certificate and key when the v1 and HTTP listeners speak TLS (README §TLS). */
    private readonly tls: TlsOptions | undefined,
  ) {
    this.metrics = new MainMetrics(() => ({ v1: this.v1.size, legacy: this.legacy?.size ?? 0 }));
    const connections = new ConnectionTable();
    // The main thread's own channel to the broker (host id 0), for the legacy
    // and HTTP listeners. It also carries what the broker writes to v1
    // connections itself (DESIGN.md §The path of one message).
    const own = new MessageChannel();
    broker.postMessage({ t: 'attach', hostId: 0, port: own.port1 } satisfies BrokerControl, [
      own.port1,
    ]);
    this.brokerClient = new BrokerClient(own.port2, (event) => connections.fromBroker(event));
    this.pool = new HostPool(
      { ...options, logLevel: threads.logLevel },
      broker,
      (_host, message) => connections.fromHost(message),
      (hostId) => connections.hostGone(hostId),
      logger,
      threads.forward,
      threads.faults,
    );
    // docs/protocol.md §Limits: one set of connection caps for every listener together.
    const admission = new Admission(
      options.maxConnections,
      options.maxConnectionsPerAddress,
      logger.child({ component: 'admission' }),
    );
    this.v1 = new V1Listener(
      this.pool,
      connections,
      admission,
      options.maxInflight,
      logger.child({ listener: 'v1' }),
      this.brokerClient,
      tls,
    );
    this.legacy =
      options.legacyPort === undefined
        ? undefined
        : new LegacyListener(
            this.brokerClient,
            options,
            admission,
            logger.child({ listener: 'legacy' }),
          );
    if (options.httpPort !== undefined) {
      // GET /v1/ws turns an HTTP connection into a v1 connection (docs/protocol.md §WebSocket).
      const http = new HttpListener({
        broker: this.brokerClient,
        options,
        admission,
        logger: logger.child({ listener: 'http' }),
        ...webChat(logger),
        metrics: () => this.scrape(),
        health: () => this.health(),
        closing: () => this.closing !== undefined,
        onAnswer: (status) => this.metrics.httpAnswered(status),
        ...(tls ? { tls } : {}),
        upgrade: (req, socket, head) => websockets.upgrade(req, socket, head),
      });
      const websockets = new WebSocketEndpoint({
        v1: this.v1,
        admission,
        origins: options.wsOrigins,
        maxPayload: options.wsMaxPayload,
        closing: () => this.closing !== undefined,
        refuse: (socket, err) => http.refuseUpgrade(socket, err),
      });
      this.http = http;
    }
  }

  static async start(input: StartOptions = {}): Promise<ZapwireServer> {
    const { logger: given, faults, ...rest } = input;
    const options = resolveServerOptions(rest);
    // Read before any thread starts: a file that cannot be read is one line, and nothing to stop.
    const tls =
      options.tlsCert === undefined || options.tlsKey === undefined
        ? undefined
        : loadTlsFiles({ tlsCert: options.tlsCert, tlsKey: options.tlsKey });
    const logger = given ?? createLogger({ level: options.logLevel });
    // DESIGN.md §Observability: one root logger. Worker threads log at its
    // level and send their lines here, to be written to its destination.
    const threads: ThreadSetup = {
      logLevel: (given ? given.level : options.logLevel) as LogLevel,
      forward: (lines) => writeForwarded(logger, lines),
      faults,
    };
    const broker = await startBroker(options, threads);

    // From here on a step that fails (a port in use) must not leave the broker
    // and the hosts running: the broker holds the database's lock until it
    // closes the file.
    let server: ZapwireServer;
    try {
      server = new ZapwireServer(options, logger, broker, threads, tls);
    } catch (err) {
      await broker.terminate();
      throw err;
    }
    broker.on('error', (err) => logger.fatal({ err }, 'broker thread failed'));
    try {
      await server.listen();
    } catch (err) {
      await server.close();
      throw err;
    }
    logger.info(
      {
        address: server.address,
        legacy: server.legacyAddress,
        http: server.httpAddress,
        tls: tls !== undefined,
        db: databaseName(options.dbPath),
        node: options.nodeId,
        redis:
          options.redis === undefined ? undefined : redacted(options.redis, 'the Redis server'),
        threads: options.threads,
        sessionsPerThread: options.sessionsPerThread,
        synchronous: options.synchronous,
        // The descriptor budget the connection caps leave room under (README §Limits).
        openFileLimit: openFileLimit(),
        maxConnections: options.maxConnections,
        maxConnectionsPerAddress: options.maxConnectionsPerAddress,
      },
      `zapwire listening on ${server.address.host}:${server.address.port}`,
    );
    return server;
  }

  /** Starts the hosts, then listens: the first clients find hosts ready. */
  private async listen(): Promise<void> {
    const { host, port, legacyPort, httpPort } = this.options;
    await this.pool.start();
    await listen(this.v1.server, port, host);
    if (this.legacy) await listen(this.legacy.server, legacyPort!, host);
    if (this.legacy && this.tls)
      this.logger.warn(
        { legacy: this.legacyAddress },
        "the legacy listener speaks plain TCP (Opa's clients cannot do TLS): face it only to a trusted network",
      );
    if (this.http) await listen(this.http.server, httpPort!, host);
  }

  get address(): ListenAddress {
    const a = this.v1.server.address() as AddressInfo;
    return { host: a.address, port: a.port };
  }

  get legacyAddress(): ListenAddress | undefined {
    const a = this.legacy?.server.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  get httpAddress(): ListenAddress | undefined {
    const a = this.http?.server.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }

  /**
   * Every thread's metrics in Prometheus text (README §Metrics): the main
   * thread's registry, the broker's and every session host's, summed.
   */
  async scrape(): Promise<{ contentType: string; body: string }> {
    const [own, broker, hosts] = await Promise.all([
      this.metrics.registry.getMetricsAsJSON() as Promise<MetricsJson>,
      this.askBroker('metrics').then((answer) => answer?.json),
      this.pool.collectMetrics(THREAD_ANSWER_MS),
    ]);
    return expose([own, ...(broker ? [broker] : []), ...hosts.parts]);
  }

  /**
   * /healthz: the store answers a query, its commits are not failing (disk
   * full, I/O error, a damaged file: DESIGN.md §Health), and every session
   * host answers, each within a second.
   */
  async health(): Promise<{ ok: boolean; checks: Record<string, string> }> {
    if (this.closing) return { ok: false, checks: { server: 'shutting down' } };
    // The commits question goes first: the store probe is itself a
    // (read-only) transaction, and is not what the answer should report on.
    const [commits, store, hosts] = await Promise.all([
      this.askBroker('health'),
      withTimeout(
        this.brokerClient.askAsync({ op: 'validate', number: HEALTH_PROBE_NUMBER }),
        THREAD_ANSWER_MS,
      ),
      this.pool.collectMetrics(THREAD_ANSWER_MS),
    ]);
    const checks: Record<string, string> = {
      store:
        store === undefined
          ? 'no answer'
          : store.ok
            ? 'ok'
            : `failed: ${store.status} ${store.reason}`,
      commits:
        commits === undefined
          ? 'no answer'
          : commits.failing === undefined
            ? 'ok'
            : `failing: ${commits.failing}`,
      hosts: hosts.missing.length === 0 ? 'ok' : `no answer from host ${hosts.missing.join(', ')}`,
    };
    return { ok: Object.values(checks).every((c) => c === 'ok'), checks };
  }

  /**
   * Test-only (DESIGN.md §Containment): replaces the broker's fault injection,
   * e.g. `{ failCommits: true }` makes every commit fail until `setFaults({})`.
   * Takes effect before the answer to any control message posted after it
   * (`stats()`, say); never used by `zapwire serve`.
   */
  setFaults(faults: FaultInjection): void {
    this.broker.postMessage({ t: 'faults', faults } satisfies BrokerControl);
  }

  /**
   * Posts a control message to the broker and resolves with its answer (the
   * event of the same kind and rid), or undefined if none comes within
   * THREAD_ANSWER_MS (a broker that has stopped, or is stuck, never answers).
   */
  private askBroker<K extends 'stats' | 'metrics' | 'health'>(
    t: K,
  ): Promise<Extract<BrokerControlEvent, { t: K }> | undefined> {
    const rid = this.statsRid++;
    const answer = new Promise<Extract<BrokerControlEvent, { t: K }> | undefined>((resolve) => {
      const done = (event: Extract<BrokerControlEvent, { t: K }> | undefined) => {
        clearTimeout(timer);
        this.broker.off('message', onMessage);
        resolve(event);
      };
      const onMessage = (event: BrokerControlEvent) => {
        if (event.t === t && 'rid' in event && event.rid === rid)
          done(event as Extract<BrokerControlEvent, { t: K }>);
      };
      const timer = setTimeout(() => done(undefined), THREAD_ANSWER_MS).unref();
      this.broker.on('message', onMessage);
    });
    this.broker.postMessage({ t, rid } as BrokerControl);
    return answer;
  }

  /** Counters from the broker thread (SQL statements, commits, messages). */
  async stats(): Promise<BrokerStats> {
    const answer = await this.askBroker('stats');
    if (!answer)
      throw new UnavailableError(`the broker thread did not answer within ${THREAD_ANSWER_MS} ms`);
    return answer.stats;
  }

  /** Flow control's bounded structure, for tests and operators (DESIGN.md §Flow control). */
  flowStats(): FlowStats {
    return { v1: this.v1.flowStats(), http: this.http?.flowStats() };
  }

  get sessions(): number {
    return this.v1.size;
  }

  /**
   * Graceful stop (SIGINT/SIGTERM): stop accepting, let what was read finish
   * and commit, tell every session `09 503`, close the store.
   */
  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    this.logger.info('shutting down');
    // HTTP stops accepting first; requests already on a connection get 503 for writes.
    const stopped = [];
    if (this.http) {
      stopped.push(closeServer(this.http.server));
      this.http.server.closeIdleConnections();
    }
    stopped.push(closeServer(this.v1.server));
    if (this.legacy) stopped.push(closeServer(this.legacy.server));
    this.v1.stopReading();
    await this.pool.shutdown(5_000);
    await this.v1.closeAll(2_000);
    if (this.legacy) await this.legacy.closeAll(2_000);
    this.brokerClient.flush();
    const closed = new Promise<void>((resolve) => {
      this.broker.on('message', (event: BrokerControlEvent) => event.t === 'closed' && resolve());
      this.broker.once('exit', () => resolve());
    });
    this.broker.postMessage({ t: 'shutdown' } satisfies BrokerControl);
    await Promise.race([closed, sleep(5_000)]);
    await this.broker.terminate();
    await this.pool.destroy();
    this.http?.server.closeAllConnections();
    await Promise.all(stopped);
    this.logger.info('stopped');
    this.logger.flush();
  }
}

/** What the worker threads are started with, beside the options. */
interface ThreadSetup {
  logLevel: LogLevel;
  /** Writes the log lines a thread forwarded into the root logger's destination. */
  forward: (lines: string[]) => void;
  faults: FaultInjection | undefined;
}

/** Starts the broker thread and waits until it has opened the database. */
async function startBroker(options: ServerOptions, threads: ThreadSetup): Promise<Worker> {
  const workerData: BrokerWorkerData = {
    dbPath: options.dbPath,
    ...(options.redis !== undefined ? { redis: options.redis } : {}),
    nodeId: options.nodeId,
    clusterTtlMs: options.clusterTtlMs,
    synchronous: options.synchronous,
    pushWindow: options.pushWindow,
    commitWindowMs: options.commitWindowMs,
    logLevel: threads.logLevel,
    quotas: {
      rateLimit: options.rateLimit,
      groupRateLimit: options.groupRateLimit,
      maxPendingPerRecipient: options.maxPendingPerRecipient,
      registerRate: options.registerRate,
      registerBurst: options.registerBurst,
      authFailuresPerMinute: options.authFailuresPerMinute,
    },
    ...(threads.faults ? { faults: threads.faults } : {}),
  };
  const broker = new Worker(workerFile('../broker/broker-worker.js'), {
    workerData,
    resourceLimits: workerResourceLimits(),
  });
  broker.on(
    'message',
    (event: BrokerControlEvent) => event.t === 'log' && threads.forward(event.lines),
  );
  await waitForBroker(broker);
  return broker;
}

function waitForBroker(broker: Worker): Promise<void> {
  return new Promise((resolve, reject) => {
    const onMessage = (event: BrokerControlEvent) => {
      if (event.t === 'ready') {
        cleanup();
        resolve();
      } else if (event.t === 'failed') {
        cleanup();
        // Already one line naming the file (DatabaseOpenError).
        reject(new Error(event.message));
      }
    };
    // An error thrown in a thread arrives as a copy, which may not be an Error.
    const onError = (err: unknown) => {
      cleanup();
      reject(
        new Error(
          `broker thread failed at start: ${err instanceof Error ? err.message : JSON.stringify(err)}`,
        ),
      );
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`broker thread exited with code ${code}`));
    };
    const cleanup = () => {
      broker.off('message', onMessage);
      broker.off('error', onError);
      broker.off('exit', onExit);
    };
    broker.on('message', onMessage);
    broker.once('error', onError);
    broker.once('exit', onExit);
  });
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  server.listen(port, host);
  await once(server, 'listening');
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([promise, sleep(ms).then(() => undefined)]);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** The web chat for the HTTP listener, when the build made it (README §Web chat). */
function webChat(logger: Logger): { web?: WebFiles } {
  const dir = builtWebDirectory();
  const web = WebFiles.load(dir);
  if (!web) logger.warn({ dir }, 'no web chat built (npm run build): / is 404');
  return web ? { web } : {};
}
