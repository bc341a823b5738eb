/**
 * Three nodes on one PostgreSQL and one Redis (issue #11, item 5): a group
 * whose members sit on three different nodes. The creation notice and every
 * message reach each member's push session on its own node; a member's
 * message reaches the others, not its sender.
 */
import { expect, it } from 'vitest';
import { describeWithEngine } from '../../helpers/engines.js';
import { message, receive, sendStored, T0 } from '../../helpers/v1.js';
import { register } from '../../helpers/wire-client.js';
import { useCluster } from './helpers.js';

const PUSH_TIMEOUT_MS = 10_000;

describeWithEngine('redis', 'three nodes on PostgreSQL and Redis', () => {
  describeWithEngine('postgres', 'zapwire serve --db postgres:// --redis redis://', () => {
    const cluster = useCluster();

    it('delivers to a group whose members are on three nodes', async () => {
      const [a, b, c] = await Promise.all(
        ['node-a', 'node-b', 'node-c'].map((id) => cluster.node(id)),
      );
      const alice = await register(a!.port);
      const bob = await register(b!.port);
      const carol = await register(c!.port);
      const onA = await cluster.session(a!, alice);
      const onB = await cluster.session(b!, bob);
      const onC = await cluster.session(c!, carol);

      onA.send({ code: '10', src: alice.number, ts: T0, data: bob.number + carol.number });
      const created = await onA.next();
      expect(created.code).toBe('11');
      const group = created.dst;
      const wait = { timeoutMs: PUSH_TIMEOUT_MS };
      for (const [session, who] of [
        [onB, bob],
        [onC, carol],
      ] as const) {
        const [notice] = await receive(session, 1, { ...wait, ackAs: who.number });
        expect(notice).toMatchObject({ src: alice.number, dst: group, data: 'grupo criado' });
      }

      await sendStored(onA, message(alice.number, group, 'from A to all', { ts: T0 + 1 }));
      for (const [session, who] of [
        [onB, bob],
        [onC, carol],
      ] as const) {
        const [pushed] = await receive(session, 1, { ...wait, ackAs: who.number, base: 1 });
        expect(pushed).toMatchObject({ src: alice.number, dst: group, data: 'from A to all' });
      }
      await sendStored(onC, message(carol.number, group, 'from C to all', { ts: T0 + 2 }));
      for (const [session, who, base] of [
        [onA, alice, 0],
        [onB, bob, 2],
      ] as const) {
        const [pushed] = await receive(session, 1, { ...wait, ackAs: who.number, base });
        expect(pushed).toMatchObject({ src: carol.number, dst: group, data: 'from C to all' });
      }
      // Carol got nothing of her own.
      await expect(onC.next(500)).rejects.toThrow();
    }, 90_000);
  });
});
