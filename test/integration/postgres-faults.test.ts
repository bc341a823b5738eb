/**
 * PostgreSQL restarting under a running node (issue #11, Faults): while the
 * database is away every request that needs it is answered `09 503` and
 * /healthz says 503; when it is back the same node serves again, without a
 * restart of its own, and nothing that got a `07` is lost. The node's pool
 * throws broken connections away and connects again (DESIGN.md §The store
 * contract, Faults).
 */
import { expect, it } from 'vitest';
import { describeWithEngine } from '../helpers/engines.js';
import { eventually, expectError, message, receive, sendStored, T0 } from '../helpers/v1.js';
import { openSession, register, type WireClient } from '../helpers/wire-client.js';
import { usePostgresNode } from './postgres-node.js';

describeWithEngine('postgres', 'a node when PostgreSQL restarts', () => {
  const env = usePostgresNode();
  const { serve, keep, health } = env;

  it('answers 503 while PostgreSQL is down and serves again once it is back, keeping what was stored', async () => {
    const server = await serve();
    const alice = await register(server.port, 'alice');
    const bob = await register(server.port, 'bob');
    const a = keep(await openSession(server.port, alice, false));
    await sendStored(a, message(alice.number, bob.number, 'before', { ts: T0 + 1 }));

    await env.engine.kill();
    a.send(message(alice.number, bob.number, 'while down', { ts: T0 + 2 }));
    expectError(await a.next(10_000), 503, { src: alice.number, dst: bob.number, ts: T0 + 2 });
    await eventually(async () => (await health(server)) === 503, 10_000, '/healthz 503');

    await env.engine.restart();
    // The same process: it reconnects by itself.
    expect(server.child.exitCode).toBeNull();
    let sender: WireClient | undefined;
    await eventually(
      async () => {
        try {
          const c = keep(await openSession(server.port, alice, false));
          await sendStored(c, message(alice.number, bob.number, 'after', { ts: T0 + 3 }));
          sender = c;
          return true;
        } catch {
          return false;
        }
      },
      20_000,
      'a 07 after the restart',
    );
    expect(sender).toBeDefined();
    await eventually(async () => (await health(server)) === 200, 10_000, '/healthz 200 again');

    // Bob gets what was stored before and after; the 503'd message was never stored.
    const b = keep(await openSession(server.port, bob));
    const delivered = await receive(b, 2, { ackAs: bob.number });
    expect(delivered.map((f) => f.data)).toEqual(['before', 'after']);
    expect(await b.silentFor(300)).toBe(true);
  }, 90_000);
});
