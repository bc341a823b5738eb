/**
 * The broker thread: the only thread that touches SQLite (the main thread never
 * runs SQL), and the push router. Session hosts and the main thread talk to it
 * over MessagePorts; see thread-messages.ts.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteStore } from '../../store/sqlite-store.js';
import { BatchedPort } from '../batched-port.js';
import { LogForwarder } from '../log-forwarder.js';
import { createLogger } from '../logger.js';
import { BrokerMetrics, type MetricsJson } from '../metrics/metrics.js';
import type { BrokerControl, BrokerControlEvent, BrokerEvent, BrokerRequest, BrokerWorkerData } from '../thread-messages.js';
import { Broker } from './broker.js';

const data = workerData as BrokerWorkerData;
const control = parentPort!;
// DESIGN.md §Observability: lines go to the main thread's root logger.
const forwarder = new LogForwarder();
const logger = createLogger({ level: data.logLevel, destination: forwarder }).child({ thread: 'broker' });

function post(event: BrokerControlEvent): void {
  control.postMessage(event);
}
forwarder.target = (lines) => post({ t: 'log', lines });

let store: SqliteStore;
try {
  store = SqliteStore.open({ path: data.dbPath, synchronous: data.synchronous });
} catch (err) {
  post({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

const ports = new Map<number, { port: MessagePort; out: BatchedPort<BrokerEvent> }>();
const metrics = new BrokerMetrics(() => store.counters());
// The one COUNT of the pending table; from here on the broker keeps the gauge.
metrics.pending.set(store.countAllPending());
const broker = new Broker(store, { pushWindow: data.pushWindow, quotas: data.quotas, faults: data.faults }, (hostId, event) => ports.get(hostId)?.out.send(event), logger, undefined, metrics);

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

post({ t: 'ready' });
