import type { PendingMessage } from '../../store/store.js';
import type { StoreCalls } from '../../store/turn-store.js';

/** Where a live push session is: the host thread and the session id. */
export interface PushTarget {
  hostId: number;
  sid: number;
}

/** Writes rows to a push session (the broker: as `06` frames straight to the main thread). */
export type PushSink = (target: PushTarget, rows: PendingMessage[]) => void;

/**
 * Routing of pushes: which number has a live push session where, and what it
 * may be sent now. Behind this interface so that routing between nodes
 * (Redis pub/sub to the node holding the session) can replace LocalRouter
 * without touching sessions (DESIGN.md §More than one machine).
 */
export interface PushRouter {
  /** A push session opened; returns the older session it replaces (docs/protocol.md §Sessions: 409). */
  attach(number: string, target: PushTarget, credit: number): PushTarget | undefined;
  detach(sid: number): void;
  /** Drops every session of a host that went away. */
  detachHost(hostId: number): void;
  /**
   * Rows were stored by the turn's requests: push those whose recipient is
   * live and has credit (the pushes are written after COMMIT).
   */
  committed(rows: readonly PendingMessage[]): void;
  /** The turn committed: what must wait for the rows to be visible to others may go now (cluster notices). */
  turnCommitted(): void;
  /** The turn rolled back: the rows it stored never existed. */
  turnFailed(): void;
  /** The session acknowledged pushes: it may be sent `credit` more. */
  grant(sid: number, credit: number): void;
  /** The session's socket stopped draining (false): nothing is pushed to it until it drains again (true). */
  setWritable(sid: number, writable: boolean): void;
  /** Sends stored backlog to sessions that are behind and have credit, read with `store` (the turn's calls: one step). */
  catchUp(store: Pick<StoreCalls, 'pendingFor'>): Promise<void>;
  /** Some session is behind and has credit: catchUp has more to send. */
  readonly hasBacklog: boolean;
  /** Every live session, for closing them all when the store fails. */
  targets(): PushTarget[];
  readonly size: number;
}

interface Route extends PushTarget {
  number: string;
  credit: number;
  /** Highest row id pushed on this session: the store is read from here on. */
  lastId: number;
  /** Rows may be stored that this session has not been sent yet. */
  behind: boolean;
  /** The socket drains (DESIGN.md §Flow control): while it does not, rows wait in the store. */
  writable: boolean;
}

/**
 * Credit-based push for the sessions of this node. A session gets at most
 * `credit` unacknowledged pushes; while it has none left (slow reader, socket
 * not draining) new rows just stay pending and are read back from the store in
 * id order when credit returns, so memory stays bounded and order is kept.
 */
export class LocalRouter implements PushRouter {
  private readonly byNumber = new Map<string, Route>();
  private readonly bySid = new Map<number, Route>();
  private readonly behind = new Set<Route>();

  constructor(
    private readonly sink: PushSink,
    private readonly readBatch = 256,
  ) {}

  get size(): number {
    return this.byNumber.size;
  }

  get hasBacklog(): boolean {
    for (const route of this.behind) if (route.credit > 0 && route.writable) return true;
    return false;
  }

  targets(): PushTarget[] {
    return [...this.bySid.values()].map(({ hostId, sid }) => ({ hostId, sid }));
  }

  attach(number: string, target: PushTarget, credit: number): PushTarget | undefined {
    const previous = this.byNumber.get(number);
    if (previous) this.remove(previous);
    // A new session starts from the oldest pending row (docs/protocol.md §Sessions:
    // every pending message right after the 04 answer).
    // A literal of fixed shape: spreading `target` (a structured-clone copy)
    // gave every route shapes of its own, a third of the broker's heap per session.
    const route: Route = {
      hostId: target.hostId,
      sid: target.sid,
      number,
      credit,
      lastId: 0,
      behind: true,
      writable: true,
    };
    this.byNumber.set(number, route);
    this.bySid.set(target.sid, route);
    this.behind.add(route);
    return previous ? { hostId: previous.hostId, sid: previous.sid } : undefined;
  }

  detach(sid: number): void {
    const route = this.bySid.get(sid);
    if (route) this.remove(route);
  }

  detachHost(hostId: number): void {
    for (const route of [...this.bySid.values()]) if (route.hostId === hostId) this.remove(route);
  }

  committed(rows: readonly PendingMessage[]): void {
    let batch: { route: Route; rows: PendingMessage[] } | undefined;
    for (const row of rows) {
      const route = this.byNumber.get(row.recipient);
      if (!route || row.id <= route.lastId) continue;
      if (route.behind || route.credit === 0 || !route.writable) {
        this.setBehind(route);
        continue;
      }
      route.credit--;
      route.lastId = row.id;
      if (batch && batch.route !== route) {
        this.sink(batch.route, batch.rows);
        batch = undefined;
      }
      batch ??= { route, rows: [] };
      batch.rows.push(row);
    }
    if (batch) this.sink(batch.route, batch.rows);
  }

  turnCommitted(): void {}

  turnFailed(): void {}

  /** Rows for `number` may be in the store that were not pushed (stored by another node): catchUp reads them. */
  markBehind(number: string): void {
    const route = this.byNumber.get(number);
    if (route) this.setBehind(route);
  }

  /** After a gap in what this node heard of the store: every session re-reads its pending rows. */
  markAllBehind(): void {
    for (const route of this.bySid.values()) this.setBehind(route);
  }

  private setBehind(route: Route): void {
    route.behind = true;
    this.behind.add(route);
  }

  grant(sid: number, credit: number): void {
    const route = this.bySid.get(sid);
    if (!route || credit <= 0) return;
    route.credit += credit;
  }

  setWritable(sid: number, writable: boolean): void {
    const route = this.bySid.get(sid);
    if (!route || route.writable === writable) return;
    route.writable = writable;
    // Rows stored while it was not draining are read back from the store, in order.
    if (writable && route.behind) this.behind.add(route);
  }

  async catchUp(store: Pick<StoreCalls, 'pendingFor'>): Promise<void> {
    const due = [...this.behind].filter((route) => route.credit > 0 && route.writable);
    if (due.length === 0) return;
    const limits = due.map((route) => Math.min(route.credit, this.readBatch));
    // Every read at once: one step of the turn, however many sessions are behind.
    const read = await Promise.all(
      due.map((route, i) => store.pendingFor(route.number, route.lastId, limits[i]!)),
    );
    for (const [i, route] of due.entries()) {
      // The session closed or was replaced meanwhile.
      if (this.bySid.get(route.sid) !== route) continue;
      const rows = read[i]!;
      const limit = limits[i]!;
      if (rows.length > 0) {
        route.credit -= rows.length;
        route.lastId = rows[rows.length - 1]!.id;
        this.sink(route, rows);
      }
      // Fewer rows than asked for means the session has caught up; rows stored
      // from now on are pushed as they commit.
      if (rows.length < limit) {
        route.behind = false;
        this.behind.delete(route);
      }
    }
  }

  private remove(route: Route): void {
    this.byNumber.delete(route.number);
    this.bySid.delete(route.sid);
    this.behind.delete(route);
  }
}
