import type pg from 'pg';

/**
 * The PostgreSQL schema this code writes, kept in the one-row table
 * `zapwire_schema`. Raise it with a step appended to POSTGRES_SCHEMA_STEPS;
 * an older zapwire must refuse a newer database rather than misread it.
 */
export const POSTGRES_SCHEMA_VERSION = 2;

/**
 * Advisory lock keys of zapwire (the first half of a two-int key), so that
 * its locks never meet another application's on a shared server.
 */
export const LOCK_CLASS = 1516;
/** Held while the schema is created or migrated: nodes starting at once do it once. */
const SCHEMA_LOCK = 0;

// The tables of schema.ts in spirit (one pending row per recipient copy), and
// one more: `numbers`, the one place a number is unique across users and
// groups, so that two nodes drawing the same number for a user and a group
// collide on its primary key instead of both winning.
//
// pending.id comes from a sequence (bigint, NO CYCLE, the default): never
// handed out twice, even after deletes or a rolled-back turn (a sequence is
// not transactional: a rollback leaves a gap, which no reader relies on not
// seeing). JS numbers hold ids exactly below 2^53; the type parser of
// PostgresStore refuses anything above, rather than round it.
const DDL_V1 = `
CREATE TABLE numbers (
  number text PRIMARY KEY,
  kind   text NOT NULL CHECK (kind IN ('user', 'group'))
);

CREATE TABLE users (
  number     text PRIMARY KEY REFERENCES numbers (number),
  name       text NOT NULL,
  token_hash bytea,
  created_at bigint NOT NULL
);

CREATE TABLE "groups" (
  number     text PRIMARY KEY REFERENCES numbers (number),
  creator    text NOT NULL,
  created_at bigint NOT NULL
);

CREATE TABLE group_members (
  group_number text NOT NULL REFERENCES "groups" (number) ON DELETE CASCADE,
  member       text NOT NULL,
  position     integer NOT NULL,
  PRIMARY KEY (group_number, member)
);

CREATE SEQUENCE pending_id_seq AS bigint;

CREATE TABLE pending (
  id            bigint PRIMARY KEY,
  message_id    bigint NOT NULL,
  recipient     text NOT NULL,
  sender        text NOT NULL,
  group_number  text,
  ts            bigint NOT NULL,
  wants_receipt boolean NOT NULL,
  kind          smallint NOT NULL,
  body          text NOT NULL,
  stored_at     bigint NOT NULL
);
CREATE INDEX pending_recipient_id ON pending (recipient, id);

CREATE TABLE group_log (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  group_number text NOT NULL,
  ts           bigint NOT NULL,
  sender       text NOT NULL
);
CREATE INDEX group_log_group_ts ON group_log (group_number, ts);
`;

/** Version 2 (docs/protocol.md §Names): a group's name, empty until a member sets one. */
const V2_GROUP_NAMES = `ALTER TABLE "groups" ADD COLUMN name text NOT NULL DEFAULT ''`;

/**
 * The SQL that brings a database from version `i` to `i + 1`, at index `i`.
 * Only ever appended to: a database of an older zapwire is migrated by the
 * steps after its version, exactly as they were shipped.
 */
export const POSTGRES_SCHEMA_STEPS: readonly string[] = Object.freeze([DDL_V1, V2_GROUP_NAMES]);

/**
 * Brings the database (`schema`, which must be the connection's search_path, or public) to
 * POSTGRES_SCHEMA_VERSION in one transaction; running it again changes
 * nothing. Throws for a database written by a newer zapwire.
 */
export async function applyPostgresSchema(client: pg.ClientBase, schema?: string): Promise<void> {
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1, $2)', [LOCK_CLASS, SCHEMA_LOCK]);
    // No wait for the WAL flush: a crash before it loses only the schema, which
    // the next open creates again, and the first turn's COMMIT flushes the WAL
    // up to itself, this transaction included.
    await client.query('SET LOCAL synchronous_commit = off');
    // Under the lock: IF NOT EXISTS alone is not safe against a concurrent CREATE.
    if (schema !== undefined) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
    await client.query('CREATE TABLE IF NOT EXISTS zapwire_schema (version integer NOT NULL)');
    const { rows } = await client.query<{ version: number }>('SELECT version FROM zapwire_schema');
    const found = rows[0]?.version ?? 0;
    if (found > POSTGRES_SCHEMA_VERSION) {
      throw new Error(
        `it has schema version ${found}, newer than this zapwire knows ` +
          `(${POSTGRES_SCHEMA_VERSION}); open it with a newer zapwire`,
      );
    }
    for (let version = found; version < POSTGRES_SCHEMA_VERSION; version++)
      await client.query(POSTGRES_SCHEMA_STEPS[version]!);
    if (found === 0)
      await client.query('INSERT INTO zapwire_schema (version) VALUES ($1)', [
        POSTGRES_SCHEMA_VERSION,
      ]);
    else if (found < POSTGRES_SCHEMA_VERSION)
      await client.query('UPDATE zapwire_schema SET version = $1', [POSTGRES_SCHEMA_VERSION]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
