import type { PendingMessage } from '../../store/store.js';

/** Recipients whose count is kept before zero entries are dropped (~100 bytes each). */
const MAX_COUNTED = 100_000;

/**
 * docs/protocol.md §Limits: pending rows per recipient are capped. The count of a
 * recipient is read from the store (one COUNT) the first time a message to it
 * is checked, and then kept up to date as rows are stored and deleted, so a
 * `05` costs no SQL for it. Only counts the broker has read are maintained:
 * one not held is read again when needed, so forgetting one costs a COUNT and
 * never makes it wrong. Memory is bounded: past MAX_COUNTED recipients, those
 * at zero are dropped, and if that is not enough, all of them.
 */
export class PendingQuota {
  private readonly counts = new Map<string, number>();

  /** `limit` 0 turns the quota off: nothing is counted. */
  constructor(
    readonly limit: number,
    private readonly countPending: (recipient: string) => number,
    private readonly maxCounted = MAX_COUNTED,
  ) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** Recipients whose count is held (for tests of the bound). */
  get size(): number {
    return this.counts.size;
  }

  /** Whether `recipient` may be stored `adding` more rows without going over the limit. */
  fits(recipient: string, adding: number): boolean {
    if (!this.enabled) return true;
    return this.count(recipient) + adding <= this.limit;
  }

  /** Rows were stored (and their request succeeded). */
  added(rows: readonly PendingMessage[]): void {
    if (!this.enabled) return;
    for (const row of rows) {
      const count = this.counts.get(row.recipient);
      if (count !== undefined) this.counts.set(row.recipient, count + 1);
    }
  }

  /** A recipient's rows were deleted (and their request succeeded). */
  removed(recipient: string, rows: number): void {
    if (!this.enabled) return;
    const count = this.counts.get(recipient);
    if (count !== undefined) this.counts.set(recipient, Math.max(0, count - rows));
  }

  /** What the store holds is no longer what was counted (a rolled-back transaction). */
  clear(): void {
    this.counts.clear();
  }

  private count(recipient: string): number {
    let count = this.counts.get(recipient);
    if (count === undefined) {
      count = this.countPending(recipient);
      if (this.counts.size >= this.maxCounted) this.shrink();
      this.counts.set(recipient, count);
    }
    return count;
  }

  private shrink(): void {
    for (const [recipient, count] of this.counts) if (count === 0) this.counts.delete(recipient);
    if (this.counts.size >= this.maxCounted / 2) this.counts.clear();
  }
}
