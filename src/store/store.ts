/**
 * The store contract. The broker thread is its only caller; everything it does
 * between `transaction` begin and end commits together (group commit), so a
 * `07` sent after `transaction` returns is a promise of durability.
 *
 * Implementations: SqliteStore (the product) and MemoryStore (tests, and the
 * reference the conformance suite in test/unit/store checks both against).
 * The asynchronous contract that PostgresStore honours too is TurnStore
 * (turn-store.ts); these two reach it through SyncTurnStore.
 * Numbers are 13-digit strings; users and groups share one number space.
 */

/** What a pending row is: an ordinary message, a group's creation notice, or a server-made receipt. */
export const MessageKind = {
  Text: 0,
  GroupCreated: 1,
  Receipt: 2,
} as const;
export type MessageKind = (typeof MessageKind)[keyof typeof MessageKind];

export interface NewMessage {
  /** Who the row is waiting for. */
  recipient: string;
  /** Who sent it (for a receipt: the member who received the original). */
  sender: string;
  /** The group it was sent to, or null for a direct message. */
  group: string | null;
  /** Unix seconds as the sender stamped it. */
  ts: number;
  /** The sender wants a `recebida` receipt. */
  wantsReceipt: boolean;
  kind: MessageKind;
  /** Text; for GroupCreated the members' numbers concatenated, for Receipt `recebida <ts>`. */
  body: string;
}

export interface PendingMessage extends NewMessage {
  /** Row id: increasing in storage order, so per-recipient order is id order. */
  id: number;
  /** The id the sender's `07` carried (the first row of a group fan-out). */
  messageId: number;
  /** When the row was stored, ms since the epoch (the `stored_at` column). */
  storedAt: number;
}

export interface UserRecord {
  number: string;
  name: string;
  /** SHA-256 of the secret token; null for users registered on the legacy listener. */
  tokenHash: Buffer | null;
}

export type NumberKind = 'user' | 'group';

/**
 * What a number is called, for showing (docs/protocol.md §Names): a user's
 * name as registered with `01`, a group's as last set with `14`; empty when
 * it has none.
 */
export interface DisplayName {
  kind: NumberKind;
  name: string;
}

export interface StoreCounters {
  /** SQL statements executed since the store was opened (0 for MemoryStore). */
  statements: number;
  commits: number;
}

export interface Store {
  /** Runs `fn` in one transaction: all of it commits, or none of it does. */
  transaction<T>(fn: () => T): T;

  /** Registers a user under a new random unique number. */
  createUser(name: string, tokenHash: Buffer | null): UserRecord;
  getUser(number: string): UserRecord | undefined;
  numberKind(number: string): NumberKind | undefined;
  /** The name a user or group goes by; undefined for a number that is neither. */
  displayName(number: string): DisplayName | undefined;

  /** Creates a group under a new number; `members` are stored deduplicated, creator included. */
  createGroup(creator: string, members: readonly string[]): string;
  /** Members in the order they were added (creator first); empty for an unknown group. */
  groupMembers(group: string): string[];
  isMember(group: string, number: string): boolean;
  /** Replaces a group's name (the last call wins); false, changing nothing, when `group` is not a group. */
  setGroupName(group: string, name: string): boolean;

  /**
   * Stores one message as one row per copy (one copy per recipient); all rows
   * share `messageId`, the id of the first. Returns the rows in id order.
   */
  insertMessage(copies: readonly NewMessage[]): PendingMessage[];
  /** The recipient's oldest pending rows with id > afterId, in id order. */
  pendingFor(recipient: string, afterId: number, limit: number): PendingMessage[];
  countPending(recipient: string): number;
  /** Rows in the pending table, all recipients (read once at startup for the pending-rows gauge). */
  countAllPending(): number;
  /**
   * Deletes the recipient's rows among `ids` (ids of other recipients are
   * ignored) and returns the rows actually deleted, so each is acted on once.
   */
  deletePending(recipient: string, ids: readonly number[]): PendingMessage[];
  /**
   * deletePending for several recipients at once (the acknowledgements of a
   * group commit): one statement, whoever the recipients. Returns the rows
   * deleted, in id order.
   */
  deleteAcknowledged(
    acks: readonly { recipient: string; ids: readonly number[] }[],
  ): PendingMessage[];

  /** Remembers who sent a group message stamped `ts`, so `lida <ts>` can find them. */
  recordGroupMessage(group: string, ts: number, sender: string): void;
  /** The most recent sender of a message stamped `ts` in `group`. */
  groupMessageSender(group: string, ts: number): string | undefined;

  counters(): StoreCounters;
  close(): void;
}

/**
 * A transaction held open across awaits, for SyncTurnStore: `begin`, then
 * `commit` or `rollback`. Inside it, `transaction` is a savepoint and a write
 * is not a commit of its own. Nothing else may use the store meanwhile.
 */
export interface OpenTransaction {
  begin(): void;
  commit(): void;
  rollback(): void;
}
