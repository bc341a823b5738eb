import type { Logger } from 'pino';
import { ZapwireError } from '../../errors.js';
import { Code, isClientCode } from '../../protocol/codes.js';
import { decodeFrame, encodeFrame, FrameError, FRAME_SIZE, NOBODY, type Frame, type FrameInit } from '../../protocol/frame.js';
import { statusClosesConnection, Status } from '../../protocol/status.js';
import type { AskRequest, Result, TellRequest } from '../broker-client.js';
import type { HostMetrics } from '../metrics/metrics.js';
import type { HostOptions, ReplyValue, WireMessage } from '../thread-messages.js';
import { HANDLERS } from './handlers/index.js';

/** What a session needs from the thread hosting it. */
export interface SessionHostPort {
  request(request: AskRequest, onReply: (result: Result) => void): void;
  notify(request: TellRequest): void;
  /** Queues frames for the connection; `close` ends it after them. */
  write(sid: number, frames: Buffer | readonly Buffer[], close: boolean): void;
  /** The thread's metrics (README §Metrics), when it keeps any. */
  readonly metrics?: HostMetrics | undefined;
}

/** An answer waiting for its turn: answers leave in the order their frames came. */
export interface AnswerSlot {
  ready: boolean;
  frames: Buffer[];
  deliveries: WireMessage[];
  close: boolean;
}

/**
 * Requests of one session that may wait for the broker at once. Frames behind
 * them wait in the inbox, as views of the bytes already read: a client that
 * pipelines thousands of requests is served in order without holding thousands
 * of pending answers (and their broker requests) in memory at once.
 */
export const MAX_UNANSWERED = 1024;

/** PROTOCOL.md §Sessions: an anonymous connection may send only 01, 04 and 19. */
const ANONYMOUS_CODES = new Set<string>([Code.Register, Code.OpenSession, Code.IsValid]);

/**
 * The handler dedicated to one connection: its protocol state, the checks in
 * PROTOCOL.md's order (frame 400, state 401, src 403, then the request), and
 * the bookkeeping of `06` frames sent and acknowledged. It runs on a session
 * host thread; it never touches a socket (the main thread writes) nor SQL (the
 * broker does).
 */
export class Session {
  state: 'anonymous' | 'open' | 'closed' = 'anonymous';
  number = NOBODY;
  push = false;
  /** What the sessions gauge counts this connection as. */
  kind: 'anonymous' | 'push' | 'poll' = 'anonymous';
  /** `06` frames written on this connection, and how many of them the client acknowledged. */
  sent = 0;
  acked = 0;
  /** Row ids of the `06` frames sent and not yet acknowledged, oldest first, and whether each was a push. */
  readonly unacked: { id: number; pushed: boolean }[] = [];
  /** Push credit earned by acknowledgements while the socket was not draining. */
  heldCredit = 0;
  writable = true;
  private readonly inbox: Buffer[] = [];
  private blocked = false;
  private readonly slots: AnswerSlot[] = [];

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
    const bindings = this.number === NOBODY ? { sid: this.sid, remote: this.remote } : { sid: this.sid, remote: this.remote, number: this.number };
    return this.threadLogger.child(bindings);
  }

  /** A debug line, without building the child logger when debug is off. */
  debug(fields: object, message: string): void {
    if (this.threadLogger.isLevelEnabled('debug')) this.log.debug(fields, message);
  }

  receive(bytes: Buffer): void {
    for (let offset = 0; offset + FRAME_SIZE <= bytes.length; offset += FRAME_SIZE) {
      this.inbox.push(bytes.subarray(offset, offset + FRAME_SIZE));
    }
    this.processInbox();
  }

  private processInbox(): void {
    while (this.inbox.length > 0 && !this.blocked && this.state !== 'closed' && this.slots.length < MAX_UNANSWERED) {
      this.handleFrame(this.inbox.shift()!);
    }
  }

  private handleFrame(raw: Buffer): void {
    let frame: Frame;
    try {
      frame = decodeFrame(raw);
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      this.log.warn({ field: err.field, reason: err.message }, 'malformed frame');
      this.fail(fieldsOf(raw), Status.Malformed, err.message);
      return;
    }
    // PROTOCOL.md §Codes, check order: the frame, the state, src, the request.
    if (!isClientCode(frame.code)) return this.fail(frame, Status.Malformed, `code ${frame.code} is sent only by the server`);
    if (this.state === 'anonymous' && !ANONYMOUS_CODES.has(frame.code)) {
      return this.fail(frame, Status.Unauthorized, 'open a session (04) first');
    }
    if (this.state === 'open' && frame.src !== this.number) {
      return this.fail(frame, Status.Forbidden, 'src is not the session number');
    }
    const handler = HANDLERS[frame.code];
    try {
      handler(this, frame);
    } catch (err) {
      if (!(err instanceof ZapwireError)) throw err;
      this.fail(frame, err.status, err.message);
    }
  }

  /**
   * Asks the broker; `onValue` turns its answer into frames, an error becomes a
   * `09`. A `blocking` request holds back the frames after it until answered,
   * for requests whose answer decides what those frames may do (`04`).
   */
  ask(frame: Frame, request: AskRequest, onValue: (value: ReplyValue, slot: AnswerSlot) => void, blocking = false): void {
    const slot: AnswerSlot = { ready: false, frames: [], deliveries: [], close: false };
    this.slots.push(slot);
    if (blocking) this.blocked = true;
    this.host.request(request, (result) => {
      if (result.ok) onValue(result.value, slot);
      else {
        slot.frames.push(errorFrame(frame, result.status, result.reason));
        slot.close = statusClosesConnection(result.status);
      }
      slot.ready = true;
      this.flushSlots();
      if (blocking) this.blocked = false;
      // An answer leaving may also have made room under MAX_UNANSWERED.
      this.processInbox();
    });
  }

  /** Answers now, in turn after answers still waiting for the broker. */
  answer(init: FrameInit, close = false): void {
    this.slots.push({ ready: true, frames: [encodeFrame(init)], deliveries: [], close });
    this.flushSlots();
  }

  /** Answers a frame with `09`; 400, 401 and 409 also close the connection (PROTOCOL.md §Codes). */
  fail(cause: Pick<Frame, 'src' | 'dst' | 'ts'>, status: number, reason: string): void {
    const close = statusClosesConnection(status);
    this.slots.push({ ready: true, frames: [errorFrame(cause, status, reason)], deliveries: [], close });
    if (close) this.inbox.length = 0;
    this.flushSlots();
  }

  /** Messages the broker pushed (push session): written at once, counted as pushes. */
  deliver(messages: readonly WireMessage[]): void {
    if (this.state === 'closed') return;
    const frames = messages.map((m) => this.track(m, true));
    this.host.write(this.sid, frames, false);
  }

  /** Ends the session from the server's side (409 takeover, 503 shutdown). */
  end(status: number, reason: string): void {
    if (this.state === 'closed') return;
    this.log.info({ status }, reason);
    this.inbox.length = 0;
    this.host.write(this.sid, errorFrame({ src: NOBODY, dst: this.number, ts: 0 }, status, reason), true);
    this.state = 'closed';
  }

  private track(message: WireMessage, pushed: boolean): Buffer {
    this.sent++;
    this.host.metrics?.deliveredOne(message.storedAt);
    this.unacked.push({ id: message.id, pushed });
    return encodeFrame({ code: Code.Deliver, src: message.src, dst: message.dst, ts: message.ts, flag: message.flag, data: message.data });
  }

  private flushSlots(): void {
    while (this.slots.length > 0 && this.slots[0]!.ready && this.state !== 'closed') {
      const slot = this.slots.shift()!;
      // Polled messages are counted when written, so the cumulative 08 count
      // matches the order of the 06 frames on the wire.
      const frames = [...slot.deliveries.map((m) => this.track(m, false)), ...slot.frames];
      if (slot.close) this.state = 'closed';
      this.host.write(this.sid, frames, slot.close);
    }
    if (this.state === 'closed') this.slots.length = 0;
  }
}

function errorFrame(cause: Pick<Frame, 'src' | 'dst' | 'ts'>, status: number, reason: string): Buffer {
  return encodeFrame({ code: Code.Error, src: cause.src, dst: cause.dst, ts: cause.ts, data: `${status} ${reason}`.slice(0, 200) });
}

/** The src, dst and ts of a malformed frame where they are digits, so its 09 can echo them. */
function fieldsOf(raw: Buffer): Pick<Frame, 'src' | 'dst' | 'ts'> {
  const digits = (start: number, length: number) => {
    if (raw.length < start + length) return undefined;
    const s = raw.toString('latin1', start, start + length);
    return /^[0-9]+$/.test(s) ? s : undefined;
  };
  return { src: digits(2, 13) ?? NOBODY, dst: digits(15, 13) ?? NOBODY, ts: Number(digits(28, 10) ?? 0) };
}

