import type Database from 'better-sqlite3';

/**
 * The schema version this code writes, kept in `PRAGMA user_version`. Raise it
 * with a migration step in `applySchema`; an older zapwire must refuse a newer
 * file rather than misread it.
 */
export const SCHEMA_VERSION = 1;

export type Synchronous = 'normal' | 'full';

export interface PragmaOptions {
  /**
   * `normal` (the default) can lose the last commits on a power failure but
   * never on a crash of the process, which is what a `07` promises
   * (PROTOCOL §Delivery guarantees); `full` also survives a power failure at
   * one fsync per commit (MEASUREMENTS §SQLite: ~6x slower per commit).
   */
  synchronous?: Synchronous;
}

/** Milliseconds a connection waits for another writer's lock before SQLITE_BUSY. */
export const BUSY_TIMEOUT_MS = 5000;

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

/** Every pragma the store relies on, in the one place they are set. */
export function applyPragmas(db: Database.Database, options: PragmaOptions = {}): void {
  db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
  // WAL: readers never block the single writer, and a commit is one append.
  db.pragma('journal_mode = WAL');
  db.pragma(`synchronous = ${(options.synchronous ?? 'normal').toUpperCase()}`);
  db.pragma('foreign_keys = ON');
}

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Throws for a file written by a newer zapwire, which this code would misread. */
export function assertKnownVersion(db: Database.Database): void {
  const found = schemaVersion(db);
  if (found > SCHEMA_VERSION) {
    throw new Error(
      `database ${db.name} has schema version ${found}, newer than this zapwire knows ` +
        `(${SCHEMA_VERSION}); open it with a newer zapwire`,
    );
  }
}

/** Brings the file to SCHEMA_VERSION; running it again changes nothing. */
export function applySchema(db: Database.Database): void {
  assertKnownVersion(db);
  if (schemaVersion(db) === SCHEMA_VERSION) return;
  db.transaction(() => {
    db.exec(DDL_V1);
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  })();
}

/** Readies a freshly opened connection: version check, pragmas, schema. */
export function prepareDatabase(db: Database.Database, options: PragmaOptions = {}): void {
  // The version is checked before the pragmas: switching a newer file to WAL
  // would already be a write to a file this code does not understand.
  assertKnownVersion(db);
  applyPragmas(db, options);
  applySchema(db);
}
