/**
 * Each open session's `06` bookkeeping, kept by the broker that writes the
 * `06` frames (DESIGN.md §The path of one message): how many this connection
 * was sent, how many its cumulative `08` covered, and the row id of each
 * frame in between. Before issue #10 the session host kept it, so every push
 * went broker -> host -> main; now the broker writes pushes straight to the
 * main thread and a push does not wake the recipient's host at all.
 */
export class Ledger {
  /** `06` frames written on this connection, and how many of them the client acknowledged. */
  sent = 0;
  acked = 0;
  /**
   * Row ids of the frames sent and not acknowledged, oldest first: a pushed
   * row as its id, a polled one as minus its id (pushes acknowledged return
   * push credit, polled rows do not). One number per frame, no object.
   */
  private readonly unacked: number[] = [];

  constructor(
    /** The host of the session, where a kick for it goes. */
    readonly hostId: number,
    /** The session's number (for logs). */
    readonly number: string,
  ) {}

  /** @internal undoAcknowledgements */
  takeBack(acked: number, covered: readonly number[]): void {
    this.unacked.unshift(...covered);
    this.acked = acked;
  }

  /** Frames about to be written, in wire order. */
  record(ids: readonly number[], pushed: boolean): void {
    for (const id of ids) this.unacked.push(pushed ? id : -id);
    this.sent += ids.length;
  }

  /**
   * A cumulative `08 count` (count <= sent: the caller checks). Returns the
   * row ids it newly covers and how many of them were pushes; an older count
   * covers nothing.
   */
  acknowledge(count: number, undo?: LedgerUndo[]): { ids: number[]; pushes: number } {
    if (count <= this.acked) return { ids: [], pushes: 0 };
    const covered = this.unacked.splice(0, count - this.acked);
    // The deletions commit with the broker's transaction, or not at all: then this is taken back.
    undo?.push({ ledger: this, acked: this.acked, covered: covered.slice() });
    this.acked = count;
    let pushes = 0;
    for (let i = 0; i < covered.length; i++) {
      const id = covered[i]!;
      if (id > 0) pushes++;
      else covered[i] = -id;
    }
    return { ids: covered, pushes };
  }
}

/** How to take one acknowledgement back (its transaction rolled back). */
export interface LedgerUndo {
  ledger: Ledger;
  acked: number;
  covered: number[];
}

/** Takes acknowledgements back, the latest first: the rows they covered are pending again, and unacknowledged again. */
export function undoAcknowledgements(undo: readonly LedgerUndo[]): void {
  for (let i = undo.length - 1; i >= 0; i--) {
    const { ledger, acked, covered } = undo[i]!;
    ledger.takeBack(acked, covered);
  }
}

/** The ledgers of every open session, by connection id (unique across the server). */
export class Ledgers {
  private readonly bySid = new Map<number, Ledger>();

  get size(): number {
    return this.bySid.size;
  }

  open(sid: number, hostId: number, number: string): void {
    // A session opens once; a second 04 is refused by the session itself.
    if (!this.bySid.has(sid)) this.bySid.set(sid, new Ledger(hostId, number));
  }

  get(sid: number): Ledger | undefined {
    return this.bySid.get(sid);
  }

  close(sid: number): void {
    this.bySid.delete(sid);
  }

  /** A host went away: its sessions will never say close. */
  dropHost(hostId: number): void {
    for (const [sid, ledger] of this.bySid) if (ledger.hostId === hostId) this.bySid.delete(sid);
  }
}
