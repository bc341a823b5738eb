import { Status } from './protocol/status.js';

/**
 * Base of every failure zapwire reports on purpose. `code` is stable (for
 * programs), `status` is the docs/protocol.md status a `09` carries.
 */
export class ZapwireError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class UnauthorizedError extends ZapwireError {
  constructor(message = 'no session or wrong token') {
    super(message, 'ZAPWIRE_UNAUTHORIZED', Status.Unauthorized);
  }
}

export class ForbiddenError extends ZapwireError {
  constructor(message = 'not allowed') {
    super(message, 'ZAPWIRE_FORBIDDEN', Status.Forbidden);
  }
}

export class NotFoundError extends ZapwireError {
  constructor(message = 'unknown destination') {
    super(message, 'ZAPWIRE_NOT_FOUND', Status.NotFound);
  }
}

export class ReplacedError extends ZapwireError {
  constructor(message = 'session replaced by a newer one') {
    super(message, 'ZAPWIRE_REPLACED', Status.Replaced);
  }
}

export class TooLargeError extends ZapwireError {
  constructor(message = 'too large') {
    super(message, 'ZAPWIRE_TOO_LARGE', Status.TooLarge);
  }
}

export class RateLimitError extends ZapwireError {
  constructor(message = 'over a rate or quota limit') {
    super(message, 'ZAPWIRE_RATE_LIMITED', Status.TooMany);
  }
}

export class UnavailableError extends ZapwireError {
  constructor(message = 'server unavailable') {
    super(message, 'ZAPWIRE_UNAVAILABLE', Status.Unavailable);
  }
}

export class MalformedRequestError extends ZapwireError {
  constructor(message = 'malformed frame') {
    super(message, 'ZAPWIRE_MALFORMED_REQUEST', Status.Malformed);
  }
}

/**
 * Client side: the server could not be reached, or the connection ended before
 * the answer came. A request that was written may or may not have been carried
 * out (a `05` may be stored even though its `07` never arrived).
 */
export class ConnectionError extends ZapwireError {
  constructor(message = 'connection lost', options: { cause?: unknown } = {}) {
    super(message, 'ZAPWIRE_CONNECTION', Status.Unavailable);
    if (options.cause !== undefined) this.cause = options.cause;
  }
}

/** Rebuilds the error class for a status that crossed a thread or the wire. */
export function errorForStatus(status: number, reason: string): ZapwireError {
  switch (status) {
    case Status.Malformed:
      return new MalformedRequestError(reason);
    case Status.Unauthorized:
      return new UnauthorizedError(reason);
    case Status.Forbidden:
      return new ForbiddenError(reason);
    case Status.NotFound:
      return new NotFoundError(reason);
    case Status.Replaced:
      return new ReplacedError(reason);
    case Status.TooLarge:
      return new TooLargeError(reason);
    case Status.TooMany:
      return new RateLimitError(reason);
    case Status.Unavailable:
      return new UnavailableError(reason);
    default:
      return new ZapwireError(reason, 'ZAPWIRE_ERROR', status);
  }
}
