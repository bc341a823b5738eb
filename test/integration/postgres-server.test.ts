/**
 * A server on PostgreSQL (issue #11, item 2): `zapwire serve --db
 * postgres://...` drives the same broker through PostgresStore, so a
 * version 1 round trip (05 -> 07, 06 pushed, 08, the `recebida` receipt)
 * works as on SQLite, /healthz reports it healthy, and the start-up count of
 * pending rows and the messages themselves survive a restart of the server.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { describeWithEngine } from '../helpers/engines.js';
import type { ServerProcess } from '../helpers/server-process.js';
import { eventually, message, receive, sendStored, T0 } from '../helpers/v1.js';
import { openSession, register } from '../helpers/wire-client.js';
import { usePostgresNode } from './postgres-node.js';

describeWithEngine('postgres', 'zapwire serve --db postgres://', () => {
  const env = usePostgresNode();
  const { serve, keep, health } = env;

  /** The start-up line that counted the pending rows. */
  const pendingAtStart = (server: ServerProcess): unknown =>
    server.lines
      .map((line) => JSON.parse(line) as { msg?: string; pending?: number })
      .find((line) => line.msg === 'database opened, locked and checked')?.pending;

  it('sends, pushes, deletes on 08 and receipts as on SQLite, and keeps what is pending across a restart', async () => {
    const first = await serve();
    // The URL's password never reaches the log.
    expect(String(first.listening.db)).toMatch(/^postgres(ql)?:\/\//);
    // Healthy once the broker answers its probe (within 1 s: a loaded machine may need a retry).
    const healthy = (server: ServerProcess) =>
      eventually(async () => (await health(server)) === 200, 10_000, '/healthz 200');
    await healthy(first);

    const alice = await register(first.port, 'alice');
    const bob = await register(first.port, 'bob');
    const a = keep(await openSession(first.port, alice));
    const b = keep(await openSession(first.port, bob));
    const stored = await sendStored(
      a,
      message(alice.number, bob.number, 'over postgres', { ts: T0 + 1, flag: true }),
    );
    expect(Number(stored.data)).toBeGreaterThan(0);
    const [pushed] = await receive(b, 1, { ackAs: bob.number });
    expect(pushed).toMatchObject({ src: alice.number, data: 'over postgres' });
    // The 08 deleted the row and stored alice's receipt, pushed at once.
    const [receipt] = await receive(a, 1, { ackAs: alice.number });
    expect(receipt).toMatchObject({ src: bob.number, data: `recebida ${T0 + 1}` });

    // Bob goes away; two messages wait for him in PostgreSQL.
    b.destroy();
    for (const text of ['first while away', 'second while away'])
      await sendStored(a, message(alice.number, bob.number, text, { ts: T0 + 2 }));
    a.destroy();
    // They are in PostgreSQL's pending table, not in a file of some other engine.
    const client = new pg.Client(env.engine.url);
    await client.connect();
    try {
      const { rows } = await client.query<{ body: string }>(
        'SELECT body FROM pending WHERE recipient = $1 ORDER BY id',
        [bob.number],
      );
      expect(rows.map((row) => row.body)).toEqual(['first while away', 'second while away']);
    } finally {
      await client.end();
    }
    first.child.kill('SIGTERM');
    await first.exited;

    const second = await serve();
    // The broker thread's lines reach stdout through the main thread, maybe after the listening line.
    await eventually(() => pendingAtStart(second) !== undefined, 3_000, 'the start-up count');
    expect(pendingAtStart(second)).toBe(2);
    await healthy(second);
    const again = keep(await openSession(second.port, bob));
    const delivered = await receive(again, 2, { ackAs: bob.number });
    expect(delivered.map((f) => f.data)).toEqual(['first while away', 'second while away']);
  }, 60_000);
});
