const monotonicNow = (): number => performance.now();

/** Buckets a limiter holds before its first sweep; afterwards twice what the last sweep kept. */
const FIRST_SWEEP_AT = 1_024;

interface Bucket {
  tokens: number;
  /** When `tokens` was last brought up to date (ms, monotonic). */
  last: number;
  /** When a refusal of this key was last logged. */
  warnedAt: number;
}

/**
 * One token bucket per key (a number, or a source address): `rate` tokens a
 * second, at most `burst`. The broker checks (`allows`) before it writes and
 * charges (`charge`) only what was stored, so the two are separate.
 *
 * Memory stays bounded by sweeping: a bucket left alone for `refillMs` is
 * full again, and a full bucket is exactly what an unknown key gets, so
 * forgetting it forgives nothing. A sweep runs when the map has doubled since
 * the last one, so its cost is amortised over the keys added, and the map
 * holds at most about twice the keys active within the last `refillMs`.
 */
export class KeyedLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly perMs: number;
  /** How long an empty bucket takes to fill up again, in ms. */
  readonly refillMs: number;
  private sweepAt = FIRST_SWEEP_AT;

  /** A `rate` of 0 allows everything and keeps nothing. */
  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = monotonicNow,
  ) {
    this.perMs = rate / 1000;
    this.refillMs = rate > 0 ? (burst / rate) * 1000 : 0;
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** Keys held (for tests of the bound). */
  get size(): number {
    return this.buckets.size;
  }

  /** Whether `key` has `cost` tokens now; takes nothing. */
  allows(key: string, cost = 1): boolean {
    if (!this.enabled) return true;
    const bucket = this.buckets.get(key);
    return (bucket === undefined ? this.burst : this.level(bucket, this.now())) >= cost;
  }

  /** Gives back what `charge` took (its request failed before it wrote). */
  refund(key: string, cost = 1): void {
    const bucket = this.buckets.get(key);
    if (!this.enabled || cost <= 0 || bucket === undefined) return;
    const t = this.now();
    bucket.tokens = Math.min(this.burst, this.level(bucket, t) + cost);
    bucket.last = t;
  }

  /** Takes `cost` tokens from `key` (never below zero: callers charge what `allows` admitted). */
  charge(key: string, cost = 1): void {
    if (!this.enabled || cost <= 0) return;
    const t = this.now();
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.sweepAt) this.sweep(t);
      bucket = { tokens: this.burst, last: t, warnedAt: -Infinity };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.max(0, this.level(bucket, t) - cost);
    bucket.last = t;
  }

  /**
   * Whether a refusal of `key` should be logged now: at most once per
   * `refillMs` for each key, so a flood is one warn line, not one per attempt.
   */
  shouldWarn(key: string): boolean {
    const bucket = this.buckets.get(key);
    if (bucket === undefined) return true;
    const t = this.now();
    if (t - bucket.warnedAt < this.refillMs) return false;
    bucket.warnedAt = t;
    return true;
  }

  private level(bucket: Bucket, t: number): number {
    return Math.min(this.burst, bucket.tokens + (t - bucket.last) * this.perMs);
  }

  private sweep(t: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.level(bucket, t) >= this.burst) this.buckets.delete(key);
    }
    this.sweepAt = Math.max(FIRST_SWEEP_AT, this.buckets.size * 2);
  }
}

/**
 * The key of a source address for per-address limits: an IPv4 address as it
 * is (an IPv4-mapped IPv6 one as IPv4), an IPv6 address by its /64, the
 * smallest block a host is usually given, so that a host cannot pass the
 * limits by stepping through the addresses of its own block.
 */
export function addressKey(address: string): string {
  if (!address.includes(':')) return address;
  const lower = address.toLowerCase();
  if (lower.startsWith('::ffff:') && lower.includes('.')) return lower.slice(7);
  const zone = lower.indexOf('%');
  const plain = zone === -1 ? lower : lower.slice(0, zone);
  const [head = '', tail] = plain.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups =
    tail === undefined
      ? left
      : [
          ...left,
          ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'),
          ...right,
        ];
  return (
    groups
      .slice(0, 4)
      .map((g) => g.replace(/^0+(?=.)/, ''))
      .join(':') + '::/64'
  );
}
