/**
 * LocalRouter (src/server/broker/push-router.ts) on the memory store, with a
 * sink that records what it would push: which number has a live push
 * session where, and what it may be sent now (docs/protocol.md §Sessions,
 * DESIGN.md §Flow control: credit per session, the rest read back from the
 * store in id order).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalRouter, type PushTarget } from '../../../src/server/broker/push-router.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { MessageKind, type PendingMessage } from '../../../src/store/store.js';

const BOB = '1000000000001';
const CAROL = '1000000000002';
const ALICE = '1000000000003';
const BOB_ON = { hostId: 1, sid: 10 };
const CAROL_ON = { hostId: 2, sid: 20 };

describe('LocalRouter', () => {
  let store: MemoryStore;
  let sent: { sid: number; bodies: string[] }[];
  let router: LocalRouter;

  beforeEach(() => {
    store = new MemoryStore();
    sent = [];
    router = new LocalRouter(
      (target: PushTarget, rows: PendingMessage[]) =>
        sent.push({ sid: target.sid, bodies: rows.map((r) => r.body) }),
      3,
    );
  });
  afterEach(() => store.close());
  /** The store's reads as the broker's turn makes them. */
  const reads = {
    pendingFor: async (recipient: string, afterId: number, limit: number) =>
      store.pendingFor(recipient, afterId, limit),
  };

  /** Stores one text row per body for `recipient`, as the broker's INSERT would. */
  function stored(recipient: string, ...bodies: string[]): PendingMessage[] {
    return store.transaction(() =>
      bodies.flatMap((body) =>
        store.insertMessage([
          {
            recipient,
            sender: ALICE,
            group: null,
            ts: 1,
            wantsReceipt: false,
            kind: MessageKind.Text,
            body,
          },
        ]),
      ),
    );
  }

  /** A session that has caught up with an empty backlog. */
  async function live(number: string, target: PushTarget, credit: number): Promise<void> {
    router.attach(number, target, credit);
    await router.catchUp(reads);
  }

  it('pushes committed rows to the live session of their recipient, in one batch per session', async () => {
    await live(BOB, BOB_ON, 10);
    await live(CAROL, CAROL_ON, 10);
    router.committed([...stored(BOB, 'b1', 'b2'), ...stored(CAROL, 'c1')]);
    expect(sent).toEqual([
      { sid: BOB_ON.sid, bodies: ['b1', 'b2'] },
      { sid: CAROL_ON.sid, bodies: ['c1'] },
    ]);
  });

  it('pushes nothing for a number without a live push session', async () => {
    await live(BOB, BOB_ON, 10);
    router.committed(stored(CAROL, 'c1'));
    expect(sent).toEqual([]);
  });

  it('reads the backlog of a new session from the store, oldest first', async () => {
    stored(BOB, 'b1', 'b2');
    router.attach(BOB, BOB_ON, 10);
    expect(router.hasBacklog).toBe(true);
    await router.catchUp(reads);
    expect(sent).toEqual([{ sid: BOB_ON.sid, bodies: ['b1', 'b2'] }]);
    expect(router.hasBacklog).toBe(false);
  });

  it('reads at most its read batch per catch-up, and says there is more', async () => {
    stored(BOB, 'b1', 'b2', 'b3', 'b4', 'b5');
    router.attach(BOB, BOB_ON, 10);
    await router.catchUp(reads);
    expect(router.hasBacklog).toBe(true);
    await router.catchUp(reads);
    expect(sent.flatMap((s) => s.bodies)).toEqual(['b1', 'b2', 'b3', 'b4', 'b5']);
    expect(router.hasBacklog).toBe(false);
  });

  it('sends no more than the credit; rows beyond it wait and follow in id order once credit is granted', async () => {
    await live(BOB, BOB_ON, 2);
    router.committed(stored(BOB, 'b1', 'b2', 'b3'));
    expect(sent.flatMap((s) => s.bodies)).toEqual(['b1', 'b2']);
    // A row committed while behind is not pushed ahead of the older ones.
    router.committed(stored(BOB, 'b4'));
    await router.catchUp(reads);
    expect(sent.flatMap((s) => s.bodies)).toEqual(['b1', 'b2']);

    router.grant(BOB_ON.sid, 2);
    expect(router.hasBacklog).toBe(true);
    await router.catchUp(reads);
    expect(sent.flatMap((s) => s.bodies)).toEqual(['b1', 'b2', 'b3', 'b4']);
  });

  it('pushes nothing to a session whose socket does not drain, and reads what waited once it drains', async () => {
    await live(BOB, BOB_ON, 10);
    router.setWritable(BOB_ON.sid, false);
    router.committed(stored(BOB, 'b1'));
    await router.catchUp(reads);
    expect(sent).toEqual([]);
    expect(router.hasBacklog).toBe(false);

    router.setWritable(BOB_ON.sid, true);
    expect(router.hasBacklog).toBe(true);
    await router.catchUp(reads);
    expect(sent).toEqual([{ sid: BOB_ON.sid, bodies: ['b1'] }]);
  });

  it('replaces the older push session of a number and returns it (for its 409)', async () => {
    const older = { hostId: 1, sid: 11 };
    expect(router.attach(BOB, older, 10)).toBeUndefined();
    expect(router.attach(BOB, BOB_ON, 10)).toEqual(older);
    await router.catchUp(reads);
    router.committed(stored(BOB, 'b1'));
    expect(sent).toEqual([{ sid: BOB_ON.sid, bodies: ['b1'] }]);
    expect(router.size).toBe(1);
  });

  it('forgets a detached session, and every session of a host that went away', async () => {
    await live(BOB, BOB_ON, 10);
    await live(CAROL, CAROL_ON, 10);
    router.detach(BOB_ON.sid);
    expect(router.targets()).toEqual([CAROL_ON]);
    router.detachHost(CAROL_ON.hostId);
    expect(router.targets()).toEqual([]);
    router.committed([...stored(BOB, 'b1'), ...stored(CAROL, 'c1')]);
    expect(sent).toEqual([]);
  });
});
