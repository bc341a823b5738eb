/**
 * Every Prometheus metric of zapwire (README §Metrics), one registry per
 * thread. Session hosts, the broker and the main thread each fill their own;
 * on a scrape the main thread collects every registry's JSON over the thread
 * ports and sums them with prom-client's AggregatorRegistry (DESIGN.md
 * §Observability). Per-frame work is a cached child counter's `inc()`.
 */
import { type EventLoopUtilization, performance } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
import {
  AggregatorRegistry,
  Counter,
  collectDefaultMetrics,
  Gauge,
  Histogram,
  type MetricObjectWithValues,
  type MetricValue,
  Registry,
} from 'prom-client';
import { FRAME_SIZE } from '../../protocol/frame.js';

/** One registry's metrics as `getMetricsAsJSON()` gives them; what crosses threads. */
export type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

const LATENCY_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];
const SIZE_BUCKETS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];

/**
 * What every thread reports of itself: `zapwire_event_loop_utilization{thread}`,
 * the share of the last interval it was busy, and `zapwire_thread_heap_bytes
 * {thread,kind}`, its own V8 heap (each worker has an isolate of its own, so
 * the process-wide RSS alone cannot say which thread holds the memory).
 */
function threadGauges(registry: Registry, thread: string): void {
  new Gauge({
    name: 'zapwire_thread_heap_bytes',
    help: 'V8 heap of the thread: used, total (reserved by the isolate), young (new space committed)',
    labelNames: ['thread', 'kind'],
    registers: [registry],
    collect() {
      const heap = getHeapStatistics();
      const young = getHeapSpaceStatistics().find((space) => space.space_name === 'new_space');
      this.set({ thread, kind: 'used' }, heap.used_heap_size);
      this.set({ thread, kind: 'total' }, heap.total_heap_size);
      this.set({ thread, kind: 'young' }, young?.space_size ?? 0);
    },
  });
  let last: EventLoopUtilization = performance.eventLoopUtilization();
  new Gauge({
    name: 'zapwire_event_loop_utilization',
    help: 'Share of time the thread event loop was busy since the previous scrape (0..1)',
    labelNames: ['thread'],
    registers: [registry],
    collect() {
      const now = performance.eventLoopUtilization();
      this.set({ thread }, performance.eventLoopUtilization(now, last).utilization);
      last = now;
    },
  });
}

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const DATA_OFFSET = 39;

function isDigit(byte: number | undefined): boolean {
  return byte !== undefined && byte >= DIGIT_0 && byte <= DIGIT_9;
}

/** A counter whose children are made once per label value (frames go through here). */
class CachedCounter {
  private readonly children = new Map<string, Counter.Internal>();
  constructor(
    private readonly counter: Counter<string>,
    private readonly label: string,
  ) {}
  inc(value: string, by = 1): void {
    let child = this.children.get(value);
    if (!child) {
      child = this.counter.labels({ [this.label]: value });
      this.children.set(value, child);
    }
    child.inc(by);
  }
}

/**
 * Frames written to v1 clients, counted by the thread that encodes them: a
 * session host (its own answers) or the broker (answers it writes itself,
 * and every `06`). Same-named series of every thread are summed by a scrape.
 */
export class WireOutMetrics {
  private readonly framesOut: CachedCounter;
  private readonly errors: CachedCounter;
  private readonly delivered: Counter;
  private readonly latency: Histogram;

  constructor(registers: Registry[]) {
    this.framesOut = new CachedCounter(
      new Counter({
        name: 'zapwire_frames_out_total',
        help: 'Frames written to v1 clients, by code',
        labelNames: ['code'],
        registers,
      }),
      'code',
    );
    this.errors = new CachedCounter(
      new Counter({
        name: 'zapwire_errors_total',
        help: '09 frames sent, by status',
        labelNames: ['status'],
        registers,
      }),
      'status',
    );
    this.delivered = new Counter({
      name: 'zapwire_messages_delivered_total',
      help: '06 frames written (pushed or polled)',
      registers,
    });
    this.latency = new Histogram({
      name: 'zapwire_delivery_latency_seconds',
      help: 'From the commit of a row to its 06 leaving the broker thread',
      buckets: LATENCY_BUCKETS,
      registers,
    });
  }

  /** Counts the frames written to a client, and the status of each `09`. */
  framesWritten(bytes: Uint8Array): void {
    for (let offset = 0; offset + FRAME_SIZE <= bytes.length; offset += FRAME_SIZE) {
      const code = codeAt(bytes, offset);
      this.framesOut.inc(code);
      if (code === '09') this.errors.inc(statusAt(bytes, offset + DATA_OFFSET));
    }
  }

  /** A `06` was written; `storedAt` is when its row committed (ms). */
  deliveredOne(storedAt: number | undefined, now: number): void {
    this.delivered.inc();
    if (storedAt !== undefined) this.latency.observe(Math.max(0, now - storedAt) / 1000);
  }
}

/** What a session host thread counts. */
export class HostMetrics {
  readonly registry = new Registry();
  private readonly framesIn: CachedCounter;
  private readonly wireOut: WireOutMetrics;
  private readonly sessions: Gauge<'kind'>;

  /** `ownThread` false: the host shares a thread that reports its own heap and event loop (the broker's, with --threads 0). */
  constructor(thread: string, ownThread = true) {
    const registers = [this.registry];
    this.framesIn = new CachedCounter(
      new Counter({
        name: 'zapwire_frames_in_total',
        help: 'Frames read from v1 clients, by code',
        labelNames: ['code'],
        registers,
      }),
      'code',
    );
    this.wireOut = new WireOutMetrics(registers);
    this.sessions = new Gauge({
      name: 'zapwire_sessions',
      help: 'v1 connections by kind (push, poll, anonymous)',
      labelNames: ['kind'],
      registers,
    });
    for (const kind of ['push', 'poll', 'anonymous']) this.sessions.set({ kind }, 0);
    if (ownThread) threadGauges(this.registry, thread);
  }

  /** Counts the frames of concatenated 256-byte frames read from a client. */
  framesRead(bytes: Uint8Array): void {
    for (let offset = 0; offset + FRAME_SIZE <= bytes.length; offset += FRAME_SIZE)
      this.framesIn.inc(codeAt(bytes, offset));
  }

  framesWritten(bytes: Uint8Array): void {
    this.wireOut.framesWritten(bytes);
  }

  session(kind: 'push' | 'poll' | 'anonymous', by: number): void {
    this.sessions.inc({ kind }, by);
  }
}

function codeAt(bytes: Uint8Array, offset: number): string {
  const a = bytes[offset];
  const b = bytes[offset + 1];
  return isDigit(a) && isDigit(b) ? String.fromCharCode(a!, b!) : 'invalid';
}

function statusAt(bytes: Uint8Array, offset: number): string {
  const a = bytes[offset];
  const b = bytes[offset + 1];
  const c = bytes[offset + 2];
  return isDigit(a) && isDigit(b) && isDigit(c) ? String.fromCharCode(a!, b!, c!) : 'other';
}

/** What the broker thread counts. */
/**
 * A cluster node's routing (src/server/cluster/, README §Metrics), on the
 * broker thread's registry: only a node started with --redis has them.
 */
export class ClusterMetrics {
  /** Notices this node published: one per other node per turn that stored rows for its sessions. */
  readonly noticesPublished: Counter;
  /** Notices that reached this node. */
  readonly noticesReceived: Counter;
  /** Re-reads of every local session's pending rows: after this node's own gap, or another's `resync`. */
  readonly resyncs: Counter;
  /** Redis commands (publish, presence) that failed, mostly while Redis was away. */
  readonly redisFailures: Counter;
  /** Nodes this node found dead (no heartbeat for the TTL) and removed from `zapwire:nodes`. */
  readonly nodesReaped: Counter;

  constructor(registry: Registry, nodeId: string, redisUp: () => boolean) {
    const registers = [registry];
    new Gauge({
      name: 'zapwire_node_info',
      help: 'This node of the cluster (always 1), labelled with its --node-id',
      labelNames: ['node'],
      registers,
    }).set({ node: nodeId }, 1);
    new Gauge({
      name: 'zapwire_redis_up',
      help: 'Whether both of the node connections to Redis are ready (1) or not (0)',
      registers,
      collect() {
        this.set(redisUp() ? 1 : 0);
      },
    });
    this.noticesPublished = new Counter({
      name: 'zapwire_cluster_notices_published_total',
      help: 'Notices published to other nodes (rows committed for push sessions they hold)',
      registers,
    });
    this.noticesReceived = new Counter({
      name: 'zapwire_cluster_notices_received_total',
      help: 'Notices received from other nodes',
      registers,
    });
    this.resyncs = new Counter({
      name: 'zapwire_cluster_resyncs_total',
      help: 'Re-reads of the pending rows of every local push session after a gap in notices',
      registers,
    });
    this.redisFailures = new Counter({
      name: 'zapwire_redis_failures_total',
      help: 'Redis commands that failed (Redis away: they fail at once, nothing is queued)',
      registers,
    });
    this.nodesReaped = new Counter({
      name: 'zapwire_cluster_nodes_reaped_total',
      help: 'Nodes found dead by this node (no heartbeat for --cluster-ttl-ms), after which every node re-read its sessions',
      registers,
    });
  }
}

export class BrokerMetrics {
  readonly registry = new Registry();
  readonly stored: Counter;
  readonly acknowledged: Counter;
  readonly pending: Gauge;
  readonly fanOut: Histogram;
  readonly commitLatency: Histogram;
  readonly batchSize: Histogram;
  /** Answers and `06` frames the broker writes to v1 clients itself. */
  readonly wireOut: WireOutMetrics;

  constructor(counters: () => { statements: number; commits: number }) {
    const registers = [this.registry];
    this.wireOut = new WireOutMetrics(registers);
    this.stored = new Counter({
      name: 'zapwire_messages_stored_total',
      help: 'Pending rows committed (one per recipient)',
      registers,
    });
    this.acknowledged = new Counter({
      name: 'zapwire_messages_acknowledged_total',
      help: 'Pending rows deleted by acknowledgements (08, or a legacy delivery)',
      registers,
    });
    this.pending = new Gauge({
      name: 'zapwire_pending_rows',
      help: 'Rows in the pending table',
      registers,
    });
    this.fanOut = new Histogram({
      name: 'zapwire_group_fanout',
      help: 'Rows stored per message sent to a group',
      buckets: SIZE_BUCKETS,
      registers,
    });
    this.commitLatency = new Histogram({
      name: 'zapwire_commit_seconds',
      help: 'Time of one group-commit transaction',
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'zapwire_commit_batch_size',
      help: 'Requests handled in one group-commit transaction',
      buckets: SIZE_BUCKETS,
      registers,
    });
    new Counter({
      name: 'zapwire_sql_statements_total',
      help: 'SQL statements executed',
      registers,
      collect() {
        this.reset();
        this.inc(counters().statements);
      },
    });
    new Counter({
      name: 'zapwire_sql_commits_total',
      help: 'Transactions committed',
      registers,
      collect() {
        this.reset();
        this.inc(counters().commits);
      },
    });
    threadGauges(this.registry, 'broker');
  }
}

/** What the main thread counts: prom-client's default metrics (event-loop lag among them) and connections. */
export class MainMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: CachedCounter;

  constructor(connections: () => { v1: number; legacy: number }) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'zapwire_' });
    new Gauge({
      name: 'zapwire_connections',
      help: 'Open TCP connections by listener',
      labelNames: ['listener'],
      registers,
      collect() {
        const c = connections();
        this.set({ listener: 'v1' }, c.v1);
        this.set({ listener: 'legacy' }, c.legacy);
      },
    });
    this.httpRequests = new CachedCounter(
      new Counter({
        name: 'zapwire_http_requests_total',
        help: 'HTTP API answers by status',
        labelNames: ['status'],
        registers,
      }),
      'status',
    );
    threadGauges(this.registry, 'main');
  }

  httpAnswered(status: number): void {
    this.httpRequests.inc(String(status));
  }
}

/** Sums registries' JSON into one exposition (prom-client's cluster aggregation). */
export async function expose(parts: MetricsJson[]): Promise<{ contentType: string; body: string }> {
  const registry = AggregatorRegistry.aggregate(parts);
  return { contentType: registry.contentType, body: await registry.metrics() };
}

/**
 * Totals of hosts that have retired (thread-per-client mode), so counters
 * never go backwards when a host's registry goes away. Gauges are dropped:
 * a retired host has no sessions and no event loop of its own any more.
 */
export class RetiredTotals {
  private total: MetricsJson = [];

  async add(final: MetricsJson): Promise<void> {
    const counters = final.filter((m) => (m.type as unknown as string) !== 'gauge');
    this.total = (await AggregatorRegistry.aggregate([
      this.total,
      counters,
    ]).getMetricsAsJSON()) as MetricsJson;
  }

  get json(): MetricsJson {
    return this.total;
  }
}
