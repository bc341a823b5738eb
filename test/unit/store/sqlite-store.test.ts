import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseOpenError } from '../../../src/errors.js';
import { SCHEMA_STEPS } from '../../../src/store/schema.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { MessageKind, type NewMessage } from '../../../src/store/store.js';
import { SyncTurnStore } from '../../../src/store/sync-turn-store.js';
import { describeStoreConformance } from './store-conformance.js';
import { describeSyncStoreTransactions } from './sync-store-transactions.js';

let dir: string;
let files = 0;
/** A fresh database file in this run's temporary folder. */
const freshPath = (): string => path.join(dir, `store-${++files}.db`);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zapwire-store-'));
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

// On a real file, not :memory:, so that the suite runs with WAL as in production.
describeStoreConformance(
  'SqliteStore',
  () => new SyncTurnStore(SqliteStore.open({ path: freshPath() })),
);
describeSyncStoreTransactions('SqliteStore', () => SqliteStore.open({ path: freshPath() }));

/** The page number of the first leaf of a table's b-tree (its lowest rowids). */
function firstLeafOf(file: string, table: string, open?: SqliteStore): number {
  const db = open ? open['db'] : new Database(file, { readonly: true });
  try {
    return db
      .prepare<[string], number>(
        "SELECT pageno FROM dbstat WHERE name = ? AND pagetype = 'leaf' ORDER BY path LIMIT 1",
      )
      .pluck()
      .get(table)!;
  } finally {
    if (!open) db.close();
  }
}

function message(overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    recipient: '1000000000002',
    sender: '1000000000001',
    group: null,
    ts: 1_700_000_000,
    wantsReceipt: true,
    kind: MessageKind.Text,
    body: 'oi',
    ...overrides,
  };
}

/** The store's own connection: some pragmas (synchronous) are per connection. */
function pragma(store: SqliteStore, name: string): unknown {
  return store['db'].pragma(name, { simple: true });
}

describe('SqliteStore', () => {
  const open: SqliteStore[] = [];
  const track = (store: SqliteStore): SqliteStore => (open.push(store), store);

  afterEach(() => {
    for (const store of open.splice(0)) store.close();
  });

  describe('durability', () => {
    it('users, groups and their names, pending rows and the group log survive close and reopen', () => {
      const file = freshPath();
      const first = track(SqliteStore.open({ path: file }));
      const alice = first.createUser('Alice', Buffer.alloc(32, 1));
      const bob = first.createUser('Bob', null);
      const group = first.createGroup(alice.number, [bob.number]);
      const rows = first.insertMessage([message({ recipient: bob.number, group, body: 'olá 👋' })]);
      first.recordGroupMessage(group, 1_700_000_000, alice.number);
      first.setGroupName(group, 'Família');
      first.close();

      const again = track(SqliteStore.open({ path: file }));
      expect(again.getUser(alice.number)).toEqual(alice);
      expect(again.getUser(bob.number)).toEqual(bob);
      expect(again.numberKind(group)).toBe('group');
      expect(again.groupMembers(group)).toEqual([alice.number, bob.number]);
      expect(again.pendingFor(bob.number, 0, 10)).toEqual(rows);
      expect(again.groupMessageSender(group, 1_700_000_000)).toBe(alice.number);
      expect(again.displayName(group)).toEqual({ kind: 'group', name: 'Família' });
    });

    it('an id is never handed out again after the newest row is deleted, even across a reopen', () => {
      const file = freshPath();
      const first = track(SqliteStore.open({ path: file }));
      const [row] = first.insertMessage([message()]);
      first.deletePending(row!.recipient, [row!.id]);
      first.close();

      const again = track(SqliteStore.open({ path: file }));
      const [next] = again.insertMessage([message()]);
      expect(next!.id).toBeGreaterThan(row!.id);
    });
  });

  describe('opening', () => {
    it('creates the missing folders of the path', () => {
      const file = path.join(dir, 'a', 'b', 'zapwire.db');
      const store = track(SqliteStore.open({ path: file }));
      expect(store.path).toBe(file);
      expect(fs.existsSync(file)).toBe(true);
    });

    it('accepts :memory: for a private database', () => {
      const store = track(SqliteStore.open({ path: ':memory:' }));
      expect(store.insertMessage([message()])).toHaveLength(1);
    });

    it('refuses options it does not understand, naming the option', () => {
      expect(() => SqliteStore.open({ path: '' })).toThrow(/options\.path/);
      expect(() =>
        SqliteStore.open({ path: freshPath(), synchronous: 'off' as unknown as 'full' }),
      ).toThrow(/options\.synchronous must be 'normal' or 'full'/);
    });

    it('turns WAL mode on', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      expect(pragma(store, 'journal_mode')).toBe('wal');
    });

    it('applies synchronous=normal by default and full when asked (PRAGMA synchronous 1 / 2)', () => {
      expect(pragma(track(SqliteStore.open({ path: freshPath() })), 'synchronous')).toBe(1);
      expect(
        pragma(
          track(SqliteStore.open({ path: freshPath(), synchronous: 'normal' })),
          'synchronous',
        ),
      ).toBe(1);
      expect(
        pragma(track(SqliteStore.open({ path: freshPath(), synchronous: 'full' })), 'synchronous'),
      ).toBe(2);
    });

    it('turns foreign keys on, and never waits for a busy database', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      expect(pragma(store, 'foreign_keys')).toBe(1);
      expect(pragma(store, 'busy_timeout')).toBe(0);
    });

    it('writes schema version 2, and opening again keeps the data and the version', () => {
      const file = freshPath();
      const first = track(SqliteStore.open({ path: file }));
      expect(pragma(first, 'user_version')).toBe(2);
      const user = first.createUser('Alice', null);
      first.close();

      const again = track(SqliteStore.open({ path: file }));
      expect(pragma(again, 'user_version')).toBe(2);
      expect(again.getUser(user.number)).toEqual(user);
    });

    it('migrates a file of version 1 (no group names) to version 2, keeping its data; its groups have the empty name', () => {
      const file = freshPath();
      const alice = '1000000000001';
      const bob = '1000000000002';
      const group = '9000000000001';
      // A file as a zapwire of schema version 1 left it: its SQL, a user, a group, a pending row.
      const old = new Database(file);
      old.exec(SCHEMA_STEPS[0]!);
      old.pragma('user_version = 1');
      old
        .prepare('INSERT INTO users (number, name, token_hash, created_at) VALUES (?, ?, NULL, 0)')
        .run(alice, 'Alice');
      old
        .prepare('INSERT INTO "groups" (number, creator, created_at) VALUES (?, ?, 0)')
        .run(group, alice);
      old
        .prepare(
          'INSERT INTO group_members (group_number, member, position) VALUES (?, ?, 0), (?, ?, 1)',
        )
        .run(group, alice, group, bob);
      old.close();

      const store = track(SqliteStore.open({ path: file }));
      expect(pragma(store, 'user_version')).toBe(2);
      expect(store.displayName(alice)).toEqual({ kind: 'user', name: 'Alice' });
      expect(store.displayName(group)).toEqual({ kind: 'group', name: '' });
      expect(store.groupMembers(group)).toEqual([alice, bob]);
      expect(store.setGroupName(group, 'Família')).toBe(true);
      store.close();

      const again = track(SqliteStore.open({ path: file }));
      expect(again.displayName(group)).toEqual({ kind: 'group', name: 'Família' });
    });

    it('refuses a database written by a newer schema, without changing it', () => {
      const file = freshPath();
      const raw = new Database(file);
      raw.pragma('user_version = 3');
      raw.close();

      expect(() => SqliteStore.open({ path: file })).toThrow(
        /schema version 3, newer than .*\(2\)/,
      );
      const check = new Database(file, { readonly: true });
      try {
        expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
        expect(check.pragma('user_version', { simple: true })).toBe(3);
      } finally {
        check.close();
      }
    });
  });

  describe('one store per file (the lock)', () => {
    it('a second open of a file in use fails at once, naming the file; once closed, it opens', () => {
      const file = freshPath();
      const first = track(SqliteStore.open({ path: file }));
      const user = first.createUser('Alice', null);
      let refused: unknown;
      try {
        track(SqliteStore.open({ path: file }));
      } catch (err) {
        refused = err;
      }
      expect(refused).toBeInstanceOf(DatabaseOpenError);
      expect((refused as DatabaseOpenError).code).toBe('ZAPWIRE_DATABASE_IN_USE');
      expect((refused as Error).message).toBe(
        `database ${file} is in use by another process (another zapwire server on the same file?): database is locked`,
      );
      // The first store is undisturbed.
      expect(first.getUser(user.number)).toEqual(user);
      first.insertMessage([message()]);
      first.close();
      const again = track(SqliteStore.open({ path: file }));
      expect(again.getUser(user.number)).toEqual(user);
    });

    it('no other connection can read the file while a store has it', () => {
      const file = freshPath();
      track(SqliteStore.open({ path: file }));
      expect(() =>
        new Database(file, { readonly: true, timeout: 0 }).prepare('SELECT 1 FROM users').get(),
      ).toThrow(/database is locked/);
    });

    it('keeps the WAL index in its own memory: no -shm file', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      store.insertMessage([message()]);
      expect(fs.existsSync(`${store.path}-wal`)).toBe(true);
      expect(fs.existsSync(`${store.path}-shm`)).toBe(false);
    });
  });

  describe('a file it cannot serve', () => {
    /** Opens `file` expecting a DatabaseOpenError; returns its message. */
    const refusal = (file: string): string => {
      try {
        track(SqliteStore.open({ path: file }));
      } catch (err) {
        expect(err).toBeInstanceOf(DatabaseOpenError);
        expect((err as DatabaseOpenError).code).toBe('ZAPWIRE_DATABASE_UNUSABLE');
        return (err as Error).message;
      }
      throw new Error(`${file} opened`);
    };

    it('garbage in the header: SQLite\'s "file is not a database", naming the file', () => {
      const file = freshPath();
      track(SqliteStore.open({ path: file })).close();
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(100, 0x5a), 0, 100, 0);
      fs.closeSync(fd);
      expect(refusal(file)).toBe(`cannot open database ${file}: file is not a database`);
    });

    it('garbage in a table page that no query at open reads: found by the damage check', () => {
      const file = freshPath();
      const store = track(SqliteStore.open({ path: file }));
      store.transaction(() => {
        for (let i = 0; i < 500; i++)
          store.insertMessage([message({ body: `mensagem ${i} `.repeat(8) })]);
      });
      store.close();
      const leaf = firstLeafOf(file, 'pending');
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, (leaf - 1) * 4096);
      fs.closeSync(fd);
      expect(refusal(file)).toMatch(
        new RegExp(
          `^cannot open database ${file}: it is damaged \\(PRAGMA quick_check: .*page ${leaf}\\b`,
        ),
      );
    });

    it('a folder that is a regular file: one line naming both', () => {
      const plain = freshPath();
      fs.writeFileSync(plain, 'not a folder');
      expect(refusal(path.join(plain, 'x.db'))).toBe(
        `cannot open database ${path.join(plain, 'x.db')}: ${plain} is not a folder`,
      );
    });

    it("a folder that cannot be made ends (Node's recursive mkdir loops forever under /proc)", {
      skip: !fs.existsSync('/proc/self'),
    }, () => {
      expect(refusal('/proc/zapwire-test/x.db')).toMatch(
        /^cannot open database \/proc\/zapwire-test\/x\.db: ENOENT/,
      );
    });
  });

  describe('damage found while serving', () => {
    it('a statement that meets a damaged page fails, and the store keeps saying it is damaged', () => {
      const file = freshPath();
      const store = track(SqliteStore.open({ path: file }));
      const rows = store.transaction(() =>
        Array.from(
          { length: 500 },
          (_, i) => store.insertMessage([message({ body: `mensagem ${i} `.repeat(8) })])[0]!,
        ),
      );
      // The rows go into the file itself, where the page below is damaged.
      store['db'].pragma('wal_checkpoint(TRUNCATE)');
      expect(store.damage).toBeUndefined();
      const leaf = firstLeafOf(file, 'pending', store);
      // Forget the cached pages, so the next read is of the file.
      store['db'].pragma('cache_size = 0');
      store['db'].pragma('shrink_memory');
      const fd = fs.openSync(file, 'r+');
      fs.writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, (leaf - 1) * 4096);
      fs.closeSync(fd);
      expect(() => store.pendingFor(rows[0]!.recipient, 0, 10)).toThrow(/malformed/);
      expect(store.damage).toMatch(/malformed/);
      // A statement that does not touch the page succeeds; the damage stays.
      expect(store.getUser('1000000000009')).toBeUndefined();
      expect(store.damage).toMatch(/malformed/);
    });
  });

  describe('counters', () => {
    it('counters.statements increases with every statement run', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      const start = store.counters().statements;
      store.countPending('1000000000002');
      expect(store.counters().statements).toBe(start + 1);
      store.pendingFor('1000000000002', 0, 10);
      expect(store.counters().statements).toBe(start + 2);
    });

    it('a message of n copies costs n statements (one INSERT each)', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      const start = store.counters().statements;
      store.insertMessage([message(), message({ recipient: '1000000000003' }), message()]);
      expect(store.counters().statements).toBe(start + 3);
    });

    it('deleting thousands of ids is one statement', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      const rows = store.transaction(() =>
        Array.from({ length: 3000 }, () => store.insertMessage([message()])[0]!),
      );
      const start = store.counters().statements;
      expect(
        store.deletePending(
          rows[0]!.recipient,
          rows.map((row) => row.id),
        ),
      ).toHaveLength(3000);
      expect(store.counters().statements).toBe(start + 1);
    });

    it('commits count outermost transactions that committed, not nested ones', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      const start = store.counters().commits;
      store.transaction(() => {
        store.transaction(() => store.insertMessage([message()]));
        store.insertMessage([message()]);
      });
      store.transaction(() => store.insertMessage([message()]));
      expect(() =>
        store.transaction(() => {
          store.insertMessage([message()]);
          throw new Error('boom');
        }),
      ).toThrow('boom');
      expect(store.counters().commits).toBe(start + 2);
      expect(store.countPending('1000000000002')).toBe(3);
    });
  });
});
