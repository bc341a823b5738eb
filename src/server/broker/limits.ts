import type { Logger } from 'pino';
import { RateLimitError } from '../../errors.js';
import type { StoreCalls } from '../../store/turn-store.js';
import type { BrokerQuotas } from '../threads/thread-messages.js';
import type { Delivery } from './deliveries.js';
import { addressKey, KeyedLimiter } from './keyed-limiter.js';
import { PendingQuota } from './pending-quota.js';

/** Every limit off. */
export const NO_QUOTAS: BrokerQuotas = Object.freeze({
  rateLimit: 0,
  groupRateLimit: 0,
  maxPendingPerRecipient: 0,
  registerRate: 0,
  registerBurst: 1,
  authFailuresPerMinute: 0,
});

// docs/protocol.md §Limits: a refusal's reason names the limit (the option).
const RATE_REASON = 'sending too fast (rateLimit)';
const GROUP_RATE_REASON = 'creating groups too fast (groupRateLimit)';
const GROUP_NAME_RATE_REASON = 'naming groups too fast (groupRateLimit)';
const REGISTER_REASON = 'registering too fast (registerRate)';
const AUTH_REASON = 'too many failed authentications (authFailuresPerMinute)';
const pendingReason = (recipient: string) =>
  `too many pending messages for ${recipient} (maxPendingPerRecipient)`;

/**
 * docs/protocol.md §Limits, as the broker enforces them. Each check refuses
 * with 429 before anything is written, and charges what it admits at once:
 * the requests of a turn are checked one after the other (OpContext.inOrder)
 * and each must see what those before it took. A request refused later
 * costs nothing: every check a request makes comes after its others.
 */
export class Limits {
  private readonly rate: KeyedLimiter;
  private readonly groupRate: KeyedLimiter;
  private readonly registrations: KeyedLimiter;
  private readonly authFailures: KeyedLimiter;
  /** Kept up to date by the broker as rows are stored and deleted. */
  readonly pending: PendingQuota;
  /** Where a request's view (`forRequest`) notes how to take back what it was charged. */
  private readonly refunds: (() => void)[] | undefined;

  constructor(
    quotas: BrokerQuotas | undefined,
    private readonly logger: Logger | undefined,
  ) {
    const q = quotas ?? NO_QUOTAS;
    // Per number (bursts of twice the rate), per source address.
    this.rate = new KeyedLimiter(q.rateLimit, q.rateLimit * 2);
    this.groupRate = new KeyedLimiter(q.groupRateLimit, q.groupRateLimit * 2);
    this.registrations = new KeyedLimiter(q.registerRate, q.registerBurst);
    this.authFailures = new KeyedLimiter(q.authFailuresPerMinute / 60, q.authFailuresPerMinute);
    this.pending = new PendingQuota(q.maxPendingPerRecipient);
  }

  /**
   * These limits as one request uses them: what it is charged is noted in
   * `refunds`, so that a request that fails after it was admitted (before it
   * wrote) is charged nothing.
   */
  forRequest(refunds: (() => void)[]): Limits {
    return Object.create(this, { refunds: { value: refunds } }) as Limits;
  }

  /**
   * Failed authentications are limited per source address. Once an address
   * has used them up, its attempts are refused without `verify` being
   * called, and that is logged once per window.
   */
  authenticate(remote: string, verify: () => void): void {
    const address = addressKey(remote);
    this.checkAddress(
      this.authFailures,
      address,
      'authFailuresPerMinute',
      'too many failed authentications from one address; refusing its attempts',
      AUTH_REASON,
    );
    try {
      verify();
    } catch (err) {
      this.authFailures.charge(address);
      throw err;
    }
  }

  /** Registrations are limited per source address. */
  admitRegistration(remote: string): void {
    const address = addressKey(remote);
    this.checkAddress(
      this.registrations,
      address,
      'registerRate',
      'too many registrations from one address; refusing them',
      REGISTER_REASON,
    );
    this.charge(this.registrations, address, 1);
  }

  /** Reads the pending counts admitDeliveries needs and does not hold (before inOrder: one step for the turn). */
  loadPending(
    deliveries: readonly Delivery[],
    store: Pick<StoreCalls, 'countPending'>,
  ): Promise<unknown> | undefined {
    if (!this.pending.enabled) return undefined;
    const recipients = new Set<string>();
    for (const delivery of deliveries)
      for (const copy of delivery.copies) recipients.add(copy.recipient);
    return Promise.all(
      [...recipients].map((recipient) =>
        this.pending.load(recipient, (r) => store.countPending(r)),
      ),
    );
  }

  /**
   * The sender's rate must cover every row these deliveries store (a group
   * message counts once per row), and no recipient may go over its pending
   * quota; otherwise nothing is stored.
   */
  admitDeliveries(sender: string, deliveries: readonly Delivery[]): void {
    let rows = 0;
    for (const delivery of deliveries) rows += delivery.copies.length;
    if (!this.rate.allows(sender, rows)) throw new RateLimitError(RATE_REASON);
    if (this.pending.enabled) {
      if (deliveries.length === 1) {
        // A message's copies have distinct recipients.
        for (const copy of deliveries[0]!.copies)
          if (!this.pending.fits(copy.recipient, 1))
            throw new RateLimitError(pendingReason(copy.recipient));
      } else {
        const adding = new Map<string, number>();
        for (const delivery of deliveries)
          for (const { recipient } of delivery.copies)
            adding.set(recipient, (adding.get(recipient) ?? 0) + 1);
        for (const [recipient, count] of adding)
          if (!this.pending.fits(recipient, count))
            throw new RateLimitError(pendingReason(recipient));
      }
    }
    this.charge(this.rate, sender, rows);
    for (const delivery of deliveries) {
      const { copies } = delivery;
      this.pending.added(copies);
      this.refunds?.push(() => {
        for (const copy of copies) this.pending.removed(copy.recipient, 1);
      });
    }
  }

  /** `10` is limited per number (the creator's). */
  admitGroup(creator: string): void {
    if (!this.groupRate.allows(creator)) throw new RateLimitError(GROUP_RATE_REASON);
    this.charge(this.groupRate, creator, 1);
  }

  /** `14` shares the budget of `10`: both write a group's row (docs/protocol.md §Limits). */
  admitGroupName(number: string): void {
    if (!this.groupRate.allows(number)) throw new RateLimitError(GROUP_NAME_RATE_REASON);
    this.charge(this.groupRate, number, 1);
  }

  private charge(limiter: KeyedLimiter, key: string, cost: number): void {
    limiter.charge(key, cost);
    this.refunds?.push(() => limiter.refund(key, cost));
  }

  /** An address over a per-address limit is refused (429), and that is logged once per window. */
  private checkAddress(
    limiter: KeyedLimiter,
    address: string,
    limit: string,
    warning: string,
    reason: string,
  ): void {
    if (limiter.allows(address)) return;
    if (limiter.shouldWarn(address)) this.logger?.warn({ address, limit }, warning);
    throw new RateLimitError(reason);
  }
}
