/**
 * The broker thread: the only thread that touches SQLite (the main thread never
 * runs SQL), and the push router. Session hosts and the main thread talk to it
 * over MessagePorts; see thread-messages.ts.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { SqliteStore } from '../../store/sqlite-store.js';
import { BatchedPort } from '../batched-port.js';
import { createLogger } from '../logger.js';
import type { BrokerControl, BrokerControlEvent, BrokerEvent, BrokerRequest, BrokerWorkerData } from '../thread-messages.js';
import { Broker } from './broker.js';

const data = workerData as BrokerWorkerData;
const control = parentPort!;
const logger = createLogger({ level: data.logLevel }).child({ thread: 'broker' });

function post(event: BrokerControlEvent): void {
  control.postMessage(event);
}

let store: SqliteStore;
try {
  store = SqliteStore.open({ path: data.dbPath, synchronous: data.synchronous });
} catch (err) {
  post({ t: 'failed', message: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

const ports = new Map<number, { port: MessagePort; out: BatchedPort<BrokerEvent> }>();
const broker = new Broker(store, { pushWindow: data.pushWindow }, (hostId, event) => ports.get(hostId)?.out.send(event), logger);

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
    case 'shutdown':
      // Commit what was asked before the shutdown, answer it, then close the file.
      closing = true;
      while (broker.queued > 0) run();
      for (const { out } of ports.values()) out.flush();
      store.close();
      logger.debug('store closed');
      post({ t: 'closed' });
      for (const { port } of ports.values()) port.close();
      control.close();
      return;
  }
});

post({ t: 'ready' });
