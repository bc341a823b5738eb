import { describe, expect, it } from 'vitest';
import { addressKey, KeyedLimiter } from '../../../src/server/broker/keyed-limiter.js';
import { PendingQuota } from '../../../src/server/broker/pending-quota.js';
import { MessageKind, type PendingMessage } from '../../../src/store/store.js';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('KeyedLimiter', () => {
  it('allows a burst, then the rate, per key', () => {
    const c = clock();
    const limiter = new KeyedLimiter(10, 20, c.now);
    for (let i = 0; i < 20; i++) {
      expect(limiter.allows('a')).toBe(true);
      limiter.charge('a');
    }
    expect(limiter.allows('a')).toBe(false);
    expect(limiter.allows('b')).toBe(true);
    c.advance(100); // one token at 10/s
    expect(limiter.allows('a')).toBe(true);
    expect(limiter.allows('a', 2)).toBe(false);
  });

  it('checks a cost as a whole: never more than the burst', () => {
    const limiter = new KeyedLimiter(1, 2, clock().now);
    expect(limiter.allows('a', 2)).toBe(true);
    expect(limiter.allows('a', 3)).toBe(false);
  });

  it('allows everything and keeps nothing when the rate is 0', () => {
    const limiter = new KeyedLimiter(0, 0, clock().now);
    limiter.charge('a', 1_000);
    expect(limiter.allows('a', 1_000_000)).toBe(true);
    expect(limiter.size).toBe(0);
  });

  it('stays bounded: buckets idle long enough to be full are swept, exhausted ones are kept (forgetting forgives nothing)', () => {
    const c = clock();
    const limiter = new KeyedLimiter(1, 2, c.now);
    limiter.charge('victim', 2);
    for (let i = 0; i < 5_000; i++) limiter.charge(`idle ${i}`);
    c.advance(2_000); // every bucket charged 1 is full again; 'victim' (charged 2) is too
    limiter.charge('victim', 2);
    for (let i = 0; i < 5_000; i++) limiter.charge(`new ${i}`);
    // Idle ones were swept as the new ones came; the exhausted one was not.
    expect(limiter.size).toBeLessThan(10_001);
    expect(limiter.allows('victim')).toBe(false);
  });

  it('holds no more than twice the keys active within the refill time, however many pass', () => {
    const c = clock();
    const limiter = new KeyedLimiter(100, 100, c.now); // refills in 1 s
    let max = 0;
    for (let i = 0; i < 200_000; i++) {
      limiter.charge(`k${i}`, 100); // empty: full again only after 1 s
      if (i % 1_000 === 0) c.advance(100); // 10,000 keys a second
      max = Math.max(max, limiter.size);
    }
    expect(max).toBeLessThanOrEqual(2 * 11_000);
  });

  it('says to warn about a key at most once per refill window', () => {
    const c = clock();
    const limiter = new KeyedLimiter(1, 60, c.now); // refills in 60 s
    limiter.charge('a', 60);
    expect(limiter.shouldWarn('a')).toBe(true);
    expect(limiter.shouldWarn('a')).toBe(false);
    c.advance(59_000);
    expect(limiter.shouldWarn('a')).toBe(false);
    c.advance(1_000);
    expect(limiter.shouldWarn('a')).toBe(true);
  });
});

describe('addressKey', () => {
  it.each([
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2:ffff::1', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
  ])('keys %s as %s', (address, key) => {
    expect(addressKey(address)).toBe(key);
  });
});

function rows(recipient: string, n: number): PendingMessage[] {
  return Array.from({ length: n }, (_, i) => ({
    id: i + 1,
    messageId: i + 1,
    storedAt: 0,
    recipient,
    sender: '1'.repeat(13),
    group: null,
    ts: 1,
    wantsReceipt: false,
    kind: MessageKind.Text,
    body: '',
  }));
}

describe('PendingQuota', () => {
  it('reads a count from the store once, then keeps it up to date', async () => {
    const reads: string[] = [];
    const count = async (recipient: string) => (reads.push(recipient), 1);
    const quota = new PendingQuota(3);
    await quota.load('bob', count);
    expect(quota.fits('bob', 2)).toBe(true);
    expect(quota.fits('bob', 3)).toBe(false);
    quota.added(rows('bob', 2));
    expect(quota.fits('bob', 1)).toBe(false);
    quota.removed('bob', 3);
    await quota.load('bob', count);
    expect(quota.fits('bob', 3)).toBe(true);
    expect(reads).toEqual(['bob']);
  });

  it('ignores rows of recipients it has not read (the store counts them when it does)', async () => {
    let stored = 0;
    const quota = new PendingQuota(2);
    quota.added(rows('carol', 5));
    stored = 2;
    await quota.load('carol', async () => stored);
    expect(quota.fits('carol', 1)).toBe(false);
  });

  it('keeps a count that came to be held while another read of it was under way', async () => {
    const quota = new PendingQuota(3);
    let answer!: (count: number) => void;
    const slow = quota.load('bob', () => new Promise<number>((resolve) => (answer = resolve)));
    await quota.load('bob', async () => 2);
    quota.added(rows('bob', 1));
    answer(0);
    await slow;
    expect(quota.fits('bob', 1)).toBe(false);
  });

  it('refuses a recipient whose count it does not hold rather than let it over', () => {
    const quota = new PendingQuota(3);
    expect(quota.fits('bob', 1)).toBe(false);
  });

  it('stays bounded: past its size it drops those at zero, then everything', async () => {
    const quota = new PendingQuota(10, 100);
    const count = async (recipient: string) => (recipient.startsWith('busy') ? 1 : 0);
    for (let i = 0; i < 1_000; i++) await quota.load(`idle ${i}`, count);
    expect(quota.size).toBeLessThanOrEqual(100);
    for (let i = 0; i < 1_000; i++) await quota.load(`busy ${i}`, count);
    expect(quota.size).toBeLessThanOrEqual(100);
  });

  it('counts nothing when off', async () => {
    const quota = new PendingQuota(0);
    await quota.load('bob', () => {
      throw new Error('no COUNT when the quota is off');
    });
    expect(quota.fits('bob', 1_000_000)).toBe(true);
    quota.added(rows('bob', 1));
    expect(quota.size).toBe(0);
  });
});
