import { freeNumber } from './numbers.js';
import type {
  DisplayName,
  NewMessage,
  NumberKind,
  OpenTransaction,
  PendingMessage,
  Store,
  StoreCounters,
  UserRecord,
} from './store.js';

interface State {
  users: Map<string, { name: string; tokenHash: Buffer | null }>;
  /** Members in the order they were added, creator first. */
  groups: Map<string, string[]>;
  /** Groups that were named (docs/protocol.md §Names); the others' name is empty. */
  groupNames: Map<string, string>;
  /** Per recipient, rows keyed by id; Map order is insertion order, which is id order. */
  pending: Map<string, Map<number, PendingMessage>>;
  /** Keyed by `${group} ${ts}`; a later sender replaces an earlier one. */
  groupLog: Map<string, string>;
  /** Survives deletes, like SQLite's AUTOINCREMENT; rolls back with the transaction, like it too. */
  nextId: number;
}

function emptyState(): State {
  return {
    users: new Map(),
    groups: new Map(),
    groupNames: new Map(),
    pending: new Map(),
    groupLog: new Map(),
    nextId: 1,
  };
}

// Stored records are never mutated in place (only added or removed), so a
// snapshot needs to copy the containers, not the records.
function snapshot(state: State): State {
  const pending = new Map<string, Map<number, PendingMessage>>();
  for (const [recipient, rows] of state.pending) pending.set(recipient, new Map(rows));
  return {
    users: new Map(state.users),
    groups: new Map(state.groups),
    groupNames: new Map(state.groupNames),
    pending,
    groupLog: new Map(state.groupLog),
    nextId: state.nextId,
  };
}

/**
 * The reference store: the same semantics as SqliteStore in plain Maps, for
 * tests. Nothing is durable; a transaction that throws restores the state it
 * started from, as a rollback (or a savepoint, when nested) would.
 */
export class MemoryStore implements Store, OpenTransaction {
  private state: State | undefined = emptyState();
  private depth = 0;
  private commits = 0;
  /** The state `begin` found, restored by `rollback`. */
  private opened: State | undefined;

  transaction<T>(fn: () => T): T {
    const state = this.open();
    const before = snapshot(state);
    this.depth++;
    try {
      const result = fn();
      // As better-sqlite3 does: an async body would commit before it ran.
      if (isThenable(result)) throw new TypeError('Transaction function cannot return a promise');
      if (this.depth === 1) this.commits++;
      return result;
    } catch (err) {
      this.state = before;
      throw err;
    } finally {
      this.depth--;
    }
  }

  begin(): void {
    if (this.depth > 0) throw new TypeError('a transaction is already open');
    this.opened = snapshot(this.open());
    this.depth++;
  }

  commit(): void {
    if (this.opened === undefined) throw new TypeError('no transaction is open');
    this.opened = undefined;
    this.depth--;
    this.commits++;
  }

  rollback(): void {
    if (this.opened === undefined) return;
    if (this.state !== undefined) this.state = this.opened;
    this.opened = undefined;
    this.depth--;
  }

  createUser(name: string, tokenHash: Buffer | null): UserRecord {
    return this.write(() => {
      const number = this.freeNumber();
      this.open().users.set(number, { name, tokenHash: copyBuffer(tokenHash) });
      return { number, name, tokenHash: copyBuffer(tokenHash) };
    });
  }

  getUser(number: string): UserRecord | undefined {
    const user = this.open().users.get(number);
    if (user === undefined) return undefined;
    return { number, name: user.name, tokenHash: copyBuffer(user.tokenHash) };
  }

  numberKind(number: string): NumberKind | undefined {
    const state = this.open();
    if (state.users.has(number)) return 'user';
    if (state.groups.has(number)) return 'group';
    return undefined;
  }

  displayName(number: string): DisplayName | undefined {
    const state = this.open();
    const user = state.users.get(number);
    if (user !== undefined) return { kind: 'user', name: user.name };
    if (state.groups.has(number))
      return { kind: 'group', name: state.groupNames.get(number) ?? '' };
    return undefined;
  }

  createGroup(creator: string, members: readonly string[]): string {
    // docs/protocol.md §Delivery guarantees: the creator is always a member, and
    // listing the creator again or a number twice changes nothing.
    const unique = [...new Set([creator, ...members])];
    return this.write(() => {
      const number = this.freeNumber();
      this.open().groups.set(number, unique);
      return number;
    });
  }

  groupMembers(group: string): string[] {
    return [...(this.open().groups.get(group) ?? [])];
  }

  isMember(group: string, number: string): boolean {
    return this.open().groups.get(group)?.includes(number) ?? false;
  }

  setGroupName(group: string, name: string): boolean {
    return this.write(() => {
      const state = this.open();
      if (!state.groups.has(group)) return false;
      state.groupNames.set(group, name);
      return true;
    });
  }

  insertMessage(copies: readonly NewMessage[]): PendingMessage[] {
    if (copies.length === 0) return [];
    return this.write(() => {
      const state = this.open();
      const messageId = state.nextId;
      const storedAt = Date.now();
      return copies.map((copy) => {
        const row: PendingMessage = { ...copy, id: state.nextId++, messageId, storedAt };
        let rows = state.pending.get(row.recipient);
        if (rows === undefined) state.pending.set(row.recipient, (rows = new Map()));
        rows.set(row.id, row);
        return { ...row };
      });
    });
  }

  pendingFor(recipient: string, afterId: number, limit: number): PendingMessage[] {
    const found: PendingMessage[] = [];
    if (!(limit > 0)) return found;
    const max = Math.floor(limit);
    for (const row of this.open().pending.get(recipient)?.values() ?? []) {
      if (found.length >= max) break;
      if (row.id > afterId) found.push({ ...row });
    }
    return found;
  }

  countPending(recipient: string): number {
    return this.open().pending.get(recipient)?.size ?? 0;
  }

  countAllPending(): number {
    let total = 0;
    for (const rows of this.open().pending.values()) total += rows.size;
    return total;
  }

  deletePending(recipient: string, ids: readonly number[]): PendingMessage[] {
    const wanted = ids.filter((id) => Number.isSafeInteger(id));
    if (wanted.length === 0) return [];
    return this.write(() => {
      const rows = this.open().pending.get(recipient);
      const deleted: PendingMessage[] = [];
      if (rows === undefined) return deleted;
      for (const id of wanted) {
        const row = rows.get(id);
        if (row === undefined) continue;
        rows.delete(id);
        deleted.push({ ...row });
      }
      return deleted.sort((a, b) => a.id - b.id);
    });
  }

  deleteAcknowledged(
    acks: readonly { recipient: string; ids: readonly number[] }[],
  ): PendingMessage[] {
    const deleted: PendingMessage[] = [];
    for (const { recipient, ids } of acks) deleted.push(...this.deletePending(recipient, ids));
    return deleted.sort((a, b) => a.id - b.id);
  }

  recordGroupMessage(group: string, ts: number, sender: string): void {
    this.write(() => this.open().groupLog.set(`${group} ${ts}`, sender));
  }

  groupMessageSender(group: string, ts: number): string | undefined {
    return this.open().groupLog.get(`${group} ${ts}`);
  }

  counters(): StoreCounters {
    return { statements: 0, commits: this.commits };
  }

  close(): void {
    this.state = undefined;
  }

  private open(): State {
    if (this.state === undefined) throw new TypeError('The store is closed');
    return this.state;
  }

  /**
   * A write outside any transaction is a commit of its own, as in SqliteStore.
   * Each write checks before it changes anything, so it needs no snapshot.
   */
  private write<T>(fn: () => T): T {
    this.open();
    const result = fn();
    if (this.depth === 0) this.commits++;
    return result;
  }

  private freeNumber(): string {
    return freeNumber((number) => this.numberKind(number) !== undefined);
  }
}

function copyBuffer(buf: Buffer | null): Buffer | null {
  return buf === null ? null : Buffer.from(buf);
}

function isThenable(value: unknown): boolean {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}
