/**
 * Faults of a cluster (issue #11, item 4) on one PostgreSQL and one Redis:
 * Redis killed and started again (empty: no persistence) while messages are
 * stored, a node killed with SIGKILL (its recipients reconnecting, or not:
 * killed between a COMMIT and its notice), PostgreSQL restarted, and a
 * node's orderly shutdown. Nothing that got a `07` is lost; what was stored
 * while Redis was away reaches its push session once Redis is back (the
 * re-claim and re-read after a gap); what a dead node committed reaches the
 * live sessions elsewhere once it is reaped (the re-read after a reap).
 */
import { Redis } from 'ioredis';
import { expect, it } from 'vitest';
import type { Frame } from '../../../src/protocol/index.js';
import { describeWithEngine } from '../../helpers/engines.js';
import { http, sample } from '../../helpers/http.js';
import { eventually, message, receive, sendStored, T0 } from '../../helpers/v1.js';
import { register } from '../../helpers/wire-client.js';
import { useCluster } from './helpers.js';

const PUSH_TIMEOUT_MS = 15_000;
/** --cluster-ttl-ms of the test of a dead node's notices: a dead node is reaped within 2 s. */
const TTL_MS = 1_500;

describeWithEngine('redis', 'cluster faults', () => {
  describeWithEngine('postgres', 'zapwire serve --db postgres:// --redis redis://', () => {
    const cluster = useCluster();
    const metric = async (port: number, series: string) =>
      sample((await http(port, '/metrics')).text, series);

    it('delivers what was stored while Redis was down once it is back, and keeps serving local sessions meanwhile', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      const alice = await register(a.port);
      const bob = await register(b.port);
      const carol = await register(a.port);
      const bobOnB = await cluster.session(b, bob);
      const carolOnA = await cluster.session(a, carol);
      const aliceOnA = await cluster.session(a, alice);
      await sendStored(aliceOnA, message(alice.number, bob.number, 'before', { ts: T0 + 1 }));
      await receive(bobOnB, 1, { ackAs: bob.number, timeoutMs: PUSH_TIMEOUT_MS });

      await cluster.redis.kill();
      await eventually(
        async () => (await metric(a.httpPort, 'zapwire_redis_up')) === 0,
        PUSH_TIMEOUT_MS,
        'node A seeing Redis down',
      );
      // Stored (07) while Redis is down; a session on the sender's own node is still pushed to.
      for (const text of ['while down 1', 'while down 2'])
        await sendStored(aliceOnA, message(alice.number, bob.number, text, { ts: T0 + 2 }));
      await sendStored(aliceOnA, message(alice.number, carol.number, 'local', { ts: T0 + 3 }));
      const [local] = await receive(carolOnA, 1, {
        ackAs: carol.number,
        timeoutMs: PUSH_TIMEOUT_MS,
      });
      expect(local).toMatchObject({ data: 'local' });

      await cluster.redis.restart();
      const got = await receive(bobOnB, 2, {
        ackAs: bob.number,
        base: 1,
        timeoutMs: PUSH_TIMEOUT_MS,
      });
      expect(got.map((f) => f.data)).toEqual(['while down 1', 'while down 2']);
      // The re-claim may re-read before the resync is counted.
      await eventually(
        async () => (await metric(b.httpPort, 'zapwire_cluster_resyncs_total')) > 0,
        PUSH_TIMEOUT_MS,
        'a resync on node B',
      );
      // Routing works again as before: a new message is pushed across.
      await sendStored(aliceOnA, message(alice.number, bob.number, 'after', { ts: T0 + 4 }));
      const [after] = await receive(bobOnB, 1, {
        ackAs: bob.number,
        base: 3,
        timeoutMs: PUSH_TIMEOUT_MS,
      });
      expect(after).toMatchObject({ data: 'after' });
    }, 90_000);

    it('delivers every 07 of a node killed with SIGKILL once the recipient reconnects to another node', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      const alice = await register(b.port);
      const bob = await register(a.port);
      const bobOnA = await cluster.session(a, bob);
      const aliceOnB = await cluster.session(b, alice);
      const texts = Array.from({ length: 20 }, (_, i) => `m${i}`);
      for (const text of texts)
        await sendStored(aliceOnB, message(alice.number, bob.number, text, { ts: T0 + 10 }));
      // Bob reads a few without acknowledging them, then his node dies.
      await receive(bobOnA, 5, { timeoutMs: PUSH_TIMEOUT_MS });
      a.server.child.kill('SIGKILL');
      await a.server.exited;
      // A's presence for Bob outlives it (until it expires): the new claim on B is higher.
      const bobOnB = await cluster.session(b, bob);
      const got = await receive(bobOnB, texts.length, {
        ackAs: bob.number,
        timeoutMs: PUSH_TIMEOUT_MS,
      });
      expect(got.map((f) => f.data)).toEqual(texts);
    }, 90_000);

    it("delivers every 07 of a node killed between COMMIT and notice to the recipient's live session on another node, without a reconnect", async () => {
      const control = new Redis(cluster.redis.url);
      // The earlier tests' nodes were SIGKILLed: B would reap their heartbeats too.
      await control.del('zapwire:nodes');
      const ttl = ['--cluster-ttl-ms', String(TTL_MS)];
      const [a, b] = await Promise.all([cluster.node('node-a', ttl), cluster.node('node-b', ttl)]);
      const alice = await register(a.port);
      const bob = await register(b.port);
      const bobOnB = await cluster.session(b, bob);
      const aliceOnA = await cluster.session(a, alice);
      const texts = Array.from({ length: 40 }, (_, i) => `m${i}`);
      const TS = T0 + 100;
      /** Pipelined: every 05 written at once, none awaited. */
      const stream = (from: number, to: number) => {
        for (let i = from; i < to; i++)
          aliceOnA.send(message(alice.number, bob.number, texts[i]!, { ts: TS + i }));
      };
      /** The texts that got a 07 (answers come in the order of the 05s; a 07 echoes the ts). */
      const stored: string[] = [];
      const answered = (frame: Frame) => {
        expect(frame.code).toBe('07');
        stored.push(texts[frame.ts - TS]!);
      };

      // The first half is stored and noticed as usual.
      stream(0, 20);
      for (let i = 0; i < 20; i++) answered(await aliceOnA.next(PUSH_TIMEOUT_MS));
      // From now on Redis holds back every PUBLISH (and script) but answers reads: A commits,
      // answers 07, finds Bob's node (MGET), and its notice waits in Redis until A dies and it
      // is dropped with A's connection. So A dies between COMMIT and notice for certain, not by
      // the luck of timing.
      try {
        await control.call('CLIENT', 'PAUSE', '60000', 'WRITE');
        stream(20, 30);
        for (let i = 0; i < 5; i++) answered(await aliceOnA.next(PUSH_TIMEOUT_MS));
        // Killed while the last ten are on their way: some may be stored, some not.
        stream(30, 40);
        a.server.child.kill('SIGKILL');
        await a.server.exited;
        // The 07s already on their way when A died got there too.
        await aliceOnA.waitClosed(PUSH_TIMEOUT_MS);
        for (const frame of aliceOnA.frames.splice(0)) answered(frame);
      } finally {
        await control.call('CLIENT', 'UNPAUSE');
        control.disconnect();
      }

      // Bob's session on B is the one he opened at the start: B reaps A after the TTL and re-reads.
      const got = await receive(bobOnB, stored.length, {
        ackAs: bob.number,
        timeoutMs: PUSH_TIMEOUT_MS,
      });
      // Rows A committed whose 07 it had no time to write reach Bob too.
      await bobOnB.silentFor(1_000);
      const delivered = [...got, ...bobOnB.frames.splice(0)].map((f) => f.data);
      expect(stored).toEqual(texts.slice(0, stored.length));
      expect(delivered.length).toBeGreaterThanOrEqual(stored.length);
      expect(delivered).toEqual(texts.slice(0, delivered.length));
      expect(await metric(b.httpPort, 'zapwire_cluster_nodes_reaped_total')).toBe(1);
      const warned = b.server.lines.map((line) => JSON.parse(line) as { msg?: string });
      expect(warned).toContainEqual(
        expect.objectContaining({ msg: 'cluster: node node-a stopped; re-reading every session' }),
      );
    }, 90_000);

    it('starts while Redis is down, serves, and joins the cluster once Redis is up', async () => {
      await cluster.redis.kill();
      let restarted = false;
      try {
        const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
        const alice = await register(a.port);
        const bob = await register(b.port);
        const bobOnB = await cluster.session(b, bob);
        const aliceOnA = await cluster.session(a, alice);
        await sendStored(aliceOnA, message(alice.number, bob.number, 'stored', { ts: T0 + 30 }));
        expect(await metric(b.httpPort, 'zapwire_redis_up')).toBe(0);
        await cluster.redis.restart();
        restarted = true;
        const [got] = await receive(bobOnB, 1, { ackAs: bob.number, timeoutMs: PUSH_TIMEOUT_MS });
        expect(got).toMatchObject({ data: 'stored' });
        await eventually(
          async () => (await metric(a.httpPort, 'zapwire_redis_up')) === 1,
          PUSH_TIMEOUT_MS,
          'node A seeing Redis up',
        );
      } finally {
        // The next test needs Redis.
        if (!restarted) await cluster.redis.restart();
      }
    }, 90_000);

    it('recovers from a PostgreSQL restart without a restart of the nodes', async () => {
      const [a, b] = await Promise.all([cluster.node('node-a'), cluster.node('node-b')]);
      const alice = await register(a.port);
      const bob = await register(b.port);
      await cluster.postgres.restart();
      // Sessions opened after the restart work across nodes as before, once the store answers.
      await eventually(
        async () => (await http(a.httpPort, '/healthz')).status === 200,
        PUSH_TIMEOUT_MS,
        'node A healthy again',
      );
      await eventually(
        async () => (await http(b.httpPort, '/healthz')).status === 200,
        PUSH_TIMEOUT_MS,
        'node B healthy again',
      );
      const bobOnB = await cluster.session(b, bob);
      const aliceOnA = await cluster.session(a, alice);
      await sendStored(aliceOnA, message(alice.number, bob.number, 'after', { ts: T0 + 40 }));
      const [got] = await receive(bobOnB, 1, { ackAs: bob.number, timeoutMs: PUSH_TIMEOUT_MS });
      expect(got).toMatchObject({ data: 'after' });
    }, 90_000);

    it('deletes its presence keys and leaves zapwire:nodes when it shuts down', async () => {
      const [a] = await Promise.all([cluster.node('node-a')]);
      const bob = await register(a.port);
      await cluster.session(a, bob);
      const redis = new Redis(cluster.redis.url);
      try {
        const key = `zapwire:presence:${bob.number}`;
        await eventually(async () => (await redis.get(key)) !== null, PUSH_TIMEOUT_MS, 'presence');
        expect(await redis.get(key)).toMatch(/^node-a \d+$/);
        expect(await redis.zscore('zapwire:nodes', 'node-a')).not.toBeNull();
        a.server.child.kill('SIGTERM');
        expect(await a.server.exited).toEqual({ code: 0, signal: null });
        expect(await redis.get(key)).toBeNull();
        // Left, not died: no other node is to reap it.
        expect(await redis.zscore('zapwire:nodes', 'node-a')).toBeNull();
      } finally {
        redis.disconnect();
      }
    }, 60_000);
  });
});
