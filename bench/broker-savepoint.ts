/**
 * node --expose-gc dist/bench/broker-savepoint.js [--batch 1000] [--rounds 60] [--group 0]
 *
 * What the broker's savepoint per request costs (DESIGN.md §Containment):
 * Broker.flush over a batch of `--batch` sends (one group commit) on a file
 * SqliteStore, with the savepoint per request as the product runs it, and
 * without it: the same Broker on a store whose nested transactions run their
 * body directly (no SAVEPOINT / RELEASE). Rounds alternate between the two so
 * that drift of a shared machine falls on both; the median of each is
 * reported, per flush and per request, in wall time and in CPU time (the
 * latter less disturbed by other processes of a shared machine). `--group N` sends to a group of N
 * members instead of one recipient. `--quotas` turns the quotas on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { Broker } from '../src/server/broker/broker.js';
import { NO_QUOTAS } from '../src/server/broker/limits.js';
import { DEFAULT_OPTIONS } from '../src/server/config.js';
import type {
  AskOp,
  BrokerEvent,
  BrokerQuotas,
  BrokerReplies,
  BrokerRequest,
} from '../src/server/threads/thread-messages.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { Store } from '../src/store/store.js';

const program = new Command()
  .option('--batch <n>', 'sends per flush', (v) => Number(v), 1_000)
  .option('--rounds <n>', 'flushes measured per variant', (v) => Number(v), 60)
  .option(
    '--group <n>',
    'send to a group of this many members (0: one recipient)',
    (v) => Number(v),
    0,
  )
  .option(
    '--quotas',
    'the quotas on: their checks and counts cost what they cost, but rateLimit and maxPendingPerRecipient x1000 so that no send is refused (otherwise all off)',
    false,
  )
  .parse();
const {
  batch,
  rounds,
  group,
  quotas: withQuotas,
} = program.opts<{ batch: number; rounds: number; group: number; quotas: boolean }>();

/** The store with nested transactions flattened: what the broker did before its savepoints. */
function withoutSavepoints(store: SqliteStore): Store {
  let depth = 0;
  const flat = Object.create(store) as SqliteStore;
  flat.transaction = <T>(fn: () => T): T => {
    if (depth > 0) return fn();
    depth++;
    try {
      return store.transaction(fn);
    } finally {
      depth--;
    }
  };
  return flat;
}

const quotas: BrokerQuotas = withQuotas
  ? {
      rateLimit: DEFAULT_OPTIONS.rateLimit * 1_000,
      groupRateLimit: DEFAULT_OPTIONS.groupRateLimit,
      maxPendingPerRecipient: DEFAULT_OPTIONS.maxPendingPerRecipient * 1_000,
      registerRate: DEFAULT_OPTIONS.registerRate,
      registerBurst: DEFAULT_OPTIONS.registerBurst,
      authFailuresPerMinute: DEFAULT_OPTIONS.authFailuresPerMinute,
    }
  : NO_QUOTAS;

interface Variant {
  name: string;
  broker: Broker;
  store: SqliteStore;
  dir: string;
  /** Every request of a round is a send from src to dst. */
  src: string;
  dst: string;
  times: number[];
  /** CPU time of each flush (user + system), less disturbed than wall time on a shared machine. */
  cpu: number[];
}

function reply(events: [number, BrokerEvent][], rid: number): Extract<BrokerEvent, { t: 'reply' }> {
  const found = events.find(([, e]) => e.t === 'reply' && e.rid === rid)?.[1];
  if (found?.t !== 'reply') throw new Error(`no reply to ${rid}`);
  return found;
}

function setUp(name: string, savepoints: boolean): Variant {
  const dir = mkdtempSync(join(tmpdir(), 'zapwire-savepoint-'));
  const store = SqliteStore.open({ path: join(dir, 'bench.db') });
  let events: [number, BrokerEvent][] = [];
  const broker = new Broker(
    savepoints ? store : withoutSavepoints(store),
    { pushWindow: 512, quotas },
    (hostId, event) => events.push([hostId, event]),
  );
  const ask = <O extends AskOp>(request: BrokerRequest<O>) => {
    events = [];
    broker.enqueue(1, [request as BrokerRequest]);
    broker.flush();
    const r = reply(events, request.rid);
    if (!r.ok) throw new Error(`${r.status} ${r.reason}`);
    // The reply under this request's rid is its op's.
    return r.value as BrokerReplies[O];
  };
  const users = Array.from({ length: Math.max(2, group) }, (_, i) => {
    return ask({ op: 'register', rid: i + 1, name: '', remote: '127.0.0.1' }).number;
  });
  let dst = users[1]!;
  if (group > 0) {
    dst = ask({
      op: 'createGroup',
      rid: 1_000,
      src: users[0]!,
      ts: 1,
      members: users.slice(1),
    });
  }
  return { name, broker, store, dir, src: users[0]!, dst, times: [], cpu: [] };
}

let rid = 10_000;
function round(v: Variant): void {
  const requests: BrokerRequest[] = Array.from({ length: batch }, (_, i) => ({
    op: 'send',
    to: { sid: 1, slot: rid++, src: v.src, dst: v.dst, ts: 1_700_000_000 + i },
    flag: false,
    text: `message ${i} of the benchmark`,
  }));
  v.broker.enqueue(1, requests);
  globalThis.gc?.();
  const cpu = process.cpuUsage();
  const started = performance.now();
  v.broker.flush();
  v.times.push(performance.now() - started);
  const used = process.cpuUsage(cpu);
  v.cpu.push((used.user + used.system) / 1000);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const variants = [setUp('savepoint per request', true), setUp('no savepoints', false)];
// Warm up both (JIT, page cache), then alternate.
for (let i = 0; i < 5; i++) for (const v of variants) round(v);
for (const v of variants) {
  v.times.length = 0;
  v.cpu.length = 0;
}
for (let i = 0; i < rounds; i++)
  for (const v of i % 2 === 0 ? variants : [...variants].reverse()) round(v);

const [withSp, withoutSp] = variants.map((v) => median(v.times)) as [number, number];
const [cpuWith, cpuWithout] = variants.map((v) => median(v.cpu)) as [number, number];
const us = (ms: number) => Number(((ms * 1000) / batch).toFixed(2));
const result = {
  batch,
  rounds,
  group,
  quotas: withQuotas,
  rowsPerRequest: group > 0 ? group - 1 : 1,
  gc: typeof globalThis.gc === 'function',
  medianFlushMs: {
    savepointPerRequest: Number(withSp.toFixed(3)),
    noSavepoints: Number(withoutSp.toFixed(3)),
  },
  perRequestUs: {
    savepointPerRequest: Number(((withSp * 1000) / batch).toFixed(2)),
    noSavepoints: Number(((withoutSp * 1000) / batch).toFixed(2)),
  },
  savepointCostUsPerRequest: Number((((withSp - withoutSp) * 1000) / batch).toFixed(2)),
  relative: Number((withSp / withoutSp).toFixed(3)),
  cpuPerRequestUs: { savepointPerRequest: us(cpuWith), noSavepoints: us(cpuWithout) },
  cpuRelative: Number((cpuWith / cpuWithout).toFixed(3)),
};
console.log(JSON.stringify(result, null, 2));
for (const v of variants) {
  v.store.close();
  rmSync(v.dir, { recursive: true, force: true });
}
