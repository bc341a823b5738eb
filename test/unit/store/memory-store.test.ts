import { describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../src/store/memory-store.js';
import { MessageKind } from '../../../src/store/store.js';
import { SyncTurnStore } from '../../../src/store/sync-turn-store.js';
import { describeStoreConformance } from './store-conformance.js';
import { describeSyncStoreTransactions } from './sync-store-transactions.js';

describeStoreConformance('MemoryStore', () => new SyncTurnStore(new MemoryStore()));
describeSyncStoreTransactions('MemoryStore', () => new MemoryStore());

describe('MemoryStore', () => {
  it('runs no SQL, so counters.statements stays 0 while commits are counted', () => {
    const store = new MemoryStore();
    store.transaction(() => {
      store.createUser('Alice', null);
      store.insertMessage([
        {
          recipient: '1000000000002',
          sender: '1000000000001',
          group: null,
          ts: 1_700_000_000,
          wantsReceipt: false,
          kind: MessageKind.Text,
          body: 'oi',
        },
      ]);
    });
    expect(store.counters()).toEqual({ statements: 0, commits: 1 });
  });
});
