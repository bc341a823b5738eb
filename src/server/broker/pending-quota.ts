import type { NewMessage } from '../../store/store.js';

/** Recipients whose count is kept before zero entries are dropped (~100 bytes each). */
const MAX_COUNTED = 100_000;

/**
 * docs/protocol.md §Limits: pending rows per recipient are capped. The count of a
 * recipient is read from the store (one COUNT, `load`) the first time a message
 * to it is checked, and then kept up to date as rows are admitted, stored and
 * deleted, so a `05` costs no SQL for it. Only counts the broker has read are
 * maintained: one not held is read again when needed, so forgetting one costs
 * a COUNT and never makes it wrong. Memory is bounded: past MAX_COUNTED
 * recipients, those at zero are dropped, and if that is not enough, all of them.
 */
export class PendingQuota {
  private readonly counts = new Map<string, number>();

  /** `limit` 0 turns the quota off: nothing is counted. */
  constructor(
    readonly limit: number,
    private readonly maxCounted = MAX_COUNTED,
  ) {}

  get enabled(): boolean {
    return this.limit > 0;
  }

  /** Recipients whose count is held (for tests of the bound). */
  get size(): number {
    return this.counts.size;
  }

  /**
   * Reads `recipient`'s count unless it is held. A count that came to be held
   * while this one was read is kept: it already counts what was admitted since.
   */
  async load(
    recipient: string,
    countPending: (recipient: string) => Promise<number>,
  ): Promise<void> {
    if (!this.enabled || this.counts.has(recipient)) return;
    const count = await countPending(recipient);
    if (this.counts.has(recipient)) return;
    if (this.counts.size >= this.maxCounted) this.shrink();
    this.counts.set(recipient, count);
  }

  /**
   * Whether `recipient` may be stored `adding` more rows without going over
   * the limit; its count must have been loaded (one dropped since is read as
   * full, refused rather than let over).
   */
  fits(recipient: string, adding: number): boolean {
    if (!this.enabled) return true;
    const count = this.counts.get(recipient) ?? this.limit;
    return count + adding <= this.limit;
  }

  /** Rows were admitted or stored. */
  added(rows: readonly Pick<NewMessage, 'recipient'>[]): void {
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

  private shrink(): void {
    for (const [recipient, count] of this.counts) if (count === 0) this.counts.delete(recipient);
    if (this.counts.size >= this.maxCounted / 2) this.counts.clear();
  }
}
