import { ConnectionError, errorForStatus, ZapwireError } from '../errors.js';
import { Code } from '../protocol/codes.js';
import { type Frame, NOBODY } from '../protocol/frame.js';
import { Status } from '../protocol/status.js';

/** A request written on a connection, waiting for its answer. */
export interface PendingRequest {
  /** The code of the answer that completes it: `02`, `03`, `04`, `07`, `11` or `20`. */
  readonly answer: Code;
  resolve(frame: Frame): void;
  reject(error: ZapwireError): void;
}

/** What a frame read from the server turned out to be. */
export type Routed =
  /** A `06`: never an answer (docs/protocol.md §Codes); the caller delivers it. */
  | { kind: 'delivery' }
  /** It answered the oldest pending request, which is now resolved or rejected. */
  | { kind: 'answered' }
  /** A `09` about the connection itself (409 takeover, 503 shutdown): the server closes it. */
  | { kind: 'connection-error'; error: ZapwireError }
  /** Not what the protocol allows here: the connection can no longer be trusted. */
  | { kind: 'unexpected'; reason: string };

const ERROR_DATA = /^([0-9]{3}) ([\s\S]*)$/;

/** The typed error for a `09`'s data, `<status> <reason>` (docs/protocol.md §Codes). */
export function errorFromData(data: string): ZapwireError {
  const match = ERROR_DATA.exec(data);
  if (!match)
    return new ZapwireError(
      `malformed 09 from the server: ${JSON.stringify(data)}`,
      'ZAPWIRE_ERROR',
    );
  return errorForStatus(Number(match[1]), match[2]!);
}

/**
 * Matches answers to requests on one connection. The server answers a
 * connection's requests in the order of the frames that caused them (DESIGN.md
 * §The path of one message, step 3), so a FIFO is enough: the oldest pending
 * request takes the next answer, a `09` included. `06` pushes may come between
 * answers at any time and are never answers.
 *
 * A `09` is about the connection rather than a request when its status is 409
 * (a newer push session took over), or when a session is open and the `09`'s
 * `src` is not the session's number: every frame of a session carries that
 * number (docs/protocol.md §Sessions) and a `09` echoes the `src` of the frame it
 * answers, so one that does not is the server ending the session (503 on
 * shutdown is sent with `src` 0).
 */
export class AnswerQueue {
  private readonly queue: PendingRequest[] = [];

  /** `self`: the session's number once the `04` is answered `ok`, NOBODY before. */
  constructor(private readonly self: () => string) {}

  get size(): number {
    return this.queue.length;
  }

  add(request: PendingRequest): void {
    this.queue.push(request);
  }

  route(frame: Frame): Routed {
    if (frame.code === Code.Deliver) return { kind: 'delivery' };
    if (frame.code === Code.Error) {
      const error = errorFromData(frame.data);
      const self = this.self();
      if (error.status === Status.Replaced || (self !== NOBODY && frame.src !== self))
        return { kind: 'connection-error', error };
      const oldest = this.queue.shift();
      if (!oldest) return { kind: 'connection-error', error };
      oldest.reject(error);
      return { kind: 'answered' };
    }
    const oldest = this.queue[0];
    if (!oldest)
      return {
        kind: 'unexpected',
        reason: `the server sent ${frame.code} with no request waiting`,
      };
    if (oldest.answer !== frame.code) {
      return {
        kind: 'unexpected',
        reason: `the server answered ${frame.code} where ${oldest.answer} was expected`,
      };
    }
    this.queue.shift();
    oldest.resolve(frame);
    return { kind: 'answered' };
  }

  /** Rejects every pending request, oldest first (the connection is gone), each with an error of its own. */
  rejectAll(makeError: () => ZapwireError): void {
    for (const request of this.queue.splice(0)) request.reject(makeError());
  }
}

/**
 * The error a pending request gets when its connection ends: a new
 * ConnectionError each time (callers may add to it), the cause kept.
 */
export function lostError(cause: ZapwireError | undefined, where: string): ConnectionError {
  if (cause instanceof ConnectionError) return new ConnectionError(cause.message, { cause });
  if (cause)
    return new ConnectionError(
      `connection to ${where} lost: ${cause.status !== undefined ? `${cause.status} ` : ''}${cause.message}`,
      { cause },
    );
  return new ConnectionError(`connection to ${where} lost`);
}
