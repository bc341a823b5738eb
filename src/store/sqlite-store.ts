import fs from 'node:fs';
import nodePath from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseOpenError } from '../errors.js';
import { freeNumber } from './numbers.js';
import { type PendingRow, toPending } from './pending-row.js';
import { prepareDatabase, type Synchronous } from './schema.js';
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

export interface SqliteStoreOptions {
  /** File of the database; its folder is created if missing. `:memory:` for a private in-memory one. */
  path: string;
  /** `normal` by default; see schema.ts for what each one promises. */
  synchronous?: Synchronous;
}

/** Any failure while opening `file` (or its first query), as the one line `zapwire serve` prints. */
export function databaseOpenError(file: string, err: unknown): DatabaseOpenError {
  if (err instanceof DatabaseOpenError) return err;
  if (err instanceof Database.SqliteError && err.code.startsWith('SQLITE_BUSY')) {
    return new DatabaseOpenError(
      file,
      `database ${file} is in use by another process (another zapwire server on the same file?): ${err.message}`,
      'ZAPWIRE_DATABASE_IN_USE',
      { cause: err },
    );
  }
  const reason = err instanceof Error ? err.message : String(err);
  return new DatabaseOpenError(
    file,
    `cannot open database ${file}: ${reason}`,
    'ZAPWIRE_DATABASE_UNUSABLE',
    { cause: err },
  );
}

/** SQLite's codes for a file whose pages are not what it wrote: it does not heal by itself. */
function isDamage(err: unknown): err is InstanceType<typeof Database.SqliteError> {
  return (
    err instanceof Database.SqliteError &&
    (err.code.startsWith('SQLITE_CORRUPT') || err.code === 'SQLITE_NOTADB')
  );
}

/**
 * `mkdir -p` that always ends: Node 20's recursive mkdirSync never returns for
 * a path under /proc (it retries ENOENT forever), and reports EEXIST for a
 * path under a regular file.
 */
function makeFolders(dir: string): void {
  if (fs.existsSync(dir)) {
    if (!fs.statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder`);
    return;
  }
  const parent = nodePath.dirname(dir);
  if (parent !== dir) makeFolders(parent);
  fs.mkdirSync(dir);
}

interface UserRow {
  number: string;
  name: string;
  token_hash: Buffer | null;
}

// message_id 0 stands for "this row's own id" (the first copy of a message),
// which saves an UPDATE per message: the id is only known after the INSERT.
const PENDING_COLUMNS =
  'id, IIF(message_id = 0, id, message_id) AS message_id, recipient, sender, group_number, ts, wants_receipt, kind, body, stored_at';

function checkOptions(options: SqliteStoreOptions): Required<SqliteStoreOptions> {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError('options must be an object with a path');
  }
  if (typeof options.path !== 'string' || options.path === '') {
    throw new TypeError('options.path must be a non-empty string (a file, or ":memory:")');
  }
  const synchronous = options.synchronous ?? 'normal';
  if (synchronous !== 'normal' && synchronous !== 'full') {
    throw new TypeError(
      `options.synchronous must be 'normal' or 'full', got ${String(synchronous)}`,
    );
  }
  return { path: options.path, synchronous };
}

/** Every statement the store runs, prepared once when it opens. */
function prepareStatements(db: Database.Database) {
  return {
    numberKind: db
      .prepare<[string, string], NumberKind>(
        `SELECT 'user' FROM users WHERE number = ?
         UNION ALL SELECT 'group' FROM "groups" WHERE number = ? LIMIT 1`,
      )
      .pluck(),
    displayName: db.prepare<[string, string], DisplayName>(
      `SELECT 'user' AS kind, name FROM users WHERE number = ?
       UNION ALL SELECT 'group', name FROM "groups" WHERE number = ? LIMIT 1`,
    ),
    setGroupName: db.prepare<[string, string]>('UPDATE "groups" SET name = ? WHERE number = ?'),
    insertUser: db.prepare<[string, string, Buffer | null, number]>(
      'INSERT INTO users (number, name, token_hash, created_at) VALUES (?, ?, ?, ?)',
    ),
    getUser: db.prepare<[string], UserRow>(
      'SELECT number, name, token_hash FROM users WHERE number = ?',
    ),
    insertGroup: db.prepare<[string, string, number]>(
      'INSERT INTO "groups" (number, creator, created_at) VALUES (?, ?, ?)',
    ),
    // One statement for all members: the JSON array's index is the position.
    insertMembers: db.prepare<[string, string]>(
      `INSERT INTO group_members (group_number, member, position)
       SELECT ?, value, key FROM json_each(?)`,
    ),
    groupMembers: db
      .prepare<[string], string>(
        'SELECT member FROM group_members WHERE group_number = ? ORDER BY position',
      )
      .pluck(),
    isMember: db
      .prepare<[string, string], number>(
        'SELECT 1 FROM group_members WHERE group_number = ? AND member = ?',
      )
      .pluck(),
    insertPending: db.prepare<
      [number, string, string, string | null, number, number, number, string, number]
    >(
      `INSERT INTO pending
         (message_id, recipient, sender, group_number, ts, wants_receipt, kind, body, stored_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    pendingFor: db.prepare<[string, number, number], PendingRow>(
      `SELECT ${PENDING_COLUMNS} FROM pending
       WHERE recipient = ? AND id > ? ORDER BY id LIMIT ?`,
    ),
    countPending: db
      .prepare<[string], number>('SELECT COUNT(*) FROM pending WHERE recipient = ?')
      .pluck(),
    countAllPending: db.prepare<[], number>('SELECT COUNT(*) FROM pending').pluck(),
    // The ids travel as one JSON array, so any number of them is one statement
    // (no IN-list chunking, no 32766-parameter limit); each is still a
    // primary-key lookup.
    deletePending: db.prepare<[string, string], PendingRow>(
      `DELETE FROM pending
       WHERE recipient = ? AND id IN (SELECT value FROM json_each(?))
       RETURNING ${PENDING_COLUMNS}`,
    ),
    // An 08 at a chat's rates covers one row: a primary-key delete, without the JSON array.
    deleteOnePending: db.prepare<[number, string], PendingRow>(
      `DELETE FROM pending WHERE id = ? AND recipient = ?
       RETURNING ${PENDING_COLUMNS}`,
    ),
    // The 08s of a group commit in one statement: [id, recipient] pairs, each
    // still a primary-key lookup (the join), a row deleted only by its recipient.
    deleteAcknowledged: db.prepare<[string], PendingRow>(
      `DELETE FROM pending WHERE id IN (
         SELECT p.id FROM json_each(?) AS a JOIN pending AS p ON p.id = a.value ->> 0 AND p.recipient = a.value ->> 1
       )
       RETURNING ${PENDING_COLUMNS}`,
    ),
    insertGroupLog: db.prepare<[string, number, string]>(
      'INSERT INTO group_log (group_number, ts, sender) VALUES (?, ?, ?)',
    ),
    groupLogSender: db
      .prepare<[string, number], string>(
        `SELECT sender FROM group_log WHERE group_number = ? AND ts = ?
         ORDER BY id DESC LIMIT 1`,
      )
      .pluck(),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/** The product's store: one better-sqlite3 connection, used by one thread. */
export class SqliteStore implements Store, OpenTransaction {
  /**
   * Opens, locks (one store per file: a second open fails at once, see
   * schema.ts lockingModeExclusive), readies and checks the file; any failure
   * is a DatabaseOpenError naming it.
   */
  static open(options: SqliteStoreOptions): SqliteStore {
    const { path, synchronous } = checkOptions(options);
    try {
      if (path !== ':memory:' && !path.startsWith('file:'))
        makeFolders(nodePath.dirname(nodePath.resolve(path)));
      // Busy timeout 0: the only lock that can be in the way is another
      // server's, held for its whole life; waiting for it is pointless.
      const db = new Database(path, { timeout: 0 });
      try {
        prepareDatabase(db, { synchronous });
        return new SqliteStore(db, path);
      } catch (err) {
        db.close();
        throw err;
      }
    } catch (err) {
      throw databaseOpenError(path, err);
    }
  }

  private readonly db: Database.Database;
  private readonly file: string;
  private readonly sql: Statements;
  private readonly tx: Database.Transaction<(fn: () => unknown) => unknown>;
  private statementCount = 0;
  private commitCount = 0;
  private damaged: string | undefined;

  private constructor(db: Database.Database, path: string) {
    this.db = db;
    this.file = path;
    this.sql = prepareStatements(db);
    this.tx = db.transaction((fn: () => unknown) => fn());
  }

  get path(): string {
    return this.file;
  }

  /**
   * SQLite's message the first time a statement found the file damaged
   * (SQLITE_CORRUPT, SQLITE_NOTADB: a page changed under it), for /healthz.
   * Kept: a damaged file does not heal, even if later statements succeed.
   */
  get damage(): string | undefined {
    return this.damaged;
  }

  transaction<T>(fn: () => T): T {
    // better-sqlite3 turns a nested call into a savepoint; only the outermost
    // level is a commit, and only it makes anything durable.
    const outermost = !this.db.inTransaction;
    const result = this.tx(fn) as T;
    if (outermost) this.commitCount++;
    return result;
  }

  begin(): void {
    if (this.db.inTransaction) throw new TypeError('a transaction is already open');
    this.db.exec('BEGIN');
  }

  commit(): void {
    this.db.exec('COMMIT');
    this.commitCount++;
  }

  rollback(): void {
    // SQLite may have rolled back by itself (SQLITE_FULL, SQLITE_IOERR).
    if (this.db.inTransaction) this.db.exec('ROLLBACK');
  }

  /** `fn` all or nothing: within the caller's transaction when there is one, else in its own. */
  private atomically<T>(fn: () => T): T {
    return this.db.inTransaction ? fn() : this.transaction(fn);
  }

  createUser(name: string, tokenHash: Buffer | null): UserRecord {
    return this.transaction(() => {
      const number = this.freeNumber();
      this.run(this.sql.insertUser, number, name, tokenHash, Date.now());
      return { number, name, tokenHash: tokenHash === null ? null : Buffer.from(tokenHash) };
    });
  }

  getUser(number: string): UserRecord | undefined {
    const row = this.get(this.sql.getUser, number);
    if (row === undefined) return undefined;
    return { number: row.number, name: row.name, tokenHash: row.token_hash };
  }

  numberKind(number: string): NumberKind | undefined {
    return this.get(this.sql.numberKind, number, number);
  }

  displayName(number: string): DisplayName | undefined {
    const row = this.get(this.sql.displayName, number, number);
    return row === undefined ? undefined : { kind: row.kind, name: row.name };
  }

  createGroup(creator: string, members: readonly string[]): string {
    // docs/protocol.md §Delivery guarantees: the creator is always a member, and
    // listing the creator again or a number twice changes nothing.
    const unique = [...new Set([creator, ...members])];
    return this.transaction(() => {
      const number = this.freeNumber();
      this.run(this.sql.insertGroup, number, creator, Date.now());
      this.run(this.sql.insertMembers, number, JSON.stringify(unique));
      return number;
    });
  }

  groupMembers(group: string): string[] {
    return this.all(this.sql.groupMembers, group);
  }

  isMember(group: string, number: string): boolean {
    return this.get(this.sql.isMember, group, number) !== undefined;
  }

  setGroupName(group: string, name: string): boolean {
    return this.autocommit(() => this.run(this.sql.setGroupName, name, group).changes > 0);
  }

  insertMessage(copies: readonly NewMessage[]): PendingMessage[] {
    if (copies.length === 0) return [];
    // Inside the broker's group commit already: no savepoint per message (two
    // statements each) on the hot path.
    return this.atomically(() => {
      const storedAt = Date.now();
      const rows: PendingMessage[] = [];
      // The first copy goes in with message_id 0 ("my own id", see
      // PENDING_COLUMNS); every later copy with the id the first one got.
      let messageId = 0;
      copies.forEach((copy, index) => {
        const { lastInsertRowid } = this.run(
          this.sql.insertPending,
          messageId,
          copy.recipient,
          copy.sender,
          copy.group,
          copy.ts,
          copy.wantsReceipt ? 1 : 0,
          copy.kind,
          copy.body,
          storedAt,
        );
        const id = Number(lastInsertRowid);
        if (index === 0) messageId = id;
        rows.push({ ...copy, id, messageId, storedAt });
      });
      return rows;
    });
  }

  pendingFor(recipient: string, afterId: number, limit: number): PendingMessage[] {
    // A negative LIMIT means "no limit" to SQLite; here it means nothing.
    if (!(limit > 0)) return [];
    return this.all(this.sql.pendingFor, recipient, afterId, Math.floor(limit)).map(toPending);
  }

  countPending(recipient: string): number {
    return this.get(this.sql.countPending, recipient) ?? 0;
  }

  countAllPending(): number {
    return this.get(this.sql.countAllPending) ?? 0;
  }

  deletePending(recipient: string, ids: readonly number[]): PendingMessage[] {
    const wanted = ids.filter((id) => Number.isSafeInteger(id));
    if (wanted.length === 0) return [];
    // One statement is atomic by itself; RETURNING yields exactly the rows this
    // call removed, so an id acked twice is acted on once.
    const deleted = this.autocommit(() =>
      wanted.length === 1
        ? this.all(this.sql.deleteOnePending, wanted[0]!, recipient)
        : this.all(this.sql.deletePending, recipient, JSON.stringify(wanted)),
    );
    return deleted.map(toPending).sort((a, b) => a.id - b.id);
  }

  deleteAcknowledged(
    acks: readonly { recipient: string; ids: readonly number[] }[],
  ): PendingMessage[] {
    const pairs: [number, string][] = [];
    for (const { recipient, ids } of acks)
      for (const id of ids) if (Number.isSafeInteger(id)) pairs.push([id, recipient]);
    if (pairs.length === 0) return [];
    const deleted = this.autocommit(() =>
      pairs.length === 1
        ? this.all(this.sql.deleteOnePending, pairs[0]![0], pairs[0]![1])
        : this.all(this.sql.deleteAcknowledged, JSON.stringify(pairs)),
    );
    const rows = deleted.map(toPending);
    return rows.length > 1 ? rows.sort((a, b) => a.id - b.id) : rows;
  }

  recordGroupMessage(group: string, ts: number, sender: string): void {
    this.autocommit(() => this.run(this.sql.insertGroupLog, group, ts, sender));
  }

  groupMessageSender(group: string, ts: number): string | undefined {
    return this.get(this.sql.groupLogSender, group, ts);
  }

  counters(): StoreCounters {
    return { statements: this.statementCount, commits: this.commitCount };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  private freeNumber(): string {
    return freeNumber((number) => this.get(this.sql.numberKind, number, number) !== undefined);
  }

  /** Runs a single-statement write; outside a transaction it is a commit of its own. */
  private autocommit<T>(fn: () => T): T {
    const outermost = !this.db.inTransaction;
    const result = fn();
    if (outermost) this.commitCount++;
    return result;
  }

  private run<P extends unknown[]>(stmt: Database.Statement<P>, ...params: P): Database.RunResult {
    this.statementCount++;
    try {
      return stmt.run(...params);
    } catch (err) {
      throw this.noted(err);
    }
  }

  private get<P extends unknown[], R>(stmt: Database.Statement<P, R>, ...params: P): R | undefined {
    this.statementCount++;
    try {
      return stmt.get(...params);
    } catch (err) {
      throw this.noted(err);
    }
  }

  private all<P extends unknown[], R>(stmt: Database.Statement<P, R>, ...params: P): R[] {
    this.statementCount++;
    try {
      return stmt.all(...params);
    } catch (err) {
      throw this.noted(err);
    }
  }

  /** Keeps the first sign of damage (see `damage`); returns the error to rethrow. */
  private noted(err: unknown): unknown {
    if (this.damaged === undefined && isDamage(err)) this.damaged = err.message;
    return err;
  }
}
