import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../../src/store/sqlite-store.js';
import { MessageKind, type NewMessage } from '../../../src/store/store.js';
import { describeStoreConformance } from './store-conformance.js';

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
describeStoreConformance('SqliteStore', () => SqliteStore.open({ path: freshPath() }));

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
    it('users, groups, pending rows and the group log survive close and reopen', () => {
      const file = freshPath();
      const first = track(SqliteStore.open({ path: file }));
      const alice = first.createUser('Alice', Buffer.alloc(32, 1));
      const bob = first.createUser('Bob', null);
      const group = first.createGroup(alice.number, [bob.number]);
      const rows = first.insertMessage([message({ recipient: bob.number, group, body: 'olá 👋' })]);
      first.recordGroupMessage(group, 1_700_000_000, alice.number);
      first.close();

      const again = track(SqliteStore.open({ path: file }));
      expect(again.getUser(alice.number)).toEqual(alice);
      expect(again.getUser(bob.number)).toEqual(bob);
      expect(again.numberKind(group)).toBe('group');
      expect(again.groupMembers(group)).toEqual([alice.number, bob.number]);
      expect(again.pendingFor(bob.number, 0, 10)).toEqual(rows);
      expect(again.groupMessageSender(group, 1_700_000_000)).toBe(alice.number);
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

    it('checkpoint moves the WAL into the database file and empties it', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      store.insertMessage([message()]);
      expect(fs.statSync(`${store.path}-wal`).size).toBeGreaterThan(0);
      store.checkpoint();
      expect(fs.statSync(`${store.path}-wal`).size).toBe(0);
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
        pragma(track(SqliteStore.open({ path: freshPath(), synchronous: 'normal' })), 'synchronous'),
      ).toBe(1);
      expect(
        pragma(track(SqliteStore.open({ path: freshPath(), synchronous: 'full' })), 'synchronous'),
      ).toBe(2);
    });

    it('turns foreign keys on and waits 5 s for a busy database', () => {
      const store = track(SqliteStore.open({ path: freshPath() }));
      expect(pragma(store, 'foreign_keys')).toBe(1);
      expect(pragma(store, 'busy_timeout')).toBe(5000);
    });

    it('writes schema version 1, and opening again keeps the data and the version', () => {
      const file = freshPath();
      const first = track(SqliteStore.open({ path: file }));
      expect(pragma(first, 'user_version')).toBe(1);
      const user = first.createUser('Alice', null);
      first.close();

      const again = track(SqliteStore.open({ path: file }));
      expect(pragma(again, 'user_version')).toBe(1);
      expect(again.getUser(user.number)).toEqual(user);
    });

    it('refuses a database written by a newer schema, without changing it', () => {
      const file = freshPath();
      const raw = new Database(file);
      raw.pragma('user_version = 2');
      raw.close();

      expect(() => SqliteStore.open({ path: file })).toThrow(/schema version 2, newer than .*\(1\)/);
      const check = new Database(file, { readonly: true });
      try {
        expect(check.pragma('journal_mode', { simple: true })).toBe('delete');
        expect(check.pragma('user_version', { simple: true })).toBe(2);
      } finally {
        check.close();
      }
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
      expect(store.deletePending(rows[0]!.recipient, rows.map((row) => row.id))).toHaveLength(3000);
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
