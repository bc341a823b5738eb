import { type ChainableCommander, Redis, type Result } from 'ioredis';
import type { Logger } from 'pino';
import { redacted } from '../../store/database-name.js';
import type { ClusterMetrics } from '../metrics/metrics.js';
import type { ClaimResult, ClusterLink, LinkListener } from './cluster-link.js';
import {
  BROADCAST_CHANNEL,
  CLAIM_COUNTER,
  type ClusterMessage,
  decodeMessage,
  decodePresence,
  encodeMessage,
  NODES_KEY,
  nodeChannel,
  presenceKey,
} from './cluster-protocol.js';

/**
 * The claim, atomic in Redis: a new claim is drawn from the counter (or the
 * given one re-claimed), and the higher claim wins: presence is written only
 * if the holder's claim is not higher. Returns the claim, the previous value
 * ('' for none) and 1 if written.
 * KEYS: presence, counter; ARGV: node id, ttl ms, claim ('' draws one).
 */
const CLAIM_SCRIPT = `
local claim = tonumber(ARGV[3])
if not claim then claim = redis.call('INCR', KEYS[2]) end
local previous = redis.call('GET', KEYS[1])
if previous then
  local held = tonumber(string.match(previous, ' (%d+)$'))
  if held and held > claim then return {claim, previous, 0} end
end
redis.call('SET', KEYS[1], ARGV[1] .. ' ' .. claim, 'PX', ARGV[2])
return {claim, previous or '', 1}
`;

/** Compare-and-delete: the presence goes only if it still names this node and claim. KEYS: presence; ARGV: its value. */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** Redis's clock in ms, so that the nodes' clocks do not matter (a script may write after TIME since Redis 5). */
const NOW_MS = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`;

/** This node's heartbeat. KEYS: nodes; ARGV: node id. */
const HEARTBEAT_SCRIPT = `${NOW_MS}
redis.call('ZADD', KEYS[1], now, ARGV[1])
return now
`;

/**
 * The other nodes whose heartbeat is older than the TTL, removed and
 * returned in one step: a node reaping at the same time finds them gone.
 * Never this node itself: it is evidently alive.
 * KEYS: nodes; ARGV: node id, ttl ms.
 */
const REAP_SCRIPT = `${NOW_MS}
local stale = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - tonumber(ARGV[2])))
local reaped = {}
for _, node in ipairs(stale) do
  if node ~= ARGV[1] then
    redis.call('ZREM', KEYS[1], node)
    table.insert(reaped, node)
  end
end
return reaped
`;

type ClaimReply = [number, string, number];

declare module 'ioredis' {
  interface RedisCommander<Context> {
    zapwireClaim(
      presence: string,
      counter: string,
      nodeId: string,
      ttlMs: number,
      claim: string,
    ): Result<ClaimReply, Context>;
    zapwireRelease(presence: string, value: string): Result<number, Context>;
    zapwireHeartbeat(nodes: string, nodeId: string): Result<number, Context>;
    zapwireReap(nodes: string, nodeId: string, ttlMs: number): Result<string[], Context>;
  }
}

/** Reconnection: forever, 50 ms more each attempt up to 2 s. */
const retryStrategy = (attempt: number): number => Math.min(attempt * 50, 2_000);

function claimResult([claim, previous, won]: ClaimReply): ClaimResult {
  return { claim: Number(claim), previous: decodePresence(previous || undefined), won: won === 1 };
}

/**
 * The broker thread's link to Redis: one connection for commands and
 * publishes, one subscribed to this node's channel and the broadcast one.
 * The command connection has no offline queue: while Redis is away every
 * command fails at once (counted, logged once per outage) instead of piling
 * up without bound; both reconnect forever. A `ready` after a `close`, on
 * either connection, is a gap: the router re-claims and re-reads.
 */
export class RedisLink implements ClusterLink {
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private listener: LinkListener | undefined;
  /** Each connection has been lost since it was last ready. */
  private readonly lost = { commands: false, subscriber: false };
  private readonly ready = { commands: false, subscriber: false };
  private outageLogged = false;
  private closing = false;

  constructor(
    url: string,
    readonly nodeId: string,
    /** --cluster-ttl-ms: the life of a presence key, and of a heartbeat, without a refresh. */
    private readonly ttlMs: number,
    private readonly logger?: Logger,
    private readonly metrics?: ClusterMetrics,
  ) {
    const name = redacted(url, 'the Redis server');
    this.commands = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      retryStrategy,
      lazyConnect: true,
      connectionName: `zapwire-${nodeId}`,
    });
    this.subscriber = new Redis(url, {
      // Only SUBSCRIBE is ever queued here (at start): bounded.
      maxRetriesPerRequest: null,
      retryStrategy,
      lazyConnect: true,
      connectionName: `zapwire-${nodeId}-sub`,
    });
    this.commands.defineCommand('zapwireClaim', { numberOfKeys: 2, lua: CLAIM_SCRIPT });
    this.commands.defineCommand('zapwireRelease', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    this.commands.defineCommand('zapwireHeartbeat', { numberOfKeys: 1, lua: HEARTBEAT_SCRIPT });
    this.commands.defineCommand('zapwireReap', { numberOfKeys: 1, lua: REAP_SCRIPT });
    for (const which of ['commands', 'subscriber'] as const) {
      const connection = this[which];
      connection.on('ready', () => this.becameReady(which, name));
      connection.on('close', () => this.becameLost(which, name));
      // Every error also closes or fails a command: counted there; the event must have a listener.
      connection.on('error', () => undefined);
    }
    this.subscriber.on('message', (_channel: string, text: string) => {
      const message = decodeMessage(text);
      if (message) this.listener?.message(message);
    });
  }

  get up(): boolean {
    return this.ready.commands && this.ready.subscriber;
  }

  listen(listener: LinkListener): void {
    this.listener = listener;
  }

  /**
   * Connects both and subscribes; resolves once both are ready, or after
   * `timeoutMs` (then the node serves its own sessions until Redis answers,
   * and the first ready is a gap).
   */
  async start(timeoutMs: number): Promise<boolean> {
    const connected = Promise.all([
      this.commands.connect(),
      this.subscriber
        .connect()
        .then(() => this.subscriber.subscribe(nodeChannel(this.nodeId), BROADCAST_CHANNEL)),
    ]).then(
      () => true,
      () => false,
    );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([connected, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  claim(number: string, claim?: number): Promise<ClaimResult> {
    return this.attempt(
      this.commands
        .zapwireClaim(
          presenceKey(number),
          CLAIM_COUNTER,
          this.nodeId,
          this.ttlMs,
          claim === undefined ? '' : String(claim),
        )
        .then(claimResult),
    );
  }

  reclaim(entries: readonly { number: string; claim: number }[]): Promise<ClaimResult[]> {
    const pipeline = this.commands.pipeline();
    for (const { number, claim } of entries)
      pipeline.zapwireClaim(
        presenceKey(number),
        CLAIM_COUNTER,
        this.nodeId,
        this.ttlMs,
        String(claim),
      );
    return this.attempt(execAll<ClaimReply>(pipeline).then((replies) => replies.map(claimResult)));
  }

  release(entries: readonly { number: string; claim: number }[]): Promise<void> {
    if (entries.length === 0) return Promise.resolve();
    const pipeline = this.commands.pipeline();
    for (const { number, claim } of entries)
      pipeline.zapwireRelease(presenceKey(number), `${this.nodeId} ${claim}`);
    return this.attempt(execAll(pipeline).then(() => undefined));
  }

  owners(numbers: readonly string[]): Promise<ReturnType<typeof decodePresence>[]> {
    return this.attempt(
      this.commands
        .mget(numbers.map(presenceKey))
        .then((values) => values.map((value) => decodePresence(value))),
    );
  }

  publish(nodeId: string | undefined, message: ClusterMessage): Promise<void> {
    const channel = nodeId === undefined ? BROADCAST_CHANNEL : nodeChannel(nodeId);
    return this.attempt(
      this.commands.publish(channel, encodeMessage(message)).then(() => undefined),
    );
  }

  heartbeat(): Promise<void> {
    return this.attempt(
      this.commands.zapwireHeartbeat(NODES_KEY, this.nodeId).then(() => undefined),
    );
  }

  reap(): Promise<string[]> {
    return this.attempt(this.commands.zapwireReap(NODES_KEY, this.nodeId, this.ttlMs));
  }

  leave(): Promise<void> {
    return this.attempt(this.commands.zrem(NODES_KEY, this.nodeId).then(() => undefined));
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(
      [this.commands, this.subscriber].map((connection) =>
        connection.quit().catch(() => connection.disconnect()),
      ),
    );
  }

  /** A command's failure is counted, and logged once per outage. */
  private async attempt<T>(command: Promise<T>): Promise<T> {
    try {
      return await command;
    } catch (err) {
      this.metrics?.redisFailures.inc();
      if (!this.outageLogged && !this.closing) {
        this.outageLogged = true;
        this.logger?.warn({ err }, 'cluster: a Redis command failed; serving local sessions only');
      }
      throw err;
    }
  }

  private becameReady(which: 'commands' | 'subscriber', name: string): void {
    this.ready[which] = true;
    if (!this.lost[which]) return;
    this.lost[which] = false;
    this.outageLogged = false;
    this.logger?.info({ redis: name, connection: which }, 'cluster: Redis connection back');
    this.listener?.gap();
  }

  private becameLost(which: 'commands' | 'subscriber', name: string): void {
    const wasReady = this.ready[which];
    this.ready[which] = false;
    this.lost[which] = true;
    if (wasReady && !this.closing)
      this.logger?.warn({ redis: name, connection: which }, 'cluster: Redis connection lost');
  }
}

/** A pipeline's replies, failing with the first error among them. */
async function execAll<T>(pipeline: ChainableCommander): Promise<T[]> {
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([err, reply]) => {
    if (err) throw err;
    return reply as T;
  });
}
