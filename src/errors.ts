/**
 * Every error zapwire raises on purpose (README §Error codes): a ZapwireError
 * with a stable `code` from ErrorCode and, when the failure is one the
 * protocol names, its docs/protocol.md `status`. Callers test
 * `err instanceof ZapwireError`, then `err.code`; subclasses exist so that a
 * failure carrying more (a frame's field, an option's name, a delivery) can be
 * narrowed to it.
 *
 * Pure on purpose: the codec, the client and every thread import it, so it
 * touches no socket, logger or file (types only from elsewhere).
 */
import type { Delivery } from './client/deliveries.js';
import type { FrameField } from './protocol/frame.js';
import { Status } from './protocol/status.js';

/**
 * The stable codes, one per meaning (README §Error codes). Status 400 has
 * three, one per layer: the bytes of a frame (MALFORMED_FRAME), the bytes of
 * an HTTP body (BAD_JSON), and a well-formed frame or body whose content
 * breaks a rule (MALFORMED_REQUEST, on every listener and in the SDK's own
 * checks). Only the status crosses the wire, so a client reads every `09 400`
 * as MALFORMED_REQUEST.
 */
export const ERROR_CODES = [
  /** A status with no class of its own, or a `09` whose data is not `<status> <reason>`. */
  'ZAPWIRE_ERROR',
  'ZAPWIRE_MALFORMED_REQUEST',
  'ZAPWIRE_MALFORMED_FRAME',
  'ZAPWIRE_BAD_JSON',
  'ZAPWIRE_UNAUTHORIZED',
  'ZAPWIRE_FORBIDDEN',
  'ZAPWIRE_NOT_FOUND',
  'ZAPWIRE_NO_ROUTE',
  'ZAPWIRE_METHOD',
  'ZAPWIRE_TIMEOUT',
  'ZAPWIRE_REPLACED',
  'ZAPWIRE_TOO_LARGE',
  'ZAPWIRE_RATE_LIMITED',
  'ZAPWIRE_UNAVAILABLE',
  /** No class: what the HTTP API answers (500) for a failure that is not a ZapwireError. */
  'ZAPWIRE_INTERNAL',
  'ZAPWIRE_CONNECTION',
  'ZAPWIRE_LISTENER',
  'ZAPWIRE_BAD_OPTION',
  'ZAPWIRE_CLI',
  'ZAPWIRE_DATABASE_IN_USE',
  'ZAPWIRE_DATABASE_UNUSABLE',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ZapwireErrorOptions {
  /** The docs/protocol.md status a `09` carries; none for a failure the protocol does not name. */
  status?: number;
  /** What caused it, kept as Error's own `cause`. */
  cause?: unknown;
}

/** Base of every failure zapwire reports on purpose. */
export class ZapwireError extends Error {
  /** The docs/protocol.md status, when the failure is one the protocol names. */
  readonly status?: number;

  constructor(
    message: string,
    readonly code: ErrorCode,
    options: ZapwireErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (options.status !== undefined) this.status = options.status;
    this.name = new.target.name;
  }
}

/** A ZapwireError a `09` (or the broker's refusal) can carry: it has a protocol status. */
export function isProtocolError(err: unknown): err is ZapwireError & { readonly status: number } {
  return err instanceof ZapwireError && err.status !== undefined;
}

// The protocol's refusals: each class is the status of a `09` (docs/protocol.md §Codes).

/**
 * The base of a refusal whose whole content is its code, its status and a
 * default message: each refusal below is one line, and `name` is still the
 * subclass's own (ZapwireError takes it from `new.target`).
 */
function refusal<C extends ErrorCode>(code: C, status: number, defaultMessage: string) {
  return class extends ZapwireError {
    declare readonly code: C;
    constructor(message = defaultMessage) {
      super(message, code, { status });
    }
  };
}

/** A well-formed frame or HTTP body whose content breaks a rule (a field, a count, its text). */
export class MalformedRequestError extends refusal(
  'ZAPWIRE_MALFORMED_REQUEST',
  Status.Malformed,
  'malformed request',
) {}

/** Bytes that break docs/protocol.md §Frame (the codec); the server answers `09 400` and closes. */
export class FrameError extends ZapwireError {
  declare readonly code: 'ZAPWIRE_MALFORMED_FRAME';
  constructor(
    /** Which field of the frame is at fault. */
    readonly field: FrameField,
    message: string,
  ) {
    super(message, 'ZAPWIRE_MALFORMED_FRAME', { status: Status.Malformed });
  }
}

/** HTTP: a body that is not valid UTF-8, not JSON, or not a JSON object. */
export class BadJsonError extends refusal(
  'ZAPWIRE_BAD_JSON',
  Status.Malformed,
  'the body must be a JSON object',
) {}

export class UnauthorizedError extends refusal(
  'ZAPWIRE_UNAUTHORIZED',
  Status.Unauthorized,
  'no session or wrong token',
) {}

export class ForbiddenError extends refusal('ZAPWIRE_FORBIDDEN', Status.Forbidden, 'not allowed') {}

export class NotFoundError extends refusal(
  'ZAPWIRE_NOT_FOUND',
  Status.NotFound,
  'unknown destination',
) {}

/** An anonymous connection stayed idle past `anonymousTimeoutMs` (docs/protocol.md §Limits). */
export class TimeoutError extends refusal(
  'ZAPWIRE_TIMEOUT',
  Status.Timeout,
  'idle without opening a session',
) {}

export class ReplacedError extends refusal(
  'ZAPWIRE_REPLACED',
  Status.Replaced,
  'session replaced by a newer one',
) {}

export class TooLargeError extends refusal('ZAPWIRE_TOO_LARGE', Status.TooLarge, 'too large') {}

export class RateLimitError extends refusal(
  'ZAPWIRE_RATE_LIMITED',
  Status.TooMany,
  'over a rate or quota limit',
) {}

export class UnavailableError extends refusal(
  'ZAPWIRE_UNAVAILABLE',
  Status.Unavailable,
  'server unavailable',
) {}

// HTTP only: refusals of the HTTP API that no `09` carries.

/** HTTP: a path the API does not have (404). */
export class NoRouteError extends ZapwireError {
  declare readonly code: 'ZAPWIRE_NO_ROUTE';
  constructor(path: string) {
    super(`no route ${path}`, 'ZAPWIRE_NO_ROUTE');
  }
}

/** HTTP: a known path asked with another method (405). */
export class MethodError extends ZapwireError {
  declare readonly code: 'ZAPWIRE_METHOD';
  constructor(allowed: string) {
    super(`use ${allowed}`, 'ZAPWIRE_METHOD');
  }
}

// The client side.

/**
 * The server could not be reached, or the connection ended before the answer
 * came. A request that was written may or may not have been carried out (a
 * `05` may be stored even though its `07` never arrived). Status 503: to the
 * caller the server is unavailable.
 */
export class ConnectionError extends ZapwireError {
  declare readonly code: 'ZAPWIRE_CONNECTION';
  constructor(message = 'connection lost', options: { cause?: unknown } = {}) {
    super(message, 'ZAPWIRE_CONNECTION', { status: Status.Unavailable, cause: options.cause });
  }
}

/**
 * A `message`, `receipt` or `groupCreated` listener threw on `delivery`
 * (`cause` is what it threw). The delivery was not acknowledged: the session
 * that brought it ends, and it comes again in the next one (docs/protocol.md
 * §Delivery guarantees: a `06` not acknowledged is sent again).
 */
export class ListenerError extends ZapwireError {
  declare readonly code: 'ZAPWIRE_LISTENER';
  constructor(
    readonly delivery: Delivery,
    cause: unknown,
  ) {
    super(
      `a ${delivery.type} listener threw (${cause instanceof Error ? cause.message : String(cause)}); not acknowledged, it comes again in the next session`,
      'ZAPWIRE_LISTENER',
      { cause },
    );
  }
}

// Start-up and the command line.

/** An option that cannot be used (`zapwire serve` exits 2); the message names it. */
export class OptionError extends ZapwireError {
  declare readonly code: 'ZAPWIRE_BAD_OPTION';
  constructor(
    /** The ServerOptions key at fault, as the caller names it (never read back from the message). */
    readonly option: string,
    message: string,
  ) {
    super(message, 'ZAPWIRE_BAD_OPTION');
  }
}

/** A failure the command line explains in one line (a missing profile, ...). */
export class CliError extends ZapwireError {
  declare readonly code: 'ZAPWIRE_CLI';
  /** The process's exit code when this ends a command. */
  readonly exitCode: number;

  constructor(message: string, options: { exitCode?: number; cause?: unknown } = {}) {
    super(message, 'ZAPWIRE_CLI', { cause: options.cause });
    this.exitCode = options.exitCode ?? 1;
  }
}

/**
 * The database cannot be served: locked by another process (IN_USE), or not a
 * database, damaged, or in a place where it cannot be made (UNUSABLE). Its
 * message is the one line `zapwire serve` prints: it names the file and gives
 * SQLite's reason. Status 503: a server without its store is unavailable.
 */
export class DatabaseOpenError extends ZapwireError {
  declare readonly code: 'ZAPWIRE_DATABASE_IN_USE' | 'ZAPWIRE_DATABASE_UNUSABLE';
  constructor(
    readonly file: string,
    message: string,
    code: 'ZAPWIRE_DATABASE_IN_USE' | 'ZAPWIRE_DATABASE_UNUSABLE',
    options: { cause?: unknown } = {},
  ) {
    super(message, code, { status: Status.Unavailable, cause: options.cause });
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
    case Status.Timeout:
      return new TimeoutError(reason);
    case Status.Replaced:
      return new ReplacedError(reason);
    case Status.TooLarge:
      return new TooLargeError(reason);
    case Status.TooMany:
      return new RateLimitError(reason);
    case Status.Unavailable:
      return new UnavailableError(reason);
    default:
      return new ZapwireError(reason, 'ZAPWIRE_ERROR', { status });
  }
}
