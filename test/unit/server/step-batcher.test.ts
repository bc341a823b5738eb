/**
 * StepBatcher: how the requests of a gathered turn (the broker on
 * PostgreSQL) share steps. A step runs once every unfinished task waits; its
 * calls go reads first, then the 08 deletes (merged into one call), then the
 * writes, then the reads that must see them; a step that fails fails every
 * later call of the turn.
 */
import { describe, expect, it } from 'vitest';
import { StepBatcher } from '../../../src/server/broker/step-batcher.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { MessageKind, type NewMessage } from '../../../src/store/store.js';
import { SyncTurnStore } from '../../../src/store/sync-turn-store.js';
import type { StoreCall, Turn } from '../../../src/store/turn-store.js';

function text(sender: string, recipient: string, body: string): NewMessage {
  return {
    sender,
    recipient,
    group: null,
    ts: 1_700_000_000,
    wantsReceipt: false,
    kind: MessageKind.Text,
    body,
  };
}

/** Runs `body` in one gathered turn over a MemoryStore, recording each step's calls by name. */
async function gatheredTurn<T>(
  store: MemoryStore,
  body: (batcher: StepBatcher) => Promise<T>,
  failAt?: string,
): Promise<{ steps: string[][]; result: T }> {
  const steps: string[][] = [];
  const result = await new SyncTurnStore(store).turn((inner) => {
    const turn: Turn = {
      step: (calls) => {
        steps.push(calls.map((c: StoreCall) => c.op));
        const done = inner.step(calls);
        // As when the connection breaks after the statement ran: the turn must roll it back.
        if (failAt !== undefined && calls.some((c: StoreCall) => c.op === failAt))
          return done.then(() => Promise.reject(new Error(`step with ${failAt} failed`)));
        return done;
      },
    };
    return body(new StepBatcher(turn));
  });
  return { steps, result };
}

describe('StepBatcher (a gathered turn)', () => {
  it("puts the calls of every request into one step when none waits on another's result", async () => {
    const store = new MemoryStore();
    const users = ['alice', 'bob', 'carol', 'dave'].map((n) => store.createUser(n, null).number);
    const { steps } = await gatheredTurn(store, (batcher) =>
      Promise.all(
        users.map((from, i) =>
          batcher.task(() =>
            batcher.calls().insertMessage([text(from, users[(i + 1) % 4]!, `m${i}`)]),
          ),
        ),
      ),
    );
    expect(steps).toEqual([['insertMessage', 'insertMessage', 'insertMessage', 'insertMessage']]);
    expect(store.countAllPending()).toBe(4);
  });

  it('orders a step reads, then deletes, then writes, then the reads that must see them', async () => {
    const store = new MemoryStore();
    const alice = store.createUser('alice', null).number;
    const bob = store.createUser('bob', null).number;
    const [old] = store.insertMessage([text(alice, bob, 'old')]);
    const { steps, result } = await gatheredTurn(store, async (batcher) => {
      const calls = batcher.calls();
      // Made in the opposite order of their ranks.
      const [read, , deleted, kind] = await Promise.all([
        batcher.task(() => calls.pendingFor(bob, 0, 10)),
        batcher.task(() => calls.insertMessage([text(alice, bob, 'new')])),
        batcher.task(() => calls.deleteAcknowledged([{ recipient: bob, ids: [old!.id] }])),
        batcher.task(() => calls.numberKind(bob)),
      ]);
      return { read, deleted, kind };
    });
    expect(steps).toEqual([['numberKind', 'deleteAcknowledged', 'insertMessage', 'pendingFor']]);
    expect(result.kind).toBe('user');
    expect(result.deleted.map((r) => r.body)).toEqual(['old']);
    // The read after the writes sees the new row and not the deleted one.
    expect(result.read.map((r) => r.body)).toEqual(['new']);
  });

  it('takes a step per dependency: a write that needs a read result goes in the next step', async () => {
    const store = new MemoryStore();
    const alice = store.createUser('alice', null).number;
    const bob = store.createUser('bob', null).number;
    const { steps } = await gatheredTurn(store, (batcher) =>
      Promise.all(
        [1, 2, 3].map((i) =>
          batcher.task(async () => {
            const calls = batcher.calls();
            if ((await calls.numberKind(bob)) === 'user')
              await calls.insertMessage([text(alice, bob, `m${i}`)]);
          }),
        ),
      ),
    );
    expect(steps).toEqual([
      ['numberKind', 'numberKind', 'numberKind'],
      ['insertMessage', 'insertMessage', 'insertMessage'],
    ]);
  });

  it('merges the 08 deletes into one call and gives each row to the first call that named it', async () => {
    const store = new MemoryStore();
    const alice = store.createUser('alice', null).number;
    const bob = store.createUser('bob', null).number;
    const carol = store.createUser('carol', null).number;
    const [b1, b2] = [
      store.insertMessage([text(alice, bob, 'b1')])[0]!,
      store.insertMessage([text(alice, bob, 'b2')])[0]!,
    ];
    const c1 = store.insertMessage([text(alice, carol, 'c1')])[0]!;
    const { steps, result } = await gatheredTurn(store, (batcher) => {
      const calls = batcher.calls();
      const ack = (recipient: string, ids: number[]) =>
        batcher.task(() => calls.deleteAcknowledged([{ recipient, ids }]));
      // Bob's 08 repeated (b1 named twice), and Carol's.
      return Promise.all([ack(bob, [b1.id, b2.id]), ack(bob, [b1.id]), ack(carol, [c1.id])]);
    });
    expect(steps).toEqual([['deleteAcknowledged']]);
    expect(result.map((rows) => rows.map((r) => r.body))).toEqual([['b1', 'b2'], [], ['c1']]);
    expect(store.countAllPending()).toBe(0);
  });

  it('fails every later call of the turn once a step has failed, and the turn with it', async () => {
    const store = new MemoryStore();
    const alice = store.createUser('alice', null).number;
    const bob = store.createUser('bob', null).number;
    let later: unknown;
    const outcome = gatheredTurn(
      store,
      async (batcher) => {
        const calls = batcher.calls();
        await batcher
          .task(() => calls.insertMessage([text(alice, bob, 'lost')]))
          .catch(() => undefined);
        later = await batcher.task(() => calls.numberKind(bob)).catch((err: Error) => err.message);
        batcher.rethrow();
      },
      'insertMessage',
    );
    await expect(outcome).rejects.toThrow('step with insertMessage failed');
    expect(later).toBe('step with insertMessage failed');
    // The row the failed step had written was rolled back with the turn.
    expect(store.countAllPending()).toBe(0);
  });
});
