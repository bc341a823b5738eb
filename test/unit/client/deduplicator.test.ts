import { describe, expect, it } from 'vitest';
import { Deduplicator, LruMap, messageKey, type SeenStore } from '../../../src/client/deduplicator.js';

const base = { src: '1111111111111', dst: '2222222222222', ts: 1_700_000_000, flag: true, data: 'olá' };

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
    expect(messageKey({ ...base, ts: 1, data: '23' })).not.toBe(messageKey({ ...base, ts: 12, data: '3' }));
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

describe('Deduplicator', () => {
  it('admits a key once, and recognises it when it comes again on a later connection', () => {
    const d = new Deduplicator(10);
    expect(d.admit('k', 1)).toBe(true);
    expect(d.admit('k', 2)).toBe(false);
    // Once recognised on connection 2, a second copy on connection 2 is a new message.
    expect(d.admit('k', 2)).toBe(true);
  });

  it('admits an identical message twice on the same connection (two "ok" in one second)', () => {
    const d = new Deduplicator(10);
    expect(d.admit('ok', 1)).toBe(true);
    expect(d.admit('ok', 1)).toBe(true);
    expect(d.admit('ok', 2)).toBe(false);
  });

  it('forgets beyond its capacity', () => {
    const d = new Deduplicator(2);
    d.admit('a', 1);
    d.admit('b', 1);
    d.admit('c', 1);
    expect(d.admit('a', 2)).toBe(true);
    expect(d.admit('c', 2)).toBe(false);
  });

  it('consults and fills a persistent store, so a new process recognises what an old one handled', () => {
    const keys = new Set<string>();
    const store: SeenStore = { has: (k) => keys.has(k), add: (k) => void keys.add(k) };
    const before = new Deduplicator(10, store);
    expect(before.admit('m1', 1)).toBe(true);
    expect([...keys]).toEqual(['m1']);

    const after = new Deduplicator(10, store);
    expect(after.admit('m1', 1)).toBe(false);
    expect(after.admit('m2', 1)).toBe(true);
    expect([...keys]).toEqual(['m1', 'm2']);
  });
});
