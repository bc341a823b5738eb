import type { PendingMessage } from '../../store/store.js';
import type { KeyedLimiter } from './keyed-limiter.js';

/**
 * What a request changed besides the store, applied only once its savepoint
 * is released, so that nothing of a request that failed is pushed, counted or
 * charged (DESIGN.md §Containment). One instance, reset before each request.
 */
export class Effects {
  readonly stored: PendingMessage[][] = [];
  readonly deleted: PendingMessage[][] = [];
  readonly fanOuts: number[] = [];
  limiter: KeyedLimiter | undefined;
  key = '';
  cost = 0;

  reset(): void {
    this.stored.length = 0;
    this.deleted.length = 0;
    this.fanOuts.length = 0;
    this.limiter = undefined;
  }

  /** Every request charges at most one limiter. */
  charge(limiter: KeyedLimiter, key: string, cost: number): void {
    this.limiter = limiter;
    this.key = key;
    this.cost = cost;
  }
}
