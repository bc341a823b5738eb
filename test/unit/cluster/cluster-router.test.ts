/**
 * ClusterRouter (src/server/cluster/cluster-router.ts) for nodes sharing one
 * store (a MemoryStore standing for PostgreSQL) and one Redis (FakeRedis):
 * presence and takeover both ways, notices only after COMMIT and only to the
 * node holding the recipient, rows read from the store in id order, and the
 * re-reads after a gap or after a dead node was reaped. A "turn" here is what the broker thread does around
 * its flush: what Redis said is applied, then the catch-up step reads.
 */
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LocalRouter, type PushTarget } from '../../../src/server/broker/push-router.js';
import { refreshPeriodMs } from '../../../src/server/cluster/cluster-protocol.js';
import { ClusterRouter } from '../../../src/server/cluster/cluster-router.js';
import { ClusterMetrics } from '../../../src/server/metrics/metrics.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { MessageKind, type PendingMessage } from '../../../src/store/store.js';
import { captureLogs, LEVEL } from '../../helpers/log-capture.js';
import { type FakeLink, FakeRedis } from './fake-redis.js';

const ALICE = '1000000000001';
const BOB = '1000000000002';
const CAROL = '1000000000003';

/** One text row for `recipient`, as a 05's INSERT stores it. */
function storeText(store: MemoryStore, recipient: string, body: string): PendingMessage[] {
  return store.insertMessage([
    {
      recipient,
      sender: ALICE,
      group: null,
      ts: 1,
      wantsReceipt: false,
      kind: MessageKind.Text,
      body,
    },
  ]);
}

/** What Redis delivers, and the claims' replies, have arrived. */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
};

class TestNode {
  readonly link: FakeLink;
  readonly router: ClusterRouter;
  readonly metrics: ClusterMetrics;
  readonly logs = captureLogs('info');
  /** Bodies pushed, per session. */
  readonly pushed = new Map<number, string[]>();
  /** Sessions ended as replaced (09 409). */
  readonly replaced: number[] = [];
  wakes = 0;

  constructor(
    redis: FakeRedis,
    readonly id: string,
    private readonly store: MemoryStore,
    /** How often it refreshes presence and its heartbeat; by default not within a test. */
    refreshMs = 3_600_000,
  ) {
    this.link = redis.link(id);
    this.metrics = new ClusterMetrics(new Registry(), id, () => this.link.up);
    const local = new LocalRouter((target: PushTarget, rows: PendingMessage[]) => {
      const list = this.pushed.get(target.sid) ?? [];
      this.pushed.set(target.sid, list);
      list.push(...rows.map((row) => row.body));
    });
    this.router = new ClusterRouter(
      local,
      this.link,
      {
        // As broker-worker does: the route goes and the host is told.
        replace: (target) => {
          this.replaced.push(target.sid);
          this.router.detach(target.sid);
        },
        wake: () => this.wakes++,
      },
      this.logs.logger,
      this.metrics,
      refreshMs,
    );
  }

  /** Nodes it reaped so far (zapwire_cluster_nodes_reaped_total). */
  async reaped(): Promise<number> {
    return (await this.metrics.nodesReaped.get()).values[0]?.value ?? 0;
  }

  /** SIGKILL, as Redis sees it: nothing it would say arrives any more, no heartbeat either. */
  kill(): void {
    this.link.down = true;
  }

  /** A turn with no request: what Redis said, then the catch-up reads. */
  async turn(): Promise<void> {
    this.router.applyInbound();
    await this.catchUp();
  }

  /** The turn's catch-up step: reads after the turn's writes. */
  private catchUp(): Promise<void> {
    return this.router.catchUp({
      pendingFor: async (recipient, afterId, limit) =>
        this.store.pendingFor(recipient, afterId, limit),
    });
  }

  /** A turn that stores rows for `recipient` from `sender`, commits (or not), then catches up. */
  async send(recipient: string, bodies: string[], commits = true): Promise<PendingMessage[]> {
    this.router.applyInbound();
    const rows = bodies.flatMap((body) => storeText(this.store, recipient, body));
    this.router.committed(rows);
    await this.catchUp();
    if (commits) this.router.turnCommitted();
    else {
      for (const row of rows) this.store.deletePending(row.recipient, [row.id]);
      this.router.turnFailed();
    }
    return rows;
  }

  bodies(sid: number): string[] {
    return this.pushed.get(sid) ?? [];
  }
}

describe('ClusterRouter', () => {
  let redis: FakeRedis;
  let store: MemoryStore;
  let a: TestNode;
  let b: TestNode;

  beforeEach(() => {
    redis = new FakeRedis();
    store = new MemoryStore();
    a = new TestNode(redis, 'node-a', store);
    b = new TestNode(redis, 'node-b', store);
  });
  afterEach(async () => {
    await Promise.all([a.router.close(), b.router.close()]);
    store.close();
  });

  describe('presence', () => {
    it('claims the number of a push session for its node, and a detach deletes it', async () => {
      a.router.attach(BOB, { hostId: 1, sid: 10 }, 8);
      await settle();
      expect(redis.presence.get(BOB)).toEqual({ nodeId: 'node-a', claim: 1 });
      a.router.detach(10);
      await settle();
      expect(redis.presence.has(BOB)).toBe(false);
    });

    it('deletes its presence on close, and only its own', async () => {
      a.router.attach(BOB, { hostId: 1, sid: 10 }, 8);
      b.router.attach(CAROL, { hostId: 1, sid: 20 }, 8);
      await settle();
      await a.router.close();
      expect([...redis.presence.keys()]).toEqual([CAROL]);
      expect(a.link.closed).toBe(true);
    });

    it('heartbeats in zapwire:nodes from the start, and leaves it on close', async () => {
      await settle();
      expect([...redis.nodes.keys()].sort()).toEqual(['node-a', 'node-b']);
      await a.router.close();
      expect([...redis.nodes.keys()]).toEqual(['node-b']);
    });
  });

  describe('takeover across nodes', () => {
    it('ends the older session on node A (09 409) when the number opens a push session on node B', async () => {
      a.router.attach(BOB, { hostId: 1, sid: 10 }, 8);
      await settle();
      a.router.applyInbound();
      b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
      await settle();
      b.router.applyInbound();
      expect(redis.published).toContainEqual({
        to: 'node-a',
        message: { t: 'takeover', number: BOB, claim: 2 },
      });
      await settle();
      expect(a.wakes).toBeGreaterThan(0);
      await a.turn();
      expect(a.replaced).toEqual([10]);
      expect(b.replaced).toEqual([]);
      // A's detach compared before deleting: the presence is B's.
      await settle();
      expect(redis.presence.get(BOB)).toEqual({ nodeId: 'node-b', claim: 2 });
    });

    it('ends its own new session instead when a newer one elsewhere won the race', async () => {
      // B's claim runs first in Redis, but its reply is still on the wire when A claims after it.
      b.link.holdReplies();
      b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
      a.router.attach(BOB, { hostId: 1, sid: 10 }, 8);
      await settle();
      a.router.applyInbound();
      // A (claim 2) told B, whose session's claim (1) is not known to B yet.
      await settle();
      await b.turn();
      expect(b.replaced).toEqual([]);
      b.link.releaseReplies();
      await settle();
      await b.turn();
      expect(b.replaced).toEqual([20]);
      await a.turn();
      expect(a.replaced).toEqual([]);
      expect(redis.presence.get(BOB)).toEqual({ nodeId: 'node-a', claim: 2 });
    });
  });

  describe('notices', () => {
    it('notices the node holding the recipient only once the turn committed, and that node reads the rows from the store', async () => {
      b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
      await settle();
      await b.turn();
      const before = redis.published.length;
      // The rows are stored but the turn has not committed: nothing is said.
      a.router.applyInbound();
      const rows = storeText(store, BOB, 'hello from A');
      a.router.committed(rows);
      await settle();
      expect(redis.published.length).toBe(before);
      a.router.turnCommitted();
      await settle();
      expect(redis.published.slice(before)).toEqual([
        { to: 'node-b', message: { t: 'notice', numbers: [BOB] } },
      ]);
      expect(b.bodies(20)).toEqual([]);
      await b.turn();
      expect(b.bodies(20)).toEqual(['hello from A']);
    });

    it('has one notice under way at a time: the recipients of turns committed meanwhile go in the next', async () => {
      b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
      b.router.attach(CAROL, { hostId: 1, sid: 21 }, 8);
      await settle();
      await b.turn();
      const before = redis.published.length;
      const asked = a.link.ownersAsked;
      // Redis answers slowly: the first notice's lookup is still on the wire while turns commit.
      a.link.holdReplies();
      await a.send(BOB, ['first']);
      await a.send(CAROL, ['second']);
      await a.send(BOB, ['third']);
      await settle();
      expect(a.link.ownersAsked - asked).toBe(1);
      a.link.releaseReplies();
      await settle();
      expect(redis.published.slice(before).map((p) => p.message)).toEqual([
        { t: 'notice', numbers: [BOB] },
        { t: 'notice', numbers: [CAROL, BOB] },
      ]);
      expect(a.link.ownersAsked - asked).toBe(2);
      await b.turn();
      expect(b.bodies(20)).toEqual(['first', 'third']);
      expect(b.bodies(21)).toEqual(['second']);
    });

    it('says nothing of a turn that rolled back', async () => {
      b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
      await settle();
      await b.turn();
      const before = redis.published.length;
      await a.send(BOB, ['never committed'], false);
      await settle();
      expect(redis.published.length).toBe(before);
    });

    it('notices no one for a recipient without a push session anywhere, nor for its own sessions', async () => {
      a.router.attach(CAROL, { hostId: 1, sid: 10 }, 8);
      await settle();
      await a.turn();
      const before = redis.published.length;
      await a.send(BOB, ['pending for later']);
      await a.send(CAROL, ['to a local session']);
      await settle();
      expect(redis.published.length).toBe(before);
      expect(a.bodies(10)).toEqual(['to a local session']);
    });

    it("reads a local session's rows back in id order, so a row another node stored first is not skipped", async () => {
      b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
      await settle();
      await b.turn();
      // A stores for Bob; before its notice reaches B, B stores for Bob too.
      await a.send(BOB, ['first, on A']);
      await b.send(BOB, ['second, on B']);
      expect(b.bodies(20)).toEqual(['first, on A', 'second, on B']);
      await settle();
      await b.turn();
      expect(b.bodies(20)).toEqual(['first, on A', 'second, on B']);
    });
  });

  describe('gaps', () => {
    it('after Redis comes back, re-claims presence, re-reads every local session and asks every node to re-read', async () => {
      b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
      b.router.attach(CAROL, { hostId: 1, sid: 21 }, 8);
      await settle();
      await b.turn();
      // Redis restarts empty while A stores for Bob and Carol: its notices are lost.
      a.link.down = true;
      b.link.down = true;
      redis.presence.clear();
      await a.send(BOB, ['while away']);
      await a.send(CAROL, ['also while away']);
      await settle();
      await b.turn();
      expect(b.bodies(20)).toEqual([]);
      b.link.back();
      await settle();
      expect(redis.presence.get(BOB)?.nodeId).toBe('node-b');
      expect(redis.presence.get(CAROL)?.nodeId).toBe('node-b');
      expect(redis.published).toContainEqual({
        to: undefined,
        message: { t: 'resync', nodeId: 'node-b' },
      });
      await b.turn();
      expect(b.bodies(20)).toEqual(['while away']);
      expect(b.bodies(21)).toEqual(['also while away']);
    });

    it("re-reads every local session on another node's resync", async () => {
      b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
      await settle();
      await b.turn();
      // A row B never heard of (its notice lost on the way).
      storeText(store, BOB, 'unnoticed');
      await b.turn();
      expect(b.router.hasBacklog).toBe(false);
      a.link.back();
      await settle();
      expect(b.router.hasBacklog).toBe(true);
      await b.turn();
      expect(b.bodies(20)).toEqual(['unnoticed']);
    });

    it('ends a session whose presence a newer claim took while its takeover was lost, once it re-claims', async () => {
      a.router.attach(BOB, { hostId: 1, sid: 10 }, 8);
      await settle();
      await a.turn();
      // A newer session for Bob on B; the takeover never reached A.
      redis.presence.set(BOB, { nodeId: 'node-b', claim: 99 });
      a.link.back();
      await settle();
      await a.turn();
      expect(a.replaced).toEqual([10]);
      expect(redis.presence.get(BOB)).toEqual({ nodeId: 'node-b', claim: 99 });
    });

    it('keeps serving its own sessions while Redis is away', async () => {
      a.link.down = true;
      a.router.attach(BOB, { hostId: 1, sid: 10 }, 8);
      await settle();
      await a.turn();
      await a.send(BOB, ['local while away']);
      expect(a.bodies(10)).toEqual(['local while away']);
      // Its claim failed: it is made once Redis is back.
      expect(redis.presence.has(BOB)).toBe(false);
      a.link.back();
      await settle();
      a.router.applyInbound();
      expect(redis.presence.get(BOB)?.nodeId).toBe('node-a');
    });
  });
});

describe('ClusterRouter: a node killed between its COMMIT and its notice', () => {
  const TTL_MS = 3_000;
  const REFRESH_MS = refreshPeriodMs(TTL_MS);
  let redis: FakeRedis;
  let store: MemoryStore;
  let nodes: TestNode[];

  beforeEach(() => {
    // Redis's clock (Date.now() in the fake) and the refresh timers; setImmediate stays real for settle().
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    redis = new FakeRedis(TTL_MS);
    store = new MemoryStore();
    nodes = [];
  });
  afterEach(async () => {
    await Promise.all(nodes.map((node) => node.router.close()));
    store.close();
    vi.useRealTimers();
  });

  /** A node refreshing every third of the TTL, as --cluster-ttl-ms sets it. */
  const start = (id: string) => {
    const node = new TestNode(redis, id, store, REFRESH_MS);
    nodes.push(node);
    return node;
  };
  /** Time passes one refresh period at a time; what each refresh did has arrived. */
  const elapse = async (ms: number) => {
    for (let passed = 0; passed < ms; passed += REFRESH_MS) {
      vi.advanceTimersByTime(REFRESH_MS);
      await settle();
    }
  };
  const resyncs = () => redis.published.filter(({ message }) => message.t === 'resync');

  it('is reaped after the TTL by another node, which re-reads all its sessions and asks every node to', async () => {
    const a = start('node-a');
    const b = start('node-b');
    b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
    b.router.attach(CAROL, { hostId: 1, sid: 21 }, 8);
    await settle();
    await b.turn();
    // A committed these (and answered 07), then died before its notices went out.
    storeText(store, BOB, 'committed on A');
    storeText(store, CAROL, 'also committed on A');
    a.kill();

    // Within the TTL A may only be slow: nothing happens.
    await elapse(TTL_MS);
    await b.turn();
    expect(redis.nodes.has('node-a')).toBe(true);
    expect(b.bodies(20)).toEqual([]);
    expect(resyncs()).toEqual([]);

    await elapse(REFRESH_MS);
    expect([...redis.nodes.keys()]).toEqual(['node-b']);
    expect(await b.reaped()).toBe(1);
    expect(resyncs()).toEqual([{ to: undefined, message: { t: 'resync', nodeId: 'node-b' } }]);
    const warned = b.logs.lines().filter((line) => line.level === LEVEL.warn);
    expect(warned).toMatchObject([
      { node: 'node-a', msg: 'cluster: node node-a stopped; re-reading every session' },
    ]);
    await b.turn();
    expect(b.bodies(20)).toEqual(['committed on A']);
    expect(b.bodies(21)).toEqual(['also committed on A']);
  });

  it('never reaps a node that keeps heartbeating, nor one that left in order', async () => {
    const a = start('node-a');
    const b = start('node-b');
    const c = start('node-c');
    await settle();
    await c.router.close();
    await elapse(10 * TTL_MS);
    expect([...redis.nodes.keys()].sort()).toEqual(['node-a', 'node-b']);
    expect((await a.reaped()) + (await b.reaped())).toBe(0);
    expect(resyncs()).toEqual([]);
  });

  it('is reaped once when two nodes refresh at the same moment, and both nodes re-read', async () => {
    const a = start('node-a');
    const b = start('node-b');
    const c = start('node-c');
    b.router.attach(BOB, { hostId: 1, sid: 20 }, 8);
    c.router.attach(CAROL, { hostId: 1, sid: 30 }, 8);
    await settle();
    await Promise.all([b.turn(), c.turn()]);
    storeText(store, BOB, 'for Bob on B');
    storeText(store, CAROL, 'for Carol on C');
    a.kill();
    await elapse(TTL_MS + REFRESH_MS);
    // B's and C's timers fire together: both reap, one of them gets A.
    expect((await b.reaped()) + (await c.reaped())).toBe(1);
    expect(resyncs()).toHaveLength(1);
    expect([...redis.nodes.keys()].sort()).toEqual(['node-b', 'node-c']);
    await Promise.all([b.turn(), c.turn()]);
    expect(b.bodies(20)).toEqual(['for Bob on B']);
    expect(c.bodies(30)).toEqual(['for Carol on C']);
  });

  it('takes a node cut off from Redis for longer than the TTL for dead, and counts it in again once it is back', async () => {
    const a = start('node-a');
    const b = start('node-b');
    await settle();
    a.link.down = true;
    await elapse(TTL_MS + REFRESH_MS);
    expect(await b.reaped()).toBe(1);
    expect(redis.nodes.has('node-a')).toBe(false);
    a.link.back();
    await settle();
    expect(redis.nodes.has('node-a')).toBe(true);
    await elapse(10 * TTL_MS);
    expect(await b.reaped()).toBe(1);
  });
});
