/**
 * RedisLink's liveness scripts (src/server/cluster/redis-link.ts) on a real
 * Redis: the heartbeat scores a node with Redis's clock, a reap removes and
 * returns the other nodes older than the TTL in one step (of two nodes
 * reaping at once, one gets each), and leaving removes the node's member.
 * The unit tests' fake Redis (test/unit/cluster/fake-redis.ts) mirrors these.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { NODES_KEY } from '../../../src/server/cluster/cluster-protocol.js';
import { RedisLink } from '../../../src/server/cluster/redis-link.js';
import { describeWithEngine, type Engine, startRedis } from '../../helpers/engines.js';

const TTL_MS = 1_000;

describeWithEngine('redis', 'RedisLink liveness on a real Redis', () => {
  let redis: Engine;
  let control: Redis;
  const links: RedisLink[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    control = new Redis(redis.url);
  }, 60_000);
  beforeEach(() => control.del(NODES_KEY));
  afterEach(async () => {
    await Promise.all(links.splice(0).map((link) => link.close()));
  });
  afterAll(async () => {
    control.disconnect();
    await redis.stop();
  });

  const link = async (nodeId: string) => {
    const started = new RedisLink(redis.url, nodeId, TTL_MS);
    links.push(started);
    expect(await started.start(5_000)).toBe(true);
    return started;
  };
  /** Redis's clock, in ms. */
  const redisNow = async () => {
    const [seconds, micros] = await control.time();
    return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
  };

  it("scores a heartbeat with Redis's clock", async () => {
    const a = await link('node-a');
    const before = await redisNow();
    await a.heartbeat();
    const score = Number(await control.zscore(NODES_KEY, 'node-a'));
    expect(score).toBeGreaterThanOrEqual(before);
    expect(score).toBeLessThanOrEqual(await redisNow());
  });

  it('reaps a node older than the TTL once when two nodes reap at once, and not the live ones', async () => {
    const [b, c, x] = await Promise.all([link('node-b'), link('node-c'), link('node-x')]);
    await Promise.all([b.heartbeat(), c.heartbeat(), x.heartbeat()]);
    expect(await Promise.all([b.reap(), c.reap()])).toEqual([[], []]);
    await sleep(TTL_MS + 200);
    // B and C beat on; X has stopped.
    await Promise.all([b.heartbeat(), c.heartbeat()]);
    const reaped = await Promise.all([b.reap(), c.reap()]);
    expect(reaped.flat()).toEqual(['node-x']);
    expect((await control.zrange(NODES_KEY, '0', '-1')).sort()).toEqual(['node-b', 'node-c']);
  });

  it('never reaps itself, however old its own heartbeat', async () => {
    const a = await link('node-a');
    await a.heartbeat();
    await sleep(TTL_MS + 200);
    expect(await a.reap()).toEqual([]);
    expect(await control.zscore(NODES_KEY, 'node-a')).not.toBeNull();
  });

  it('leaves the set on leave(), so that no node reaps it', async () => {
    const a = await link('node-a');
    await a.heartbeat();
    await a.leave();
    expect(await control.zscore(NODES_KEY, 'node-a')).toBeNull();
  });
});
