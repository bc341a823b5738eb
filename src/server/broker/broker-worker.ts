/**
 * The broker thread: the only thread that touches the store (SQLite, or
 * PostgreSQL for a `postgres://` --db; the main thread never runs SQL), and
 * the push router. Session hosts and the main thread talk to it
 * over MessagePorts; see thread-messages.ts.
 */
import { MessageChannel, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { databaseName, isPostgresUrl } from '../../store/database-name.js';
import { databaseOpenError, SqliteStore } from '../../store/sqlite-store.js';
import { SyncTurnStore } from '../../store/sync-turn-store.js';
import { call, type TurnStore } from '../../store/turn-store.js';
import type { ClusterRouter } from '../cluster/cluster-router.js';
import { createLogger } from '../logger.js';
import {
  BrokerMetrics,
  ClusterMetrics,
  HostMetrics,
  type MetricsJson,
} from '../metrics/metrics.js';
import { SessionHost } from '../session-host/session-host.js';
import { BatchedPort } from '../threads/batched-port.js';
import { LogForwarder } from '../threads/log-forwarder.js';
import type {
  BrokerControl,
  BrokerControlEvent,
  BrokerEvent,
  BrokerRequest,
  BrokerWorkerData,
  HostOutbound,
} from '../threads/thread-messages.js';
import { Broker, type RouterFactory } from './broker.js';
import { replacedKick } from './ops/sessions.js';
import { LocalRouter, type PushTarget } from './push-router.js';

const data = workerData as BrokerWorkerData;
const control = parentPort!;
// DESIGN.md §Observability: lines go to the main thread's root logger.
const forwarder = new LogForwarder();
const logger = createLogger({ level: data.logLevel, destination: forwarder }).child({
  thread: 'broker',
});

function post(event: BrokerControlEvent): void {
  control.postMessage(event);
}
forwarder.target = (lines) => post({ t: 'log', lines });

/** The store --db names, and what damage SQLite found in its file (PostgreSQL: none it can see). */
interface OpenStore {
  store: TurnStore;
  damage(): string | undefined;
  /** The database as it may be logged (a URL without its password). */
  name: string;
}

async function openEngine(): Promise<OpenStore> {
  if (isPostgresUrl(data.dbPath)) {
    // Loaded only for PostgreSQL: a SQLite server does not load node-postgres.
    const { PostgresStore } = await import('../../store/postgres-store.js');
    const store = await PostgresStore.open({ url: data.dbPath });
    return { store, damage: () => undefined, name: databaseName(data.dbPath) };
  }
  let sqlite: SqliteStore | undefined;
  try {
    sqlite = SqliteStore.open({ path: data.dbPath, synchronous: data.synchronous });
    const opened = sqlite;
    return { store: new SyncTurnStore(opened), damage: () => opened.damage, name: data.dbPath };
  } catch (err) {
    sqlite?.close();
    throw databaseOpenError(data.dbPath, err);
  }
}

/**
 * Every failure of the start-up (folder, open, lock, pragmas, schema, damage
 * check, statements, the first COUNT; on PostgreSQL the connection and the
 * schema) becomes the one line `cannot open database <name>: <the engine's
 * message>` (DatabaseOpenError); nothing may escape as an uncaught error,
 * which reaches the main thread as a bare object.
 */
async function openStore(): Promise<OpenStore & { pending: number }> {
  const startedAt = performance.now();
  let opened: OpenStore | undefined;
  try {
    opened = await openEngine();
    // The one COUNT of the pending table; from here on the broker keeps the gauge.
    const [pending] = await opened.store.run([call('countAllPending')]);
    logger.info(
      { db: opened.name, pending, ms: Math.round(performance.now() - startedAt) },
      'database opened, locked and checked',
    );
    return { ...opened, pending };
  } catch (err) {
    await opened?.store.close().catch(() => undefined);
    post({ t: 'failed', message: databaseOpenError(databaseName(data.dbPath), err).message });
    forwarder.flush();
    process.exit(1);
  }
}
const { store, damage, pending } = await openStore();

const ports = new Map<number, { port: MessagePort; out: BatchedPort<BrokerEvent> }>();
const metrics = new BrokerMetrics(() => store.counters());
metrics.pending.set(pending);

/** How long start-up waits for Redis before serving local sessions only (the first ready is then a gap). */
const REDIS_START_TIMEOUT_MS = 5_000;

/** With --redis: the router, once the Broker has built it. */
let clusterRouting: ClusterRouter | undefined;
/** With --redis: the timer that counts the pending rows again. */
let pendingRecount: NodeJS.Timeout | undefined;

/**
 * --redis: the router of a cluster node (src/server/cluster/), loaded only
 * then, as PostgreSQL's store is. Its takeovers end a session as a local
 * takeover does: the route goes and the host is told (09 409), whose close
 * then closes the ledger.
 */
async function clusterRouterFactory(redis: string): Promise<RouterFactory> {
  const [{ RedisLink }, { ClusterRouter }, { refreshPeriodMs }] = await Promise.all([
    import('../cluster/redis-link.js'),
    import('../cluster/cluster-router.js'),
    import('../cluster/cluster-protocol.js'),
  ]);
  const cluster: ClusterMetrics = new ClusterMetrics(
    metrics.registry,
    data.nodeId,
    (): boolean => link.up,
  );
  const link = new RedisLink(redis, data.nodeId, data.clusterTtlMs, logger, cluster);
  // The pending gauge cannot be kept by counting on a cluster node: other
  // nodes store rows this one deletes, and the other way round. It is counted
  // again every refresh period (one COUNT), moving between counts with what
  // this node stores and deletes.
  pendingRecount = setInterval(() => {
    store.run([call('countAllPending')]).then(
      ([rows]) => metrics.pending.set(rows),
      // The store is failing; the next good count corrects the gauge.
      () => undefined,
    );
  }, refreshPeriodMs(data.clusterTtlMs));
  pendingRecount.unref();
  if (await link.start(REDIS_START_TIMEOUT_MS))
    logger.info({ node: data.nodeId }, 'cluster: joined through Redis');
  else logger.warn('cluster: Redis is not answering; serving local sessions until it does');
  const hooks = {
    replace: (target: PushTarget) => {
      broker.router.detach(target.sid);
      ports.get(target.hostId)?.out.send(replacedKick(target.sid));
    },
    wake: schedule,
  };
  return (sink) => {
    clusterRouting = new ClusterRouter(
      new LocalRouter(sink),
      link,
      hooks,
      logger,
      cluster,
      refreshPeriodMs(data.clusterTtlMs),
    );
    return clusterRouting;
  };
}

const broker = new Broker(
  store,
  { pushWindow: data.pushWindow, quotas: data.quotas, faults: data.faults },
  (hostId, event) => ports.get(hostId)?.out.send(event),
  logger,
  metrics,
  data.redis === undefined ? undefined : await clusterRouterFactory(data.redis),
);

let scheduled = false;
let closing = false;

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  if (data.commitWindowMs > 0) setTimeout(run, data.commitWindowMs);
  else setImmediate(run);
}

/** One broker turn; the next is scheduled only once it has ended (a store turn at a time). */
async function run(): Promise<void> {
  // What other nodes said since the last turn: between turns only (ClusterRouter).
  clusterRouting?.applyInbound();
  await broker.flush();
  // Answers go out now rather than one more loop turn later.
  for (const { out } of ports.values()) out.flush();
  scheduled = false;
  if (broker.hasWork && !closing) schedule();
}

function attach(hostId: number, port: MessagePort): void {
  const out = new BatchedPort<BrokerEvent>(port);
  ports.set(hostId, { port, out });
  port.on('message', (requests: BrokerRequest[]) => {
    if (closing) return;
    broker.enqueue(hostId, requests);
    schedule();
  });
}

control.on('message', (message: BrokerControl) => {
  switch (message.t) {
    case 'attach':
      attach(message.hostId, message.port);
      return;
    case 'detach': {
      const entry = ports.get(message.hostId);
      ports.delete(message.hostId);
      entry?.port.close();
      broker.detachHost(message.hostId);
      return;
    }
    case 'hostSessions': {
      // DESIGN.md §Thread models (--threads 0): the sessions on this thread.
      // Their requests come over a channel within the thread, so no thread
      // hop lies between a session and the store; log lines go the broker's way.
      const local = new MessageChannel();
      attach(message.hostId, local.port1);
      const task = {
        hostId: message.hostId,
        mainPort: message.mainPort,
        brokerPort: local.port2,
        options: message.options,
      };
      new SessionHost(
        task,
        logger.child({ host: message.hostId }),
        new HostMetrics(`host-${message.hostId}`, false),
      );
      message.mainPort.postMessage([{ t: 'ready' }] satisfies HostOutbound[]);
      return;
    }
    case 'stats':
      post({ t: 'stats', rid: message.rid, stats: broker.stats() });
      return;
    case 'metrics': {
      const rid = message.rid;
      metrics.registry.getMetricsAsJSON().then(
        (json) => post({ t: 'metrics', rid, json: json as MetricsJson }),
        (err: unknown) => logger.error({ err }, 'cannot collect metrics'),
      );
      return;
    }
    case 'health':
      // DESIGN.md §Health: failing while commits fail, and for good once a
      // statement found the file damaged.
      post({ t: 'health', rid: message.rid, failing: broker.commitError ?? damaged(damage()) });
      return;
    case 'faults':
      broker.setFaults(message.faults);
      return;
    case 'shutdown':
      closing = true;
      void shutdown();
      return;
  }
});

/** Commits what was asked before the shutdown, answers it, then closes the store. */
async function shutdown(): Promise<void> {
  // A turn under way ends first: flushes run one at a time.
  while (scheduled) await new Promise((resolve) => setImmediate(resolve));
  while (broker.queued > 0) await broker.flush();
  for (const { out } of ports.values()) out.flush();
  // This node's presence goes before its connections.
  clearInterval(pendingRecount);
  await clusterRouting?.close();
  await store.close();
  logger.debug('store closed');
  forwarder.flush();
  post({ t: 'closed' });
  for (const { port } of ports.values()) port.close();
  control.close();
}

function damaged(damage: string | undefined): string | undefined {
  return damage === undefined ? undefined : `database damaged: ${damage}`;
}

post({ t: 'ready' });
