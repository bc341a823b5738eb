import type { Logger } from 'pino';
import type { PendingMessage } from '../../store/store.js';
import type { StoreCalls } from '../../store/turn-store.js';
import type { LocalRouter, PushRouter, PushTarget } from '../broker/push-router.js';
import type { ClusterMetrics } from '../metrics/metrics.js';
import type { ClaimResult, ClusterLink } from './cluster-link.js';
import { type ClusterMessage, PRESENCE_TTL_MS, refreshPeriodMs } from './cluster-protocol.js';

/** What the router asks of the broker thread. */
export interface ClusterHooks {
  /** Ends a local push session that a newer one replaced (09 409, as a local takeover). Called between turns. */
  replace(target: PushTarget): void;
  /** Something is waiting for the next turn (`applyInbound`, then catchUp): schedule one. */
  wake(): void;
}

/** A push session of this node and its claim on the number's presence (undefined until the claim answered). */
interface Held extends PushTarget {
  number: string;
  claim: number | undefined;
}

/**
 * Push routing for one node of a cluster (DESIGN.md §More than one machine):
 * the node's own sessions are LocalRouter's; around it, presence in Redis
 * (which node holds which number's push session), takeovers across nodes,
 * and notices to the nodes holding the recipients of rows this node
 * committed. A notice names recipients only: the receiving node marks their
 * routes behind and its next turn's catchUp reads the rows from the shared
 * store, in id order, which is commit order per recipient.
 *
 * A node can die between a COMMIT and its notice: every node heartbeats in
 * Redis, and the first to see a node's heartbeat older than the TTL reaps it
 * and has every node re-read all its sessions (the rows it committed are in
 * the store; only their notices are lost).
 *
 * What Redis says arrives at any time, but changes the routes only between
 * two turns (`applyInbound`, before the broker's flush): a route marked
 * behind while catchUp's read is under way would be marked caught up by it,
 * though the read may predate the rows the notice is about.
 */
export class ClusterRouter implements PushRouter {
  private readonly bySid = new Map<number, Held>();
  private readonly byNumber = new Map<string, Held>();
  /** Recipients of the turn's rows that have no push session here: noticed once the turn commits. */
  private remote = new Set<string>();
  /**
   * Recipients of committed turns whose notice waits for the one under way:
   * one notice at a time, so a slow Redis makes this set of numbers grow
   * (bounded by the users), not a queue of commands (one per turn).
   */
  private unnoticed = new Set<string>();
  private noticing = false;
  /** What Redis said, for the next turn boundary. */
  private inbound: (() => void)[] = [];
  /** Takeover claims that arrived before the claim of the local session they are about. */
  private readonly earlyTakeovers = new Map<string, number>();
  private readonly refreshTimer: NodeJS.Timeout;
  private closed = false;

  constructor(
    private readonly local: LocalRouter,
    private readonly link: ClusterLink,
    private readonly hooks: ClusterHooks,
    private readonly logger?: Logger,
    private readonly metrics?: ClusterMetrics,
    /** How often presence and the heartbeat are refreshed: a third of --cluster-ttl-ms. */
    refreshMs = refreshPeriodMs(PRESENCE_TTL_MS),
  ) {
    link.listen({
      message: (message) => this.heard(message),
      gap: () => void this.afterGap(),
    });
    // Alive from the start (if Redis is away, from the gap's refresh on).
    void this.keepAlive();
    this.refreshTimer = setInterval(() => void this.refresh(), refreshMs);
    this.refreshTimer.unref();
  }

  get size(): number {
    return this.local.size;
  }

  get hasBacklog(): boolean {
    return this.inbound.length > 0 || this.local.hasBacklog;
  }

  targets(): PushTarget[] {
    return this.local.targets();
  }

  attach(number: string, target: PushTarget, credit: number): PushTarget | undefined {
    const replaced = this.local.attach(number, target, credit);
    if (replaced) this.forget(replaced.sid);
    const held: Held = { hostId: target.hostId, sid: target.sid, number, claim: undefined };
    this.bySid.set(held.sid, held);
    this.byNumber.set(number, held);
    void this.claim(held);
    return replaced;
  }

  detach(sid: number): void {
    this.local.detach(sid);
    const held = this.forget(sid);
    if (held?.claim !== undefined) this.release([held]);
  }

  detachHost(hostId: number): void {
    const gone = [...this.bySid.values()].filter((held) => held.hostId === hostId);
    this.local.detachHost(hostId);
    for (const held of gone) this.forget(held.sid);
    this.release(gone.filter((held) => held.claim !== undefined));
  }

  /**
   * Unlike a single node, rows are not pushed straight from the turn: another
   * node may have committed a row for the same recipient just before (a
   * smaller id, its notice still on the way), and pushing this one first
   * would break the order, and skip that row (catchUp reads above the last id
   * sent). The session is marked behind instead, and the turn's catch-up step
   * reads every row above its last, in id order (one read step more per turn).
   */
  committed(rows: readonly PendingMessage[]): void {
    for (const row of rows) {
      if (this.byNumber.has(row.recipient)) this.local.markBehind(row.recipient);
      else this.remote.add(row.recipient);
    }
  }

  turnCommitted(): void {
    if (this.remote.size === 0) return;
    // Only now: a node that read before the rows were visible would miss them.
    for (const number of this.remote) this.unnoticed.add(number);
    this.remote = new Set();
    this.noticeNext();
  }

  turnFailed(): void {
    this.remote.clear();
  }

  /** Sends the notices waiting, unless one is under way (it calls this again when it ends). */
  private noticeNext(): void {
    if (this.noticing || this.unnoticed.size === 0) return;
    const numbers = [...this.unnoticed];
    this.unnoticed = new Set();
    this.noticing = true;
    void this.notify(numbers).finally(() => {
      this.noticing = false;
      this.noticeNext();
    });
  }

  grant(sid: number, credit: number): void {
    this.local.grant(sid, credit);
  }

  setWritable(sid: number, writable: boolean): void {
    this.local.setWritable(sid, writable);
  }

  catchUp(store: Pick<StoreCalls, 'pendingFor'>): Promise<void> {
    return this.local.catchUp(store);
  }

  /** Applies what Redis said since the last turn; the broker thread calls it before each flush. */
  applyInbound(): void {
    const actions = this.inbound;
    this.inbound = [];
    for (const action of actions) action();
  }

  /** Shutdown: this node's presence goes (compare-and-delete) and its heartbeat, then both connections. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.refreshTimer);
    const held = [...this.bySid.values()].filter((h) => h.claim !== undefined);
    await Promise.all([
      this.link.release(held.map(({ number, claim }) => ({ number, claim: claim! }))),
      // Left, not died: no node is to reap it and re-read.
      this.link.leave(),
    ]).catch(() => undefined);
    await this.link.close();
  }

  private forget(sid: number): Held | undefined {
    const held = this.bySid.get(sid);
    if (!held) return undefined;
    this.bySid.delete(sid);
    if (this.byNumber.get(held.number) === held) {
      this.byNumber.delete(held.number);
      this.earlyTakeovers.delete(held.number);
    }
    return held;
  }

  private isHeld(held: Held): boolean {
    return this.bySid.get(held.sid) === held;
  }

  private later(action: () => void): void {
    this.inbound.push(action);
    this.hooks.wake();
  }

  /** A new session's claim; until it is answered the session is served from this node alone. */
  private async claim(held: Held): Promise<void> {
    let result: ClaimResult;
    try {
      result = await this.link.claim(held.number);
    } catch {
      // Redis is away (the link counts and logs it): the claim is made after the gap.
      return;
    }
    if (!this.isHeld(held)) {
      // The session went while its claim was under way.
      if (result.won) this.release([{ number: held.number, claim: result.claim }]);
      return;
    }
    // Known at once, so that a detach from now on deletes the presence.
    held.claim = result.claim;
    this.later(() => this.claimed(held, result));
  }

  /**
   * A claim (new, refreshed, or after a gap) was answered. Once this node's
   * presence is visible, the session re-reads what is pending: a row another
   * node committed before it could see that presence got no notice.
   */
  private claimed(held: Held, result: ClaimResult): void {
    // The session went since (its detach released the presence).
    if (!this.isHeld(held)) return;
    const early = this.earlyTakeovers.get(held.number);
    this.earlyTakeovers.delete(held.number);
    if (!result.won || (early !== undefined && early > result.claim)) {
      // A newer session elsewhere: this one is the one replaced.
      this.hooks.replace(held);
      return;
    }
    const { previous } = result;
    if (previous && previous.nodeId !== this.link.nodeId)
      this.send(previous.nodeId, { t: 'takeover', number: held.number, claim: result.claim });
    this.local.markBehind(held.number);
  }

  private heard(message: ClusterMessage): void {
    switch (message.t) {
      case 'notice':
        this.metrics?.noticesReceived.inc();
        this.later(() => {
          for (const number of message.numbers) this.local.markBehind(number);
        });
        return;
      case 'takeover':
        this.later(() => this.takenOver(message.number, message.claim));
        return;
      case 'resync':
        if (message.nodeId === this.link.nodeId) return;
        this.resync();
        return;
    }
  }

  /** A newer session for `number` opened on another node with `claim`: the local one, if older, ends. */
  private takenOver(number: string, claim: number): void {
    const held = this.byNumber.get(number);
    if (!held) return;
    if (held.claim === undefined) {
      this.earlyTakeovers.set(number, Math.max(claim, this.earlyTakeovers.get(number) ?? 0));
      return;
    }
    if (held.claim < claim) this.hooks.replace(held);
  }

  /** Every local session re-reads its pending rows (messages stored meanwhile reach them). */
  private resync(): void {
    this.metrics?.resyncs.inc();
    this.later(() => this.local.markAllBehind());
  }

  /**
   * A connection came back after a loss: the node claims its presence again
   * (it may have expired, or notices gone elsewhere meanwhile), then re-reads
   * for all its sessions, and asks every node to do the same (a publish lost
   * by one node only is covered too).
   */
  private async afterGap(): Promise<void> {
    if (this.closed) return;
    this.logger?.info(
      { sessions: this.bySid.size },
      'cluster: Redis is back; re-claiming and re-reading',
    );
    await this.refresh();
    this.resync();
    this.send(undefined, { t: 'resync', nodeId: this.link.nodeId });
  }

  /**
   * The periodic refresh (and the one after a gap): the heartbeat and the
   * reaping, and every session's presence re-claimed in one round trip (and
   * claimed for those whose claim failed).
   */
  private async refresh(): Promise<void> {
    void this.keepAlive();
    const sessions = [...this.bySid.values()];
    const claimed = sessions.filter((held) => held.claim !== undefined);
    for (const held of sessions) if (held.claim === undefined) void this.claim(held);
    if (claimed.length === 0) return;
    let results: ClaimResult[];
    try {
      results = await this.link.reclaim(
        claimed.map(({ number, claim }) => ({ number, claim: claim! })),
      );
    } catch {
      return;
    }
    this.later(() => {
      for (const [i, held] of claimed.entries()) {
        const result = results[i]!;
        // Refreshed as it was: nothing changed.
        if (result.won && result.previous?.nodeId === this.link.nodeId) continue;
        this.claimed(held, result);
      }
    });
  }

  /**
   * This node's heartbeat, then the reaping of the nodes whose heartbeat is
   * older than the TTL. A reaped node may have committed rows whose notices
   * it never sent (killed between its COMMIT and its PUBLISH): every node
   * re-reads all its sessions, this one too (it ignores its own resync).
   */
  private async keepAlive(): Promise<void> {
    let reaped: string[];
    try {
      await this.link.heartbeat();
      reaped = await this.link.reap();
    } catch {
      // Redis is away (the link counts and logs it): the refresh after the gap beats again.
      return;
    }
    if (reaped.length === 0) return;
    for (const node of reaped)
      this.logger?.warn({ node }, `cluster: node ${node} stopped; re-reading every session`);
    this.metrics?.nodesReaped.inc(reaped.length);
    this.resync();
    this.send(undefined, { t: 'resync', nodeId: this.link.nodeId });
  }

  /** One MGET of the recipients' presence, then one notice per node holding some of them. */
  private async notify(numbers: string[]): Promise<void> {
    let owners: Awaited<ReturnType<ClusterLink['owners']>>;
    try {
      owners = await this.link.owners(numbers);
    } catch {
      return;
    }
    const byNode = new Map<string, string[]>();
    for (const [i, owner] of owners.entries()) {
      if (!owner || owner.nodeId === this.link.nodeId) continue;
      let list = byNode.get(owner.nodeId);
      if (!list) byNode.set(owner.nodeId, (list = []));
      list.push(numbers[i]!);
    }
    await Promise.all(
      [...byNode].map(([nodeId, list]) =>
        this.link.publish(nodeId, { t: 'notice', numbers: list }).then(
          () => this.metrics?.noticesPublished.inc(),
          // Counted and logged by the link; the resync after the gap covers it.
          () => undefined,
        ),
      ),
    );
  }

  private send(nodeId: string | undefined, message: ClusterMessage): void {
    // A failure is the link's to count and log; what it would have said is covered by the resync after the gap.
    this.link.publish(nodeId, message).catch(() => undefined);
  }

  private release(entries: readonly { number: string; claim: number | undefined }[]): void {
    if (entries.length === 0) return;
    this.link
      .release(entries.map(({ number, claim }) => ({ number, claim: claim! })))
      // Expires on its own.
      .catch(() => undefined);
  }
}
