import { describe, expect, it } from 'vitest';
import {
  Deduplicator,
  LruMap,
  messageKey,
  type SeenStore,
} from '../../../src/client/deduplicator.js';

const base = {
  src: '1111111111111',
  dst: '2222222222222',
  ts: 1_700_000_000,
  flag: true,
  data: 'olá',
};

describe('messageKey', () => {
  it('is the same for the same frame and differs when any field differs', () => {
    const key = messageKey(base);
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(messageKey({ ...base })).toBe(key);
    const variants = [
      { ...base, src: '3333333333333' },
      { ...base, dst: '3333333333333' },
      { ...base, ts: base.ts + 1 },
      { ...base, flag: false },
      { ...base, data: 'ola' },
      { ...base, data: 'olá ' },
    ];
    const keys = new Set([key, ...variants.map(messageKey)]);
    expect(keys.size).toBe(variants.length + 1);
  });

  it('does not confuse fields that run into each other', () => {
    expect(messageKey({ ...base, ts: 1, data: '23' })).not.toBe(
      messageKey({ ...base, ts: 12, data: '3' }),
    );
  });
});

describe('LruMap', () => {
  it('evicts the least recently used key beyond its capacity', () => {
    const lru = new LruMap<number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect(lru.get('a')).toBe(1); // a is now the most recent
    lru.set('d', 4);
    expect(lru.has('b')).toBe(false);
    expect([lru.has('a'), lru.has('c'), lru.has('d')]).toEqual([true, true, true]);
    expect(lru.size).toBe(3);
  });

  it('stays bounded under many keys', () => {
    const lru = new LruMap<number>(100);
    for (let i = 0; i < 10_000; i++) lru.set(`k${i}`, i);
    expect(lru.size).toBe(100);
    expect(lru.has('k9999')).toBe(true);
    expect(lru.has('k9899')).toBe(false);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new LruMap(0)).toThrow(RangeError);
  });
});

/** A frame read and, when new, taken by the application (its listeners returned): true if it is emitted. */
function admit(d: Deduplicator, key: string, generation: number): boolean {
  if (d.redelivered(key, generation)) return false;
  d.taken(key, generation);
  return true;
}

describe('Deduplicator', () => {
  it('admits a key once, and recognises it when it comes again on a later connection', () => {
    const d = new Deduplicator(10);
    expect(admit(d, 'k', 1)).toBe(true);
    expect(admit(d, 'k', 2)).toBe(false);
    // Once recognised on connection 2, a second copy on connection 2 is a new message.
    expect(admit(d, 'k', 2)).toBe(true);
  });

  it('admits an identical message twice on the same connection (two "ok" in one second)', () => {
    const d = new Deduplicator(10);
    expect(admit(d, 'ok', 1)).toBe(true);
    expect(admit(d, 'ok', 1)).toBe(true);
    expect(admit(d, 'ok', 2)).toBe(false);
  });

  it('does not remember a frame the application did not take, so its redelivery is emitted', () => {
    const keys = new Set<string>();
    const d = new Deduplicator(10, { has: (k) => keys.has(k), add: (k) => void keys.add(k) });
    expect(d.redelivered('failed', 1)).toBe(false); // read, emitted, a listener threw: not taken
    expect(keys.size).toBe(0);
    expect(d.redelivered('failed', 2)).toBe(false); // comes again in the next session: new
    d.taken('failed', 2);
    expect(d.redelivered('failed', 3)).toBe(true);
    expect([...keys]).toEqual(['failed']);
  });

  it('forgets beyond its capacity', () => {
    const d = new Deduplicator(2);
    admit(d, 'a', 1);
    admit(d, 'b', 1);
    admit(d, 'c', 1);
    expect(admit(d, 'a', 2)).toBe(true);
    expect(admit(d, 'c', 2)).toBe(false);
  });

  it('consults and fills a persistent store, so a new process recognises what an old one handled', () => {
    const keys = new Set<string>();
    const store: SeenStore = { has: (k) => keys.has(k), add: (k) => void keys.add(k) };
    const before = new Deduplicator(10, store);
    expect(admit(before, 'm1', 1)).toBe(true);
    expect([...keys]).toEqual(['m1']);

    const after = new Deduplicator(10, store);
    expect(admit(after, 'm1', 1)).toBe(false);
    // Recognised through the store on connection 1: a second copy on connection 1 is a new message.
    expect(admit(after, 'm1', 1)).toBe(true);
    expect(admit(after, 'm2', 1)).toBe(true);
    expect([...keys]).toEqual(['m1', 'm2']);
  });
});
