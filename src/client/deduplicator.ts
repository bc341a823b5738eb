import { createHash } from 'node:crypto';
import { type Frame, tsField } from '../protocol/frame.js';

/**
 * Where the keys of delivered frames are remembered. The client always keeps
 * an in-memory LRU; give it one of these (option `seen`) to remember across
 * restarts too, e.g. a table in the chat's own database. Both calls are
 * synchronous: a frame is judged before the next one is read.
 */
export interface SeenStore {
  has(key: string): boolean;
  add(key: string): void;
}

/**
 * The identity of a `06` as the protocol has it: sender, destination, ts, flag
 * and text (frames carry no message id). The same message delivered again after
 * a lost `08` has the same key. A SHA-256, base64url: 43 characters whatever
 * the text, so that a persisted store stays small.
 */
export function messageKey(frame: Pick<Frame, 'src' | 'dst' | 'ts' | 'flag' | 'data'>): string {
  return createHash('sha256')
    .update(`${frame.src}${frame.dst}${tsField(frame.ts)}${frame.flag ? '1' : '0'}`)
    .update(frame.data, 'utf8')
    .digest('base64url');
}

/** A bounded map from key to a value, least recently added or read evicted first. */
export class LruMap<V> {
  private readonly map = new Map<string, V>();

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError('capacity must be a positive integer');
  }

  get size(): number {
    return this.map.size;
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    // Map keeps insertion order: re-inserting makes the key the most recent.
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value!);
  }
}

export const DEFAULT_SEEN_CAPACITY = 10_000;

/**
 * Decides whether a delivered frame is new or a redelivery. docs/protocol.md
 * §Delivery guarantees: a `06` not acknowledged when a connection ends is sent
 * again in the next session, so the application would see it twice.
 *
 * Only what the application took (its listeners returned) is remembered: a
 * frame whose listener threw is not, so when it comes again it is new and is
 * emitted again.
 *
 * The server never sends a frame twice on the connection it was written on
 * (pushes move forward; the client acknowledges before it polls again, and
 * ends the connection when a frame was not taken), so a key taken before *on
 * the same connection* is a second, identical message (two "ok" in the same
 * second), not a redelivery, and is let through. A key taken on an earlier
 * connection, or known to the persistent store, is a redelivery. What this
 * cannot tell apart: an identical message sent again in the same second that
 * arrives only after a reconnect.
 */
export class Deduplicator {
  private readonly recent: LruMap<number>;

  constructor(
    capacity: number = DEFAULT_SEEN_CAPACITY,
    private readonly store?: SeenStore,
  ) {
    this.recent = new LruMap(capacity);
  }

  /** True if the frame with this key, read on connection `generation`, was taken before: a redelivery, not to be emitted. */
  redelivered(key: string, generation: number): boolean {
    const seenOn = this.recent.get(key);
    if (seenOn === generation) return false;
    if (seenOn === undefined && !(this.store?.has(key) ?? false)) return false;
    // Recognised: the key now belongs to this connection, so a later identical frame on it is a new message.
    this.recent.set(key, generation);
    return true;
  }

  /** The application took the frame with this key on connection `generation`: remember it. */
  taken(key: string, generation: number): void {
    const known = this.recent.has(key);
    this.recent.set(key, generation);
    if (!known) this.store?.add(key);
  }
}
