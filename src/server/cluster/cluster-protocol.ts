/**
 * What nodes of a cluster say to each other through Redis (DESIGN.md §More
 * than one machine): the keys, the channels and the text of their messages.
 * Pure: no connection here, so the router can be tested on a fake link.
 *
 * Messages carry numbers and claims only, never rows: rows travel through
 * the shared store, which orders them (by id, per recipient).
 */

/**
 * The default of --cluster-ttl-ms: how long a presence key, and a node's
 * heartbeat, live without a refresh. A node that died stops owning its
 * numbers after this, and is reaped by another node.
 */
export const PRESENCE_TTL_MS = 30_000;
/** How often a node refreshes its presence and heartbeat, in ms: a third of the TTL, so two refreshes may be lost. */
export const refreshPeriodMs = (ttlMs: number): number => Math.max(1, Math.floor(ttlMs / 3));

/** `zapwire:presence:<number>` -> `<nodeId> <claim>`: which node holds the number's push session. */
export const presenceKey = (number: string): string => `zapwire:presence:${number}`;
/** The counter every claim is drawn from (INCR): a later attach anywhere has a higher claim. */
export const CLAIM_COUNTER = 'zapwire:claims';
/** A node's own channel: notices and takeovers for the sessions it holds. */
export const nodeChannel = (nodeId: string): string => `zapwire:node:${nodeId}`;
/** Every node listens here: `resync` after a node's gap, or after a dead node was reaped. */
export const BROADCAST_CHANNEL = 'zapwire:broadcast';
/**
 * Node liveness: a sorted set, member = node id, score = its last heartbeat
 * in ms of Redis's clock (TIME), so that the nodes' clocks do not matter. A
 * member older than the TTL is a node that died without leaving: reaped.
 */
export const NODES_KEY = 'zapwire:nodes';

/** Who holds a number's push session, and with which claim. */
export interface Presence {
  nodeId: string;
  claim: number;
}

export function encodePresence({ nodeId, claim }: Presence): string {
  return `${nodeId} ${claim}`;
}

export function decodePresence(value: string | null | undefined): Presence | undefined {
  if (value == null) return undefined;
  const space = value.lastIndexOf(' ');
  const claim = Number(value.slice(space + 1));
  if (space <= 0 || !Number.isSafeInteger(claim)) return undefined;
  return { nodeId: value.slice(0, space), claim };
}

export type ClusterMessage =
  /** Rows for these recipients were committed: read them from the store. */
  | { t: 'notice'; numbers: string[] }
  /** A newer push session (`claim`) for `number` opened elsewhere: end the older one here (09 409). */
  | { t: 'takeover'; number: string; claim: number }
  /**
   * `nodeId` had a gap in its Redis link, or reaped a dead node (whose rows
   * committed before it died may have had no notice): every node re-reads
   * the pending rows of its sessions.
   */
  | { t: 'resync'; nodeId: string };

export function encodeMessage(message: ClusterMessage): string {
  switch (message.t) {
    case 'notice':
      return `notice ${message.numbers.join(' ')}`;
    case 'takeover':
      return `takeover ${message.number} ${message.claim}`;
    case 'resync':
      return `resync ${message.nodeId}`;
  }
}

/** undefined for a message this version does not know (a newer node's): ignored. */
export function decodeMessage(text: string): ClusterMessage | undefined {
  const [t, ...words] = text.split(' ');
  if (t === 'notice' && words.length > 0) return { t, numbers: words };
  if (t === 'takeover' && words.length === 2) {
    const claim = Number(words[1]);
    if (Number.isSafeInteger(claim)) return { t, number: words[0]!, claim };
  }
  if (t === 'resync' && words.length === 1) return { t, nodeId: words[0]! };
  return undefined;
}
