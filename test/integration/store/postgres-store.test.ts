import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseOpenError, UnavailableError } from '../../../src/errors.js';
import { POSTGRES_SCHEMA_STEPS } from '../../../src/store/postgres-schema.js';
import { PostgresStore } from '../../../src/store/postgres-store.js';
import type { NewMessage } from '../../../src/store/store.js';
import { call, callsOf } from '../../../src/store/turn-store.js';
import { describeWithEngine, type Engine, freePort, startPostgres } from '../../helpers/engines.js';
import { BOB, CAROL, message as textMessage } from '../../unit/store/fixtures.js';
import { describeStoreConformance } from '../../unit/store/store-conformance.js';

/** The suite's messages ask for receipts unless overridden. */
function message(overrides: Partial<NewMessage> = {}): NewMessage {
  return textMessage({ wantsReceipt: true, ...overrides });
}

/** A promise and the function that settles it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

/** Resolves once `check` holds, asking every 10 ms; rejects after `ms`. */
async function eventually(check: () => Promise<boolean>, what: string, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describeWithEngine('postgres', 'PostgresStore', () => {
  let engine: Engine;
  let schemas = 0;
  const opened: PostgresStore[] = [];
  /** A store on a schema of its own, so that every test starts from an empty database. */
  const fresh = async (schema = `t${++schemas}`) => {
    const store = await PostgresStore.open({ url: engine.url, schema });
    opened.push(store);
    return store;
  };

  beforeAll(async () => {
    engine = await startPostgres();
  }, 60_000);

  afterAll(async () => {
    await engine?.stop();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((store) => store.close()));
  });

  describeStoreConformance('PostgresStore', () =>
    PostgresStore.open({ url: engine.url, schema: `c${++schemas}` }),
  );

  describe('schema', () => {
    it('is created at version 2, and opening again keeps the data and the version', async () => {
      const first = await fresh('kept');
      const user = await callsOf(first).createUser('Alice', Buffer.alloc(32, 1));
      await first.close();
      const again = await fresh('kept');
      expect(await callsOf(again).getUser(user.number)).toEqual(user);
      const client = new pg.Client(engine.url);
      await client.connect();
      try {
        const { rows } = await client.query('SELECT version FROM kept.zapwire_schema');
        expect(rows).toEqual([{ version: 2 }]);
      } finally {
        await client.end();
      }
    });

    it('refuses a database written by a newer schema, naming it', async () => {
      await (await fresh('newer')).close();
      const client = new pg.Client(engine.url);
      await client.connect();
      await client.query('UPDATE newer.zapwire_schema SET version = 3');
      await client.end();
      await expect(fresh('newer')).rejects.toThrow(
        new RegExp(
          `^cannot open database .*:${engine.port}/postgres: it has schema version 3, newer than .*\\(2\\)`,
        ),
      );
    });

    it('migrates a database of version 1 (no group names) to version 2, keeping its data; its groups have the empty name', async () => {
      const alice = '1000000000001';
      const group = '9000000000001';
      // A database as a zapwire of schema version 1 left it: its SQL, a user and a group.
      const client = new pg.Client(engine.url);
      await client.connect();
      try {
        await client.query('CREATE SCHEMA old; SET search_path = old');
        await client.query('CREATE TABLE zapwire_schema (version integer NOT NULL)');
        await client.query(POSTGRES_SCHEMA_STEPS[0]!);
        await client.query('INSERT INTO zapwire_schema (version) VALUES (1)');
        await client.query(`INSERT INTO numbers VALUES ($1, 'user'), ($2, 'group')`, [
          alice,
          group,
        ]);
        await client.query(`INSERT INTO users VALUES ($1, 'Alice', NULL, 0)`, [alice]);
        await client.query('INSERT INTO "groups" VALUES ($2, $1, 0)', [alice, group]);
        await client.query('INSERT INTO group_members VALUES ($2, $1, 0)', [alice, group]);
        const store = await fresh('old');
        const s = callsOf(store);
        expect(await s.displayName(alice)).toEqual({ kind: 'user', name: 'Alice' });
        expect(await s.displayName(group)).toEqual({ kind: 'group', name: '' });
        expect(await s.setGroupName(group, 'Família')).toBe(true);
        expect(await s.groupMembers(group)).toEqual([alice]);
        const { rows } = await client.query('SELECT version FROM old.zapwire_schema');
        expect(rows).toEqual([{ version: 2 }]);
      } finally {
        await client.end();
      }
    });

    it('nodes opening one empty database at once create the schema once', async () => {
      const stores = await Promise.all([fresh('race'), fresh('race'), fresh('race')]);
      const [user] = await stores[0]!.run([call('createUser', 'Alice', null)]);
      expect(await callsOf(stores[2]!).numberKind(user.number)).toBe('user');
    });
  });

  describe('opening', () => {
    it('a server that is not there: one DatabaseOpenError naming the database, password hidden', async () => {
      const port = await freePort();
      const url = `postgres://zapwire:secret@127.0.0.1:${port}/postgres`;
      const refused = await PostgresStore.open({ url }).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(DatabaseOpenError);
      expect((refused as Error).message).toMatch(
        new RegExp(
          `^cannot open database postgres://zapwire:\\*\\*\\*@127\\.0\\.0\\.1:${port}/postgres: `,
        ),
      );
      expect((refused as Error).message).not.toContain('secret');
    });

    it('refuses options it does not understand, naming the option', async () => {
      await expect(PostgresStore.open({ url: '/tmp/x.db' })).rejects.toThrow(/options\.url/);
      await expect(PostgresStore.open({ url: engine.url, schema: 'a; DROP' })).rejects.toThrow(
        /options\.schema/,
      );
    });
  });

  describe('multi-row statements (group commit)', () => {
    it('a step of many messages is one statement to draw ids and one INSERT', async () => {
      const store = await fresh();
      const before = store.counters();
      const calls = Array.from({ length: 50 }, (_, i) =>
        call('insertMessage', [message({ body: `m${i}` }), message({ recipient: CAROL })]),
      );
      const rows = (await store.run(calls)).flat();
      expect(rows).toHaveLength(100);
      // BEGIN, the ids, the INSERT, COMMIT.
      expect(store.counters()).toEqual({
        statements: before.statements + 4,
        commits: before.commits + 1,
      });
    });

    it('the acknowledgements of many sessions are one DELETE', async () => {
      const store = await fresh();
      const rows = (
        await store.run(
          Array.from({ length: 30 }, (_, i) =>
            call('insertMessage', [
              message({ recipient: `10000000001${String(i).padStart(2, '0')}` }),
            ]),
          ),
        )
      ).flat();
      const before = store.counters().statements;
      const [deleted] = await store.run([
        call(
          'deleteAcknowledged',
          rows.map((row) => ({ recipient: row.recipient, ids: [row.id] })),
        ),
      ]);
      expect(deleted).toEqual(rows);
      expect(store.counters().statements).toBe(before + 3);
    });
  });

  describe('two nodes on one database', () => {
    it("a node cannot store a row for a recipient while another node's open turn holds one for it", async () => {
      const a = await fresh('nodes');
      const b = await fresh('nodes');
      const release = gate();
      const stored = gate();
      const first = a.turn(async (turn) => {
        const [rows] = await turn.step([call('insertMessage', [message({ body: 'first' })])]);
        stored.open();
        await release.opened;
        return rows;
      });
      await stored.opened;
      const second = b.run([call('insertMessage', [message({ body: 'second' })])]);
      const watcher = new pg.Client(engine.url);
      await watcher.connect();
      try {
        await eventually(async () => {
          const { rows } = await watcher.query(
            "SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted",
          );
          return rows.length > 0;
        }, "the second node's turn waits on the recipient's lock");
      } finally {
        await watcher.end();
      }
      release.open();
      const [[older], [[newer]]] = await Promise.all([first, second]);
      expect(newer!.id).toBeGreaterThan(older!.id);
      expect((await callsOf(a).pendingFor(BOB, 0, 10)).map((row) => row.body)).toEqual([
        'first',
        'second',
      ]);
    });
  });

  // Restarts of the engine, crash recovery included, on a shared 2-core machine.
  describe('faults', { timeout: 60_000 }, () => {
    it('PostgreSQL down: turns fail with 503; back up: the same store works again, nothing committed lost', async () => {
      const store = await fresh();
      const s = callsOf(store);
      const [kept] = await s.insertMessage([message({ body: 'committed' })]);
      await engine.kill();
      const refused = await s.countPending(BOB).catch((err: unknown) => err);
      expect(refused).toBeInstanceOf(UnavailableError);
      expect((refused as UnavailableError).status).toBe(503);
      expect((refused as Error).message).toMatch(/^database unavailable: /);
      await engine.restart();
      // The pool's connections died with the server; the next turn gets a new one.
      await eventually(
        () =>
          s.countPending(BOB).then(
            () => true,
            () => false,
          ),
        'the store works again',
      );
      expect(await s.pendingFor(BOB, 0, 10)).toEqual([kept]);
      expect((await s.insertMessage([message()]))[0]!.id).toBeGreaterThan(kept!.id);
    });

    it('a restart during a turn fails that turn with 503 and stores nothing of it; the next turn works', async () => {
      const store = await fresh();
      const outcome = await store
        .turn(async (turn) => {
          await turn.step([call('insertMessage', [message({ body: 'in flight' })])]);
          // A fast shutdown ends every session with admin_shutdown (57P01).
          await engine.restart();
          await turn.step([call('countPending', BOB)]);
        })
        .catch((err: unknown) => err);
      expect(outcome).toBeInstanceOf(UnavailableError);
      await eventually(
        () =>
          store.run([call('countPending', BOB)]).then(
            ([count]) => count === 0,
            () => false,
          ),
        'the store works again, without the row of the failed turn',
      );
    });
  });
});
