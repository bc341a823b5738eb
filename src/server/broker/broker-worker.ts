/**
 * The broker thread: the only thread that touches SQLite (the main thread never
 * runs SQL), and the push router. Session hosts and the main thread talk to it
 * over MessagePorts; see thread-messages.ts.
 */
import { MessageChannel, type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { databaseOpenError, SqliteStore } from '../../store/sqlite-store.js';
import { createLogger } from '../logger.js';
import { BrokerMetrics, HostMetrics, type MetricsJson } from '../metrics/metrics.js';
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
import { Broker } from './broker.js';

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

/**
 * Every failure of the start-up (folder, open, lock, pragmas, schema, damage
 * check, statements, the first COUNT) becomes the one line `cannot open
 * database <file>: <SQLite's message>` (DatabaseOpenError); nothing may escape
 * as an uncaught error, which reaches the main thread as a bare object.
 */
function openStore(): { store: SqliteStore; pending: number } {
  const startedAt = performance.now();
  let store: SqliteStore | undefined;
  try {
    store = SqliteStore.open({ path: data.dbPath, synchronous: data.synchronous });
    // The one COUNT of the pending table; from here on the broker keeps the gauge.
    const pending = store.countAllPending();
    logger.info(
      { db: data.dbPath, pending, ms: Math.round(performance.now() - startedAt) },
      'database opened, locked and checked',
    );
    return { store, pending };
  } catch (err) {
    store?.close();
    post({ t: 'failed', message: databaseOpenError(data.dbPath, err).message });
    forwarder.flush();
    process.exit(1);
  }
}
const { store, pending } = openStore();

const ports = new Map<number, { port: MessagePort; out: BatchedPort<BrokerEvent> }>();
const metrics = new BrokerMetrics(() => store.counters());
metrics.pending.set(pending);
const broker = new Broker(
  store,
  { pushWindow: data.pushWindow, quotas: data.quotas, faults: data.faults },
  (hostId, event) => ports.get(hostId)?.out.send(event),
  logger,
  metrics,
);

let scheduled = false;
let closing = false;

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  if (data.commitWindowMs > 0) setTimeout(run, data.commitWindowMs);
  else setImmediate(run);
}

function run(): void {
  scheduled = false;
  broker.flush();
  // Answers go out now rather than one more loop turn later.
  for (const { out } of ports.values()) out.flush();
  if (broker.hasWork) schedule();
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
      post({ t: 'health', rid: message.rid, failing: broker.commitError ?? damaged(store.damage) });
      return;
    case 'faults':
      broker.setFaults(message.faults);
      return;
    case 'shutdown':
      // Commit what was asked before the shutdown, answer it, then close the file.
      closing = true;
      while (broker.queued > 0) run();
      for (const { out } of ports.values()) out.flush();
      store.close();
      logger.debug('store closed');
      forwarder.flush();
      post({ t: 'closed' });
      for (const { port } of ports.values()) port.close();
      control.close();
      return;
  }
});

function damaged(damage: string | undefined): string | undefined {
  return damage === undefined ? undefined : `database damaged: ${damage}`;
}

post({ t: 'ready' });
