import { ZapwireError } from '../errors.js';
import type { Delivery } from './deliveries.js';

/**
 * A `message`, `receipt` or `groupCreated` listener threw on `delivery`
 * (`cause` is what it threw). The delivery was not acknowledged: the session
 * that brought it ends, and it comes again in the next one (docs/protocol.md
 * §Delivery guarantees: a `06` not acknowledged is sent again).
 */
export class ListenerError extends ZapwireError {
  constructor(
    readonly delivery: Delivery,
    cause: unknown,
  ) {
    super(
      `a ${delivery.type} listener threw (${cause instanceof Error ? cause.message : String(cause)}); not acknowledged, it comes again in the next session`,
      'ZAPWIRE_LISTENER',
      0,
    );
    this.cause = cause;
  }
}
