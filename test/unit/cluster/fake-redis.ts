/**
 * A Redis for ClusterRouter's unit tests: one presence table, one claim
 * counter and the channels, shared by the links of several nodes, with the
 * semantics of src/server/cluster/redis-link.ts's scripts (the higher claim
 * wins; release is compare-and-delete; a heartbeat scores the node with
 * Redis's clock, here Date.now(), which a test may fake; a reap removes and
 * returns the other nodes older than the TTL, at once). A link can be taken down (every call
 * rejects, as with no offline queue) and its replies held back (a reply still
 * on the wire while other nodes act).
 */
import type {
  ClaimResult,
  ClusterLink,
  LinkListener,
} from '../../../src/server/cluster/cluster-link.js';
import type { ClusterMessage, Presence } from '../../../src/server/cluster/cluster-protocol.js';

export class FakeRedis {
  readonly presence = new Map<string, Presence>();
  /** `zapwire:nodes`: node id -> its last heartbeat, in ms. */
  readonly nodes = new Map<string, number>();
  private counter = 0;
  readonly links = new Map<string, FakeLink>();
  /** Every message published, in order, with the node it went to (undefined: broadcast). */
  readonly published: { to: string | undefined; message: ClusterMessage }[] = [];

  /** `ttlMs`: the links' --cluster-ttl-ms. */
  constructor(readonly ttlMs = 30_000) {}

  link(nodeId: string): FakeLink {
    const link = new FakeLink(this, nodeId);
    this.links.set(nodeId, link);
    return link;
  }

  /** @internal the claim script */
  claim(nodeId: string, number: string, given?: number): ClaimResult {
    const claim = given ?? ++this.counter;
    const previous = this.presence.get(number);
    if (previous && previous.claim > claim) return { claim, previous, won: false };
    this.presence.set(number, { nodeId, claim });
    return { claim, previous, won: true };
  }

  /** @internal the reap script */
  reap(nodeId: string): string[] {
    const before = Date.now() - this.ttlMs;
    const reaped = [...this.nodes].filter(([id, beat]) => id !== nodeId && beat < before);
    for (const [id] of reaped) this.nodes.delete(id);
    return reaped.map(([id]) => id);
  }

  /** @internal */
  publish(to: string | undefined, message: ClusterMessage): void {
    this.published.push({ to, message });
    for (const link of this.links.values())
      if (to === undefined || link.nodeId === to) link.deliver(message);
  }
}

export class FakeLink implements ClusterLink {
  listener: LinkListener | undefined;
  down = false;
  closed = false;
  /** Replies held back while set: released by `release()`. */
  private held: (() => void)[] | undefined;

  constructor(
    private readonly redis: FakeRedis,
    readonly nodeId: string,
  ) {}

  get up(): boolean {
    return !this.down;
  }

  listen(listener: LinkListener): void {
    this.listener = listener;
  }

  /** Holds back the replies of calls from now on (the commands still run at once, in Redis). */
  holdReplies(): void {
    this.held = [];
  }

  releaseReplies(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const reply of held) reply();
  }

  /** Redis is back for this node: the router's gap handling runs. */
  back(): void {
    this.down = false;
    this.listener?.gap();
  }

  /** @internal */
  deliver(message: ClusterMessage): void {
    if (!this.down && !this.closed) queueMicrotask(() => this.listener?.message(message));
  }

  claim(number: string, claim?: number): Promise<ClaimResult> {
    return this.call(() => this.redis.claim(this.nodeId, number, claim));
  }

  reclaim(entries: readonly { number: string; claim: number }[]): Promise<ClaimResult[]> {
    return this.call(() => entries.map((e) => this.redis.claim(this.nodeId, e.number, e.claim)));
  }

  release(entries: readonly { number: string; claim: number }[]): Promise<void> {
    return this.call(() => {
      for (const { number, claim } of entries) {
        const held = this.redis.presence.get(number);
        if (held?.nodeId === this.nodeId && held.claim === claim)
          this.redis.presence.delete(number);
      }
    });
  }

  /** How many presence lookups (MGETs) this link has made. */
  ownersAsked = 0;

  owners(numbers: readonly string[]): Promise<(Presence | undefined)[]> {
    this.ownersAsked++;
    return this.call(() => numbers.map((n) => this.redis.presence.get(n)));
  }

  publish(nodeId: string | undefined, message: ClusterMessage): Promise<void> {
    return this.call(() => this.redis.publish(nodeId, message));
  }

  heartbeat(): Promise<void> {
    return this.call(() => {
      this.redis.nodes.set(this.nodeId, Date.now());
    });
  }

  reap(): Promise<string[]> {
    return this.call(() => this.redis.reap(this.nodeId));
  }

  leave(): Promise<void> {
    return this.call(() => {
      this.redis.nodes.delete(this.nodeId);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private call<T>(command: () => T): Promise<T> {
    if (this.down) return Promise.reject(new Error('Redis is away'));
    const result = command();
    if (this.held === undefined) return Promise.resolve(result);
    const held = this.held;
    return new Promise((resolve) => held.push(() => resolve(result)));
  }
}
