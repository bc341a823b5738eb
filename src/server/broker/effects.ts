import type { PendingMessage } from '../../store/store.js';

/**
 * What a request changed besides the store, applied once every request of
 * the turn has run (broker.ts settle), so that nothing of a request that
 * failed is pushed or counted (DESIGN.md §Containment).
 */
export class Effects {
  /** Rows stored; `admitted`: the pending quota counted them when it admitted them. */
  readonly stored: { rows: PendingMessage[]; admitted: boolean }[] = [];
  readonly deleted: PendingMessage[][] = [];
  readonly fanOuts: number[] = [];
}
