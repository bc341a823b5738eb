/**
 * Two nodes on one PostgreSQL and one Redis (issue #11, items 3 and 5): a
 * client may connect to either node and every version 1 rule holds across
 * them: pushes, takeover (09 409), receipts, HTTP and legacy listeners, and
 * order per recipient with senders on both nodes. Latency is never asserted:
 * `eventually` and `receive` wait generously.
 */
import pg from 'pg';
import { expect, it } from 'vitest';
import { describeWithEngine } from '../../helpers/engines.js';
import { http, sample } from '../../helpers/http.js';
import { eventually, message, receive, sendStored, T0 } from '../../helpers/v1.js';
import { register } from '../../helpers/wire-client.js';
import { legacyPoll, useCluster } from './helpers.js';

/** Generous: a first notice may wait for presence, a claim, a catch-up turn. */
const PUSH_TIMEOUT_MS = 10_000;

describeWithEngine('redis', 'two nodes on PostgreSQL and Redis', () => {
  describeWithEngine('postgres', 'zapwire serve --db postgres:// --redis redis://', () => {
    const cluster = useCluster();

    it('pushes a message sent on node A to the push session on node B', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      expect(a.server.listening.node).toBe('node-a');
      const alice = await register(a.port);
      const bob = await register(b.port);
      const bobOnB = await cluster.session(b, bob);
      const aliceOnA = await cluster.session(a, alice);
      await sendStored(aliceOnA, message(alice.number, bob.number, 'across nodes', { ts: T0 + 1 }));
      const [pushed] = await receive(bobOnB, 1, { ackAs: bob.number, timeoutMs: PUSH_TIMEOUT_MS });
      expect(pushed).toMatchObject({ src: alice.number, dst: bob.number, data: 'across nodes' });
      // A published a notice to B, which received it.
      const metrics = async (port: number) => (await http(port, '/metrics')).text;
      await eventually(
        async () => sample(await metrics(b.httpPort), 'zapwire_cluster_notices_received_total') > 0,
        PUSH_TIMEOUT_MS,
        'a notice received by B',
      );
      const aMetrics = await metrics(a.httpPort);
      expect(sample(aMetrics, 'zapwire_cluster_notices_published_total')).toBeGreaterThan(0);
      expect(sample(aMetrics, 'zapwire_node_info{node="node-a"}')).toBe(1);
      expect(sample(aMetrics, 'zapwire_redis_up')).toBe(1);
    }, 60_000);

    it('counts on each node the pending rows the table holds, though each deletes rows the other stored', async () => {
      // A short TTL: the gauge is counted again every third of it.
      const flags = ['--cluster-ttl-ms', '1500'];
      const [a, b] = await Promise.all([
        cluster.node('node-a', flags),
        cluster.node('node-b', flags),
      ]);
      const alice = await register(a.port);
      const bob = await register(b.port);
      const bobOnB = await cluster.session(b, bob);
      const aliceOnA = await cluster.session(a, alice);
      for (const text of ['one', 'two', 'three'])
        await sendStored(aliceOnA, message(alice.number, bob.number, text, { ts: T0 + 5 }));
      // Stored by A, deleted by B's 08s.
      await receive(bobOnB, 3, { ackAs: bob.number, timeoutMs: PUSH_TIMEOUT_MS });
      const client = new pg.Client(cluster.postgres.url);
      await client.connect();
      try {
        const table = async () =>
          Number(
            (await client.query<{ n: string }>('SELECT count(*) AS n FROM pending')).rows[0]!.n,
          );
        const gauge = async (port: number) =>
          sample((await http(port, '/metrics')).text, 'zapwire_pending_rows');
        for (const node of [a, b])
          await eventually(
            async () => (await gauge(node.httpPort)) === (await table()),
            PUSH_TIMEOUT_MS,
            `${node.id}'s zapwire_pending_rows equal to the table's rows`,
          );
      } finally {
        await client.end();
      }
    }, 60_000);

    it('ends the older push session on node A with 09 409 when the number opens one on node B', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      const bob = await register(a.port);
      const older = await cluster.session(a, bob);
      const newer = await cluster.session(b, bob);
      const kicked = await older.next(PUSH_TIMEOUT_MS);
      expect(kicked).toMatchObject({ code: '09', data: expect.stringMatching(/^409/) });
      // Messages now go to the newer session, on B, whichever node stores them.
      const alice = await register(a.port);
      const aliceOnA = await cluster.session(a, alice);
      await sendStored(aliceOnA, message(alice.number, bob.number, 'to the newer', { ts: T0 + 2 }));
      const [pushed] = await receive(newer, 1, { ackAs: bob.number, timeoutMs: PUSH_TIMEOUT_MS });
      expect(pushed).toMatchObject({ data: 'to the newer' });
    }, 60_000);

    it('sends the recebida receipt and a lida across nodes', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      const alice = await register(a.port);
      const bob = await register(b.port);
      const aliceOnA = await cluster.session(a, alice);
      const bobOnB = await cluster.session(b, bob);
      await sendStored(
        aliceOnA,
        message(alice.number, bob.number, 'read me', { ts: T0 + 10, flag: true }),
      );
      // Bob's 08 on B deletes the row and stores the receipt for Alice, who is on A.
      await receive(bobOnB, 1, { ackAs: bob.number, timeoutMs: PUSH_TIMEOUT_MS });
      const [receipt] = await receive(aliceOnA, 1, {
        ackAs: alice.number,
        timeoutMs: PUSH_TIMEOUT_MS,
      });
      expect(receipt).toMatchObject({ src: bob.number, data: `recebida ${T0 + 10}` });
      await sendStored(
        bobOnB,
        message(bob.number, alice.number, `lida ${T0 + 10}`, { ts: T0 + 11 }),
      );
      const [read] = await receive(aliceOnA, 1, {
        ackAs: alice.number,
        base: 1,
        timeoutMs: PUSH_TIMEOUT_MS,
      });
      expect(read).toMatchObject({ src: bob.number, data: `lida ${T0 + 10}` });
    }, 60_000);

    it('pushes an HTTP send on node A to the push session on node B', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      const alice = await register(a.port);
      const bob = await register(b.port);
      const bobOnB = await cluster.session(b, bob);
      const sent = await http(a.httpPort, '/v1/messages', {
        auth: alice,
        body: { to: bob.number, text: 'over HTTP on A' },
      });
      expect(sent.status, sent.text).toBe(201);
      const [pushed] = await receive(bobOnB, 1, { ackAs: bob.number, timeoutMs: PUSH_TIMEOUT_MS });
      expect(pushed).toMatchObject({ src: alice.number, data: 'over HTTP on A' });
    }, 60_000);

    it('answers a legacy poll on node B with a message sent on node A', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      const alice = await register(a.port);
      const carol = await register(a.port);
      const aliceOnA = await cluster.session(a, alice);
      await sendStored(aliceOnA, message(alice.number, carol.number, 'poll me', { ts: T0 + 20 }));
      const polled = await legacyPoll(b.legacyPort, carol.number);
      expect(polled).toContain(`06${alice.number}${carol.number}`);
      expect(polled.endsWith('poll me')).toBe(true);
    }, 60_000);

    it('keeps the order per recipient with senders on both nodes', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      const bob = await register(b.port);
      const alice = await register(a.port);
      const carol = await register(b.port);
      const bobOnB = await cluster.session(b, bob);
      const aliceOnA = await cluster.session(a, alice, false);
      const carolOnB = await cluster.session(b, carol, false);
      const count = 40;
      const ids = new Map<string, number>();
      // Each sender waits for its 07 before the next: its own messages have an order to keep.
      const sendAll = async (who: typeof alice, c: typeof aliceOnA, name: string) => {
        for (let i = 0; i < count; i++) {
          const stored = await sendStored(
            c,
            message(who.number, bob.number, `${name} ${i}`, { ts: T0 + 100 + i }),
          );
          ids.set(`${name} ${i}`, Number(stored.data));
        }
      };
      await Promise.all([sendAll(alice, aliceOnA, 'alice'), sendAll(carol, carolOnB, 'carol')]);
      const got = await receive(bobOnB, 2 * count, {
        ackAs: bob.number,
        timeoutMs: PUSH_TIMEOUT_MS,
      });
      const texts = got.map((frame) => frame.data);
      // Every message once, in the order of the ids the 07s gave (commit order), so each sender's in its order.
      expect([...texts].sort()).toEqual([...ids.keys()].sort());
      const byId = [...ids.entries()].sort((x, y) => x[1] - y[1]).map(([text]) => text);
      expect(texts).toEqual(byId);
      for (const name of ['alice', 'carol'])
        expect(texts.filter((t) => t.startsWith(name))).toEqual(
          Array.from({ length: count }, (_, i) => `${name} ${i}`),
        );
    }, 90_000);
  });
});
