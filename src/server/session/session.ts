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
  /** `frames` of the connection's frames are finished: the main thread may read that many more (DESIGN.md §Flow control). */
  credit(sid: number, frames: number): void;
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

/** docs/protocol.md §Sessions: an anonymous connection may send only 01, 04 and 19. */
const ANONYMOUS_CODES = new Set<string>([Code.Register, Code.OpenSession, Code.IsValid]);

/**
 * The handler dedicated to one connection: its protocol state, the checks in
 * docs/protocol.md's order (frame 400, state 401, src 403, then the request), and
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
  /** When the last frame arrived (ms), for the anonymous time limit (docs/protocol.md §Limits). */
  lastFrameAt = Date.now();
  /**
   * Frames read and not yet handled. How many frames wait here and in
   * `slots` is bounded by the main thread, which stops reading a connection
   * with more than maxInflight frames unfinished (DESIGN.md §Flow control).
   */
  private readonly inbox: Buffer[] = [];
  private blocked = false;
  private readonly slots: AnswerSlot[] = [];
  /** Answer slots opened so far: a frame that opened none was finished when handled (an `08`). */
  private slotsOpened = 0;

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
   * No request waits for the broker (the anonymous time limit counts only
   * such time). Frames waiting in the inbox do not count: they wait for the
   * client to read its answers.
   */
  get idle(): boolean {
    return this.slots.length === 0;
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
      const opened = this.slotsOpened;
      this.handleFrame(this.inbox.shift()!);
      // Handled needing no answer (08): finished now. Otherwise its slot returns the credit when it leaves.
      if (this.slotsOpened === opened) this.host.credit(this.sid, 1);
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
    if (!isClientCode(frame.code)) return this.fail(frame, Status.Malformed, `code ${frame.code} is sent only by the server`);
    if (this.state === 'anonymous' && !ANONYMOUS_CODES.has(frame.code)) {
      return this.fail(frame, Status.Unauthorized, 'open a session (04) first');
    }
    if (this.state === 'open' && frame.src !== this.number) {
      return this.fail(frame, Status.Forbidden, 'src is not the session number');
    }
    const handler = HANDLERS[frame.code];
    try {
      if (this.options.faults?.frameData === frame.data) throw new Error(`injected fault: frame data ${JSON.stringify(frame.data)}`);
      handler(this, frame);
    } catch (err) {
      if (!(err instanceof ZapwireError)) return this.crash(err, `handling a ${frame.code}`);
      this.fail(frame, err.status, err.message);
    }
  }

  /**
   * DESIGN.md §Containment: an unexpected exception while handling this
   * session's frame or delivering to it ends this session alone (`09 503`,
   * close), never the thread and the other sessions it hosts.
   */
  crash(err: unknown, during: string): void {
    this.threadLogger.error({ err, sid: this.sid, number: this.number, remote: this.remote, during }, 'session failed: internal error');
    this.end(Status.Unavailable, 'internal error', false);
  }

  /**
   * Asks the broker; `onValue` turns its answer into frames, an error becomes a
   * `09`. A `blocking` request holds back the frames after it until answered,
   * for requests whose answer decides what those frames may do (`04`), or
   * whose answer is large (`03`: see handlers/poll.ts).
   */
  ask(frame: Frame, request: AskRequest, onValue: (value: ReplyValue, slot: AnswerSlot) => void, blocking = false): void {
    const slot = this.openSlot(false, false);
    if (blocking) this.blocked = true;
    this.host.request(request, (result) => {
      try {
        if (result.ok) onValue(result.value, slot);
        else {
          slot.frames.push(errorFrame(frame, result.status, result.reason));
          slot.close = statusClosesConnection(result.status);
        }
      } catch (err) {
        return this.crash(err, `answering a ${frame.code}`);
      }
      slot.ready = true;
      this.flushSlots();
      if (blocking) this.blocked = false;
      this.processInbox();
    });
  }

  /** Answers now, in turn after answers still waiting for the broker. */
  answer(init: FrameInit, close = false): void {
    this.openSlot(true, close).frames.push(encodeFrame(init));
    this.flushSlots();
  }

  /** Answers a frame with `09`; 400, 401 and 409 also close the connection (docs/protocol.md §Codes). */
  fail(cause: Pick<Frame, 'src' | 'dst' | 'ts'>, status: number, reason: string): void {
    const close = statusClosesConnection(status);
    this.openSlot(true, close).frames.push(errorFrame(cause, status, reason));
    if (close) this.dropInbox();
    this.flushSlots();
  }

  /** Messages the broker pushed (push session): written at once, counted as pushes. */
  deliver(messages: readonly WireMessage[]): void {
    if (this.state === 'closed') return;
    let frames: Buffer[];
    try {
      frames = messages.map((m) => this.track(m, true));
    } catch (err) {
      // Not written: the rows stay pending for the next session.
      return this.crash(err, 'delivering a push');
    }
    this.host.write(this.sid, frames, false);
  }

  /** Ends the session from the server's side (409 takeover, 503 shutdown or failure, 408 anonymous time limit). */
  end(status: number, reason: string, logged = true): void {
    if (this.state === 'closed') return;
    if (logged) this.log.info({ status }, reason);
    this.dropInbox();
    this.dropSlots();
    this.host.write(this.sid, errorFrame({ src: NOBODY, dst: this.number, ts: 0 }, status, reason), true);
    this.state = 'closed';
  }

  /** One answer slot per frame that gets an answer: it returns the frame's credit when it leaves. */
  private openSlot(ready: boolean, close: boolean): AnswerSlot {
    const slot: AnswerSlot = { ready, frames: [], deliveries: [], close };
    this.slots.push(slot);
    this.slotsOpened++;
    return slot;
  }

  /** Frames dropped unhandled because the session closed are finished too. */
  private dropInbox(): void {
    if (this.inbox.length === 0) return;
    this.host.credit(this.sid, this.inbox.length);
    this.inbox.length = 0;
  }

  private dropSlots(): void {
    if (this.slots.length === 0) return;
    this.host.credit(this.sid, this.slots.length);
    this.slots.length = 0;
  }

  private track(message: WireMessage, pushed: boolean): Buffer {
    if (this.options.faults?.deliveryData === message.data) throw new Error(`injected fault: delivery data ${JSON.stringify(message.data)}`);
    const frame = encodeFrame({ code: Code.Deliver, src: message.src, dst: message.dst, ts: message.ts, flag: message.flag, data: message.data });
    // Counted only once encoded, so that sent and unacked never count a frame that was not written.
    this.sent++;
    this.host.metrics?.deliveredOne(message.storedAt);
    this.unacked.push({ id: message.id, pushed });
    return frame;
  }

  private flushSlots(): void {
    let left = 0;
    try {
      while (this.slots.length > 0 && this.slots[0]!.ready && this.state !== 'closed') {
        const slot = this.slots[0]!;
        // Polled messages are counted when written, so the cumulative 08 count
        // matches the order of the 06 frames on the wire.
        const frames = [...slot.deliveries.map((m) => this.track(m, false)), ...slot.frames];
        this.slots.shift();
        left++;
        if (slot.close) this.state = 'closed';
        this.host.write(this.sid, frames, slot.close);
      }
    } catch (err) {
      this.crash(err, 'delivering a poll answer');
    }
    if (left > 0) this.host.credit(this.sid, left);
    if (this.state === 'closed') this.dropSlots();
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

