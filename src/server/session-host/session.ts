import type { Logger } from 'pino';
import { FrameError, isProtocolError } from '../../errors.js';
import { Code, isClientCode } from '../../protocol/codes.js';
import {
  decodeFrame,
  encodeFrame,
  FRAME_SIZE,
  type Frame,
  type FrameInit,
  NOBODY,
  peekCode,
} from '../../protocol/frame.js';
import { Status, statusClosesConnection } from '../../protocol/status.js';
import { errorFrameInit } from '../../store/render.js';
import type { HostMetrics } from '../metrics/metrics.js';
import type { AskRequest, Result, TellRequest } from '../threads/broker-client.js';
import type { AnswerTo, AskOp, BrokerReplies, HostOptions } from '../threads/thread-messages.js';
import { HANDLERS } from './handlers/index.js';

/** What a session needs from the thread hosting it. */
export interface SessionHostPort {
  /** Asks the broker; `onReply` gets its answer. */
  request<O extends AskOp>(request: AskRequest<O>, onReply: (result: Result<O>) => void): void;
  notify(request: TellRequest): void;
  /** A request that may wait a few milliseconds for company on its way to the broker (an 08's deletions). */
  notifyLater(request: TellRequest): void;
  /** The answer of answer slot `slot` (DESIGN.md §Answer order); `close` ends the connection after it. */
  answer(sid: number, slot: number, frames: Buffer | readonly Buffer[], close: boolean): void;
  /** A `09` that ends the connection: at once, or once the answers of slots below `after` are written. */
  endConnection(sid: number, frame: Buffer, after: number | undefined): void;
  /** `frames` of the connection's frames were finished without an answer: the main thread may read that many more (DESIGN.md §Flow control). */
  credit(sid: number, frames: number): void;
  /** The thread's metrics (README §Metrics), when it keeps any. */
  readonly metrics?: HostMetrics | undefined;
}

/** docs/protocol.md §Sessions: an anonymous connection may send only 01, 04 and 19. */
const ANONYMOUS_CODES = new Set<string>([Code.Register, Code.OpenSession, Code.IsValid]);

/**
 * The handler dedicated to one connection: its protocol state and the checks
 * in docs/protocol.md's order (frame 400, state 401, src 403, then the
 * request). It runs on a session host thread; it never touches a socket (the
 * main thread writes) nor SQL (the broker does).
 *
 * Every frame that gets an answer opens an answer slot, numbered in frame
 * order; the main thread writes answers in slot order whoever made them
 * (DESIGN.md §Answer order). The broker writes the answers of `04`, `05` and
 * `03` itself, and every `06`, so a message's `07` and its push never come
 * back through this thread.
 */
export class Session {
  state: 'anonymous' | 'open' | 'closed' = 'anonymous';
  number = NOBODY;
  push = false;
  /** A `04` was asked: the broker may keep a ledger (and a push route) for this connection until told it closed. */
  opening = false;
  /** What the sessions gauge counts this connection as. */
  kind: 'anonymous' | 'push' | 'poll' = 'anonymous';
  writable = true;
  /** When the last frame arrived (ms), for the anonymous time limit (docs/protocol.md §Limits). */
  lastFrameAt = Date.now();
  /** Answer slots opened so far: the next frame that gets an answer takes this number. */
  nextSlot = 0;
  /**
   * Frames read and not yet handled. How many frames wait here is bounded by
   * the main thread, which stops reading a connection with more than
   * maxInflight frames unfinished (DESIGN.md §Flow control).
   */
  private readonly inbox: Buffer[] = [];
  private blocked = false;
  /** Requests whose answer this thread waits for (the anonymous time limit counts only idle time). */
  private waiting = 0;

  constructor(
    readonly sid: number,
    readonly host: SessionHostPort,
    readonly options: HostOptions,
    private readonly threadLogger: Logger,
    private readonly remote: string,
    /** The client's source address, for the broker's per-address quotas. */
    readonly address: string,
  ) {}

  /**
   * This session's logger (sid, remote and, once open, number). Built when
   * something is logged rather than kept: a session logs a line or two in its
   * life, and a kept pino child (its bindings string and prototype shape) was
   * a fifth of a session's memory on a host holding thousands.
   */
  get log(): Logger {
    const bindings =
      this.number === NOBODY
        ? { sid: this.sid, remote: this.remote }
        : { sid: this.sid, remote: this.remote, number: this.number };
    return this.threadLogger.child(bindings);
  }

  /** A debug line, without building the child logger when debug is off. */
  debug(fields: object, message: string): void {
    if (this.threadLogger.isLevelEnabled('debug')) this.log.debug(fields, message);
  }

  receive(bytes: Buffer): void {
    if (this.state === 'closed') {
      this.host.credit(this.sid, bytes.length / FRAME_SIZE);
      return;
    }
    if (this.state === 'anonymous') this.lastFrameAt = Date.now();
    for (let offset = 0; offset + FRAME_SIZE <= bytes.length; offset += FRAME_SIZE) {
      this.inbox.push(bytes.subarray(offset, offset + FRAME_SIZE));
    }
    this.processInbox();
  }

  /**
   * No request waits for an answer on this thread (the anonymous time limit
   * counts only such time; an anonymous connection asks only 01, 04, 19).
   * Frames waiting in the inbox do not count: they wait for the client to
   * read its answers.
   */
  get idle(): boolean {
    return this.waiting === 0;
  }

  /**
   * The client closed. `08`s still waiting in the inbox are acted on: the
   * broker writes a `03`'s answer straight to the client, so its `08` can
   * arrive before this thread has heard the `03` was answered, and the
   * client did receive what it acknowledged. Anything else that waited has
   * no one to answer.
   */
  closedByClient(): void {
    if (this.state === 'open') {
      for (const raw of this.inbox) if (peekCode(raw) === Code.Ack) this.handleFrame(raw);
    }
    this.inbox.length = 0;
    this.state = 'closed';
  }

  /** The socket drains again (or never stopped): handle the frames that waited for it. */
  setWritable(writable: boolean): void {
    this.writable = writable;
    if (writable) this.processInbox();
  }

  /**
   * Handles the frames read, in order. None is started while the socket is
   * not draining: a client that does not read its answers gets no more of
   * them queued on the main thread (its frames wait here, 256 bytes each, at
   * most maxInflight + one read of them).
   */
  private processInbox(): void {
    while (this.inbox.length > 0 && !this.blocked && this.writable && this.state !== 'closed') {
      const opened = this.nextSlot;
      this.handleFrame(this.inbox.shift()!);
      // Handled needing no answer (08): finished now. An answered frame is counted by the main thread when its answer is written.
      if (this.nextSlot === opened) this.host.credit(this.sid, 1);
    }
  }

  private handleFrame(raw: Buffer): void {
    let frame: Frame;
    try {
      frame = decodeFrame(raw);
    } catch (err) {
      if (!(err instanceof FrameError)) return this.crash(err, 'decoding a frame');
      this.log.warn({ field: err.field, reason: err.message }, 'malformed frame');
      this.fail(fieldsOf(raw), Status.Malformed, err.message);
      return;
    }
    // docs/protocol.md §Codes, check order: the frame, the state, src, the request.
    if (!isClientCode(frame.code))
      return this.fail(frame, Status.Malformed, `code ${frame.code} is sent only by the server`);
    if (this.state === 'anonymous' && !ANONYMOUS_CODES.has(frame.code)) {
      return this.fail(frame, Status.Unauthorized, 'open a session (04) first');
    }
    if (this.state === 'open' && frame.src !== this.number) {
      return this.fail(frame, Status.Forbidden, 'src is not the session number');
    }
    const handler = HANDLERS[frame.code];
    try {
      if (this.options.faults?.frameData === frame.data)
        throw new Error(`injected fault: frame data ${JSON.stringify(frame.data)}`);
      handler(this, frame);
    } catch (err) {
      if (!isProtocolError(err)) return this.crash(err, `handling a ${frame.code}`);
      this.fail(frame, err.status, err.message);
    }
  }

  /**
   * DESIGN.md §Containment: an unexpected exception while handling this
   * session's frame ends this session alone (`09 503`, close), never the
   * thread and the other sessions it hosts.
   */
  crash(err: unknown, during: string): void {
    this.threadLogger.error(
      { err, sid: this.sid, number: this.number, remote: this.remote, during },
      'session failed: internal error',
    );
    this.end(Status.Unavailable, 'internal error', false);
  }

  /** Where the broker writes the answer of `frame` itself: the next answer slot. */
  answerTo(frame: Frame): AnswerTo {
    return { sid: this.sid, slot: this.nextSlot++, src: frame.src, dst: frame.dst, ts: frame.ts };
  }

  /**
   * Asks the broker and answers on this thread: `onValue` turns its reply
   * (of the type its op's reply has) into frames, an error becomes a `09`.
   */
  ask<O extends AskOp>(
    frame: Frame,
    request: AskRequest<O>,
    onValue: (value: BrokerReplies[O]) => Buffer[],
  ): void {
    const slot = this.nextSlot++;
    this.waiting++;
    this.host.request(request, (result) => {
      this.waiting--;
      let frames: Buffer[];
      let close = false;
      try {
        if (result.ok) frames = onValue(result.value);
        else {
          frames = [errorFrame(frame, result.status, result.reason)];
          close = statusClosesConnection(result.status);
        }
      } catch (err) {
        return this.crash(err, `answering a ${frame.code}`);
      }
      // Written even if the session closed meanwhile: a close ordered after this slot waits for it.
      if (close) this.closeAfter();
      this.host.answer(this.sid, slot, frames, close);
    });
  }

  /**
   * A request the broker answers on the wire itself (its `request.to`), and
   * whose outcome this thread must wait for before handling the next frame:
   * what those frames may do depends on it (`04`), or the answer is large
   * (`03`: see handlers/poll.ts).
   */
  askBlocking<O extends AskOp>(
    request: AskRequest<O>,
    onOutcome: (result: Result<O>) => void,
  ): void {
    this.blocked = true;
    this.waiting++;
    this.host.request(request, (result) => {
      this.waiting--;
      try {
        onOutcome(result);
      } catch (err) {
        return this.crash(err, `after a ${request.op}`);
      }
      // 400 and 401 close the connection: the broker's 09 said so.
      if (!result.ok && statusClosesConnection(result.status)) this.closeAfter();
      this.blocked = false;
      this.processInbox();
    });
  }

  /** Answers now; the main thread writes it in turn after answers still to come. */
  answer(init: FrameInit, close = false): void {
    if (close) this.closeAfter();
    this.host.answer(this.sid, this.nextSlot++, encodeFrame(init), close);
  }

  /** Answers a frame with `09`; 400, 401 and 409 also close the connection (docs/protocol.md §Codes). */
  fail(cause: Pick<Frame, 'src' | 'dst' | 'ts'>, status: number, reason: string): void {
    const close = statusClosesConnection(status);
    if (close) this.closeAfter();
    this.host.answer(this.sid, this.nextSlot++, errorFrame(cause, status, reason), close);
  }

  /**
   * Ends the session from the server's side (409 takeover, 503 shutdown or
   * failure, 408 anonymous time limit, 400 for an 08 the broker found beyond
   * what was sent). `after`: written once the answers of the slots before it
   * are (a shutdown lets the answers under way go first); otherwise at once.
   */
  end(
    status: number,
    reason: string,
    logged = true,
    after?: number,
    cause: Pick<Frame, 'src' | 'dst' | 'ts'> = { src: NOBODY, dst: this.number, ts: 0 },
  ): void {
    if (this.state === 'closed') return;
    if (logged) this.log.info({ status }, reason);
    this.closeAfter();
    this.host.endConnection(this.sid, errorFrame(cause, status, reason), after);
  }

  /** The session ends: nothing more is handled, and the frames that waited are finished. */
  private closeAfter(): void {
    this.state = 'closed';
    if (this.inbox.length === 0) return;
    this.host.credit(this.sid, this.inbox.length);
    this.inbox.length = 0;
  }
}

function errorFrame(
  cause: Pick<Frame, 'src' | 'dst' | 'ts'>,
  status: number,
  reason: string,
): Buffer {
  return encodeFrame(errorFrameInit(cause, status, reason));
}

/** The src, dst and ts of a malformed frame where they are digits, so its 09 can echo them. */
function fieldsOf(raw: Buffer): Pick<Frame, 'src' | 'dst' | 'ts'> {
  const digits = (start: number, length: number) => {
    if (raw.length < start + length) return undefined;
    const s = raw.toString('latin1', start, start + length);
    return /^[0-9]+$/.test(s) ? s : undefined;
  };
  return {
    src: digits(2, 13) ?? NOBODY,
    dst: digits(15, 13) ?? NOBODY,
    ts: Number(digits(28, 10) ?? 0),
  };
}
