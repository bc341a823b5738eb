import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OpenTransaction, Store } from '../../../src/store/store.js';
import { ALICE, BOB, CAROL, GROUP, message } from './fixtures.js';

/**
 * What only the synchronous stores promise, beside the contract all stores
 * share (store-conformance.ts): `transaction` nests as savepoints, refuses an
 * async body, and a write outside any transaction is a commit of its own.
 * The broker drives SqliteStore this way until it moves onto TurnStore.
 */

export function describeSyncStoreTransactions(
  name: string,
  makeStore: () => Store & OpenTransaction,
): void {
  describe(`${name} (synchronous transactions)`, () => {
    let store: Store & OpenTransaction;

    beforeEach(() => {
      store = makeStore();
    });

    afterEach(() => {
      store.close();
    });

    describe('transactions', () => {
      it('a transaction returns what its body returns', () => {
        expect(store.transaction(() => 42)).toBe(42);
      });

      it('a body that throws leaves nothing of it stored, and the error reaches the caller', () => {
        const failure = new Error('boom');
        let user = '';
        let group = '';
        expect(() =>
          store.transaction(() => {
            user = store.createUser('Alice', null).number;
            group = store.createGroup(user, [BOB]);
            store.insertMessage([message({ recipient: BOB, group })]);
            store.recordGroupMessage(group, 1_700_000_000, user);
            throw failure;
          }),
        ).toThrow(failure);
        expect(store.numberKind(user)).toBeUndefined();
        expect(store.numberKind(group)).toBeUndefined();
        expect(store.groupMembers(group)).toEqual([]);
        expect(store.countPending(BOB)).toBe(0);
        expect(store.groupMessageSender(group, 1_700_000_000)).toBeUndefined();
      });

      it('rows committed before a failed transaction stay: nothing acknowledged is ever lost', () => {
        const [kept] = store.insertMessage([message({ body: 'committed' })]);
        expect(() =>
          store.transaction(() => {
            store.insertMessage([message({ body: 'rolled back' })]);
            throw new Error('boom');
          }),
        ).toThrow('boom');
        expect(store.pendingFor(BOB, 0, 10)).toEqual([kept]);
      });

      it('a delete inside a failed transaction is undone, so the row is delivered again', () => {
        const [row] = store.insertMessage([message()]);
        expect(() =>
          store.transaction(() => {
            expect(store.deletePending(BOB, [row!.id])).toEqual([row]);
            throw new Error('boom');
          }),
        ).toThrow('boom');
        expect(store.pendingFor(BOB, 0, 10)).toEqual([row]);
      });

      it('everything a transaction does is visible after it commits', () => {
        const rows = store.transaction(() => [
          ...store.insertMessage([message({ body: 'one' })]),
          ...store.insertMessage([message({ body: 'two' })]),
        ]);
        expect(store.pendingFor(BOB, 0, 10)).toEqual(rows);
      });

      it('a nested transaction that throws undoes only itself when the outer one catches', () => {
        store.transaction(() => {
          store.insertMessage([message({ body: 'outer' })]);
          expect(() =>
            store.transaction(() => {
              store.insertMessage([message({ body: 'inner' })]);
              throw new Error('inner failure');
            }),
          ).toThrow('inner failure');
        });
        expect(store.pendingFor(BOB, 0, 10).map((row) => row.body)).toEqual(['outer']);
      });

      it('a nested transaction that succeeds commits with the outer one, or not at all', () => {
        expect(() =>
          store.transaction(() => {
            store.transaction(() => store.insertMessage([message({ body: 'inner' })]));
            throw new Error('outer failure');
          }),
        ).toThrow('outer failure');
        expect(store.countPending(BOB)).toBe(0);
      });

      it('a body returning a promise is refused and stores nothing', () => {
        expect(() =>
          store.transaction(() => {
            store.insertMessage([message()]);
            return Promise.resolve();
          }),
        ).toThrow(TypeError);
        expect(store.countPending(BOB)).toBe(0);
      });

      it('a committed transaction counts one commit, however much it did', () => {
        const before = store.counters().commits;
        store.transaction(() => {
          store.createUser('Alice', null);
          store.insertMessage([message(), message({ recipient: CAROL })]);
          store.transaction(() => store.recordGroupMessage(GROUP, 1, ALICE));
          store.deletePending(BOB, [1]);
        });
        expect(store.counters().commits).toBe(before + 1);
      });

      it('a failed transaction counts no commit', () => {
        const before = store.counters().commits;
        expect(() =>
          store.transaction(() => {
            store.insertMessage([message()]);
            throw new Error('boom');
          }),
        ).toThrow('boom');
        expect(store.counters().commits).toBe(before);
      });

      it('a write outside any transaction is a commit of its own', () => {
        const before = store.counters().commits;
        store.insertMessage([message()]);
        store.recordGroupMessage(GROUP, 1, ALICE);
        expect(store.counters().commits).toBe(before + 2);
      });
    });

    describe('an open transaction (begin, commit, rollback)', () => {
      it('commit keeps what was written since begin, and counts one commit', () => {
        const before = store.counters().commits;
        store.begin();
        store.insertMessage([message()]);
        store.transaction(() => store.insertMessage([message()]));
        store.commit();
        expect(store.countPending(BOB)).toBe(2);
        expect(store.counters().commits).toBe(before + 1);
      });

      it('rollback undoes everything since begin, savepoints included', () => {
        const [kept] = store.insertMessage([message()]);
        store.begin();
        store.transaction(() => store.insertMessage([message()]));
        store.deletePending(BOB, [kept!.id]);
        store.rollback();
        expect(store.pendingFor(BOB, 0, 10)).toEqual([kept]);
      });

      it('a second begin while one is open is refused', () => {
        store.begin();
        expect(() => store.begin()).toThrow(TypeError);
        store.rollback();
      });
    });

    describe('close', () => {
      it('close can be called more than once', () => {
        store.close();
        expect(() => store.close()).not.toThrow();
      });

      it('a closed store refuses to work', () => {
        store.close();
        expect(() => store.countPending(BOB)).toThrow();
        expect(() => store.insertMessage([message()])).toThrow();
      });
    });
  });
}
