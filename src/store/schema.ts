import type Database from 'better-sqlite3';

/**
 * The schema version this code writes, kept in `PRAGMA user_version`. Raise it
 * with a step appended to SCHEMA_STEPS; an older zapwire must refuse a newer
 * file rather than misread it.
 */
export const SCHEMA_VERSION = 2;

export type Synchronous = 'normal' | 'full';

export interface PragmaOptions {
  /**
   * `normal` (the default) can lose the last commits on a power failure but
   * never on a crash of the process, which is what a `07` promises
   * (docs/protocol.md §Delivery guarantees); `full` also survives a power failure at
   * one fsync per commit (measured on the 2-vCPU machine's disk: ~6k
   * single-row commits/s with FULL against ~36k/s with NORMAL).
   */
  synchronous?: Synchronous;
}

// `groups` is quoted everywhere: GROUPS is an SQL keyword (window frames) that
// SQLite only accepts as a name by fallback.
const DDL_V1 = `
CREATE TABLE IF NOT EXISTS users (
  number     TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  token_hash BLOB,
  created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS "groups" (
  number     TEXT PRIMARY KEY,
  creator    TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS group_members (
  group_number TEXT NOT NULL REFERENCES "groups"(number) ON DELETE CASCADE,
  member       TEXT NOT NULL,
  position     INTEGER NOT NULL,
  PRIMARY KEY (group_number, member)
);

-- AUTOINCREMENT: an id is never handed out twice, even after the newest row is
-- deleted, so a recipient's afterId cursor and a late ack can never land on a
-- different message than the one they meant.
CREATE TABLE IF NOT EXISTS pending (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  message_id    INTEGER NOT NULL,
  recipient     TEXT NOT NULL,
  sender        TEXT NOT NULL,
  group_number  TEXT,
  ts            INTEGER NOT NULL,
  wants_receipt INTEGER NOT NULL,
  kind          INTEGER NOT NULL,
  body          TEXT NOT NULL,
  stored_at     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_recipient_id ON pending (recipient, id);

CREATE TABLE IF NOT EXISTS group_log (
  group_number TEXT NOT NULL,
  ts           INTEGER NOT NULL,
  sender       TEXT NOT NULL,
  id           INTEGER PRIMARY KEY
);
CREATE INDEX IF NOT EXISTS group_log_group_ts ON group_log (group_number, ts);
`;

/** Version 2 (docs/protocol.md §Names): a group's name, empty until a member sets one. */
const V2_GROUP_NAMES = `ALTER TABLE "groups" ADD COLUMN name TEXT NOT NULL DEFAULT ''`;

/**
 * The SQL that brings a file from version `i` to `i + 1`, at index `i`.
 * Only ever appended to: a file written by an older zapwire is migrated by
 * the steps after its version, exactly as they were shipped.
 */
export const SCHEMA_STEPS: readonly string[] = Object.freeze([DDL_V1, V2_GROUP_NAMES]);

/** Every pragma the store relies on, in the one place they are set. */
export function applyPragmas(db: Database.Database, options: PragmaOptions = {}): void {
  // WAL: a commit is one append. Entered in EXCLUSIVE locking mode (see
  // lockingModeExclusive), so the WAL index lives in this connection's heap,
  // not in a -shm file: no other connection can read the file anyway.
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${(options.synchronous ?? 'normal').toUpperCase()}`);
  db.pragma('foreign_keys = ON');
  // Statement journals and temporary b-trees in memory, not in temporary
  // files: when the broker ran each request in a savepoint, SQLite's default
  // (a file) more than doubled the broker's CPU for a group message (154
  // against 68 µs per 8-member send); nested transactions (`transaction()`
  // inside a turn) still make them.
  db.pragma('temp_store = MEMORY');
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Throws for a file written by a newer zapwire, which this code would misread. */
export function assertKnownVersion(db: Database.Database): void {
  const found = schemaVersion(db);
  if (found > SCHEMA_VERSION) {
    throw new Error(
      `it has schema version ${found}, newer than this zapwire knows ` +
        `(${SCHEMA_VERSION}); open it with a newer zapwire`,
    );
  }
}

/** Brings the file to SCHEMA_VERSION; running it again changes nothing. */
export function applySchema(db: Database.Database): void {
  assertKnownVersion(db);
  const found = schemaVersion(db);
  if (found === SCHEMA_VERSION) return;
  db.transaction(() => {
    for (let version = found; version < SCHEMA_VERSION; version++) db.exec(SCHEMA_STEPS[version]!);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/**
 * One server per database file (DESIGN.md §The store's lock): in EXCLUSIVE
 * locking mode SQLite never releases the file locks it takes, and in WAL mode
 * the first access takes the exclusive one. They are POSIX (fcntl) locks, so
 * the kernel drops them when the process dies, SIGKILL included. Must run
 * before the first read; the connection must have a busy timeout of 0, so
 * that a file locked by another server fails at once with SQLITE_BUSY.
 */
export function lockingModeExclusive(db: Database.Database): void {
  db.pragma('locking_mode = EXCLUSIVE');
}

/** Takes the write lock now, at open, rather than at the first commit. */
export function takeLock(db: Database.Database): void {
  db.exec('BEGIN EXCLUSIVE; COMMIT');
}

/**
 * Throws when a page of any table or index is damaged. `quick_check` reads
 * every page once: O(file size), ~0.7 s for 1e6 pending rows (120 MB)
 * (DESIGN.md §Start-up checks). It does not compare indexes with their tables
 * (`integrity_check` does, at ~4x the cost).
 */
export function assertIntact(db: Database.Database): void {
  const found = String(db.pragma('quick_check(1)', { simple: true }));
  // Its report spans lines ("*** in database main ***\nTree 8 page 13: ..."): one line here.
  if (found !== 'ok')
    throw new Error(`it is damaged (PRAGMA quick_check: ${found.replace(/\s*\n\s*/g, ' ')})`);
}

/** Readies a freshly opened connection: lock, version check, pragmas, schema, damage check. */
export function prepareDatabase(db: Database.Database, options: PragmaOptions = {}): void {
  lockingModeExclusive(db);
  // The version is checked before the pragmas: switching a newer file to WAL
  // would already be a write to a file this code does not understand.
  assertKnownVersion(db);
  applyPragmas(db, options);
  applySchema(db);
  takeLock(db);
  assertIntact(db);
}
