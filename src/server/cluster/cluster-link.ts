import type { ClusterMessage, Presence } from './cluster-protocol.js';

/** What one claim of a number's presence did (the claim script, atomic in Redis). */
export interface ClaimResult {
  /** The claim made: a new one drawn from the counter, or the one re-claimed. */
  claim: number;
  /** Who held the number before; undefined: nobody (or the key had expired). */
  previous: Presence | undefined;
  /** False: `previous` has a higher claim (a newer session elsewhere) and nothing was written. */
  won: boolean;
}

/** What the link tells the router. */
export interface LinkListener {
  /** A message on this node's channel or the broadcast channel. */
  message(message: ClusterMessage): void;
  /** A connection came back after a loss: notices may have been missed, presence may have expired. */
  gap(): void;
}

/**
 * What ClusterRouter needs of Redis, behind an interface so that it can be
 * tested on a fake (test/unit/cluster). Every call fails at once while Redis
 * is away (nothing queues); the router only ever waits for a claim.
 */
export interface ClusterLink {
  readonly nodeId: string;
  /** Both connections are ready. */
  readonly up: boolean;
  listen(listener: LinkListener): void;
  /** Claims `number` for this node: with a new claim, or re-claims with `claim` (a refresh). */
  claim(number: string, claim?: number): Promise<ClaimResult>;
  /** Re-claims many in one round trip (the periodic refresh). */
  reclaim(entries: readonly { number: string; claim: number }[]): Promise<ClaimResult[]>;
  /** Deletes the presence of `number` if it still names this node and `claim` (compare-and-delete). */
  release(entries: readonly { number: string; claim: number }[]): Promise<void>;
  /** Who holds each number (one MGET). */
  owners(numbers: readonly string[]): Promise<(Presence | undefined)[]>;
  /** To one node's channel, or to every node (`undefined`: the broadcast channel). */
  publish(nodeId: string | undefined, message: ClusterMessage): Promise<void>;
  /** This node is alive: its member of `zapwire:nodes` is scored with Redis's time now. */
  heartbeat(): Promise<void>;
  /**
   * Removes the other nodes whose last heartbeat is older than the TTL and
   * returns them, atomically: of nodes reaping at once, one gets each.
   */
  reap(): Promise<string[]>;
  /** Orderly shutdown: this node's member of `zapwire:nodes` goes (it is not reaped later). */
  leave(): Promise<void>;
  close(): Promise<void>;
}
