import type { Logger } from 'pino';
import { Code } from '../../protocol/codes.js';
import { encodeFrame, FRAME_SIZE } from '../../protocol/frame.js';
import { FrameSplitter } from '../../protocol/frame-splitter.js';
import { Status } from '../../protocol/status.js';
import { asBuffer } from '../threads/batched-port.js';
import type { HostHandle } from './host-pool.js';
import type { Wire } from './wire.js';

/** Output queued in the socket beyond which the session stops getting pushes and the socket stops being read. */
export const WRITE_HIGH_WATER = 64 * 1024;
/**
 * The most whole frames one socket read can carry: libuv reads at most 64 KiB
 * at a time. A connection's frames in flight are therefore at most
 * maxInflight + this (the read that went over the budget is handed on whole).
 */
export const FRAMES_PER_READ = (64 * 1024) / FRAME_SIZE;
/** How long a connection we closed may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 5_000;

/** The connection a socket belongs to, so that every socket shares one set of listener functions. */
const CONNECTION = Symbol('zapwire.connection');
type TaggedSocket = Wire & { [CONNECTION]: Connection };

// Module-level listeners rather than closures per connection: a server holds
// tens of thousands of sockets, and four closures and their context were a
// tenth of a connection's heap on this thread.
function onSocketData(this: TaggedSocket, chunk: Buffer): void {
  this[CONNECTION].onData(chunk);
}
function onSocketDrain(this: TaggedSocket): void {
  this[CONNECTION].onDrain();
}
function onSocketError(this: TaggedSocket, err: Error): void {
  const connection = this[CONNECTION];
  connection.debug({ err: err.message }, 'socket error');
}
function onSocketClose(this: TaggedSocket): void {
  const connection = this[CONNECTION];
  connection.onClosed(connection);
}

/** What the listener shares with its connections: the flow-control budget and the figures flowStats reports. */
export interface FlowState {
  /** Frames of one connection that may wait in its host before the socket stops being read (docs/protocol.md §Limits). */
  readonly maxInflight: number;
  /** The most frames in flight any connection has had since the server started. */
  peakInflight: number;
  /** Tells the broker, which writes this connection's pushes, that its socket stopped draining or drains again. */
  readonly pushesWritable: (sid: number, writable: boolean) => void;
  /** The socket was corked for the thread message being handled: uncork it once that message is done. */
  readonly corked: (connection: Connection) => void;
}

/**
 * The main thread's side of one version 1 connection: cuts the stream into
 * frames for the session's host, and is the one writer of the socket.
 *
 * Reading stops for either of two reasons, and resumes only when neither
 * holds (DESIGN.md §Flow control):
 * - output: the socket stops draining (more than WRITE_HIGH_WATER queued).
 *   The session is told and stops pushing (its messages stay pending), so a
 *   client that never reads costs bounded memory.
 * - input: more than maxInflight frames were handed to the host and not yet
 *   finished (the host returns credit as each frame's answer leaves, or as
 *   it is handled needing none), so a client that pipelines faster than it
 *   is served waits in its own socket buffers, not in thread messages.
 */
export class Connection {
  private readonly splitter = new FrameSplitter();
  /** Output not draining. */
  private outputBlocked = false;
  /** Whether socket.pause() is in force (for either reason). */
  private readingPaused = false;
  /** Frames handed to the host not yet finished: answered (counted here as each answer is written) or returned as credit. */
  inflight = 0;
  /**
   * DESIGN.md §Answer order: the session numbers the answer slots of its
   * frames; answers come from the session's host or from the broker and
   * are written in slot order. `nextSlot` is the next to write; an answer
   * that came before its turn waits in `early` (from the host) or at the
   * head of `fromBroker`, behind which the broker's later output waits too,
   * so its `06`s reach the wire in the order its ledger counted them. At
   * most maxInflight + 256 answers (frames in flight) and one push window
   * of `06`s can wait.
   */
  private nextSlot = 0;
  // Made when first needed: most connections never hold an answer back, and
  // an empty Map and array per socket were ~0.3 KB each of 18,000.
  private early: Map<number, { bytes: Uint8Array; close: boolean }> | undefined;
  private fromBroker: { slot: number | undefined; bytes: Uint8Array; close: boolean }[] | undefined;
  /** A `09` that ends the connection once the slots below `after` are written. */
  private pendingEnd: { bytes: Uint8Array; after: number } | undefined;
  private ending = false;
  private stopped = false;

  constructor(
    readonly sid: number,
    /** The byte stream: a TCP (or TLS) socket, or a WebSocket's wire. */
    readonly socket: Wire,
    readonly host: HostHandle,
    /** The client's source address, as admitted (released with it when the socket closes). */
    readonly address: string,
    private readonly flow: FlowState,
    /** The listener's logger; `log` adds this connection's sid when a line is written. */
    readonly logger: Logger,
    /** Called once when the socket has closed. */
    readonly onClosed: (connection: Connection) => void,
  ) {
    socket.setNoDelay(true);
    (socket as TaggedSocket)[CONNECTION] = this;
    socket.on('data', onSocketData);
    socket.on('drain', onSocketDrain);
    socket.on('error', onSocketError);
    socket.once('close', onSocketClose);
  }

  get log(): Logger {
    return this.logger.child({ sid: this.sid });
  }

  /** A debug line, without building the child logger when debug is off. */
  debug(fields: object, message: string): void {
    if (this.logger.isLevelEnabled('debug')) this.log.debug(fields, message);
  }

  /** @internal socket 'data' */
  onData(chunk: Buffer): void {
    // After stopReading, bytes are read and dropped rather than left unread:
    // a paused socket with bytes buffered never emits 'end' for the peer's
    // FIN, so it would not close and shutdown would wait for closeAll's timeout.
    if (this.stopped) return;
    const whole = Math.floor((this.splitter.buffered + chunk.length) / FRAME_SIZE);
    if (whole === 0) {
      this.splitter.push(chunk, () => {});
      return;
    }
    // One exact-size copy per read, handed to the host as one message.
    const bytes = new Uint8Array(whole * FRAME_SIZE);
    let offset = 0;
    this.splitter.push(chunk, (frame) => {
      bytes.set(frame, offset);
      offset += FRAME_SIZE;
    });
    this.host.inbound.send({ t: 'frames', sid: this.sid, bytes });
    this.inflight += whole;
    if (this.inflight > this.flow.peakInflight) this.flow.peakInflight = this.inflight;
    // docs/protocol.md §Limits: a connection whose requests wait is not read further.
    if (this.inflight > this.flow.maxInflight) this.updateReading();
  }

  /** The host finished `frames` of this connection's frames. */
  credit(frames: number): void {
    this.inflight -= frames;
    if (this.readingPaused && this.inflight <= this.flow.maxInflight) this.updateReading();
    if (this.endWhenFinished && this.inflight === 0) this.writeEndWhenFinished();
  }

  /** A `09 400` for input that is not frames, written once every frame handed on before it is finished. */
  private endWhenFinished: Uint8Array | undefined;

  /**
   * Input that cannot be cut into frames (a WebSocket text message, or one
   * that is not whole frames: docs/protocol.md §WebSocket): `09 400` and
   * close. Nothing more is read; the frames already handed to the host are
   * answered first, so the `09` comes after their answers, as it would after
   * the answers of the frames before a malformed one. No frame caused it, so
   * it echoes no src, dst or ts.
   */
  malformedInput(reason: string): void {
    if (this.ending || this.endWhenFinished) return;
    this.debug({ reason }, 'malformed input');
    this.stopReading();
    this.endWhenFinished = encodeFrame({ code: Code.Error, data: `${Status.Malformed} ${reason}` });
    if (this.inflight === 0) this.writeEndWhenFinished();
    // A host that cannot finish them (its client reads nothing) does not keep the connection.
    else setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private writeEndWhenFinished(): void {
    const bytes = this.endWhenFinished!;
    this.endWhenFinished = undefined;
    this.end(bytes, undefined);
  }

  /** Reading paused for either reason (flowStats). */
  get paused(): boolean {
    return this.readingPaused;
  }

  /**
   * Pauses or resumes the socket for what holds now. Once the connection is
   * stopped or ending, input is read and dropped (see onData) rather than
   * left unread, whatever the reasons: a paused socket with bytes buffered
   * never sees the peer's FIN behind them, so it would not close.
   */
  private updateReading(): void {
    const pause =
      !this.stopped &&
      !this.ending &&
      (this.outputBlocked || this.inflight > this.flow.maxInflight);
    if (pause === this.readingPaused) return;
    this.readingPaused = pause;
    if (pause) this.socket.pause();
    else this.socket.resume();
  }

  /** The answer of slot `slot`, made by the session's host. */
  answer(slot: number, bytes: Uint8Array, close: boolean): void {
    if (this.ending) return;
    if (slot !== this.nextSlot) {
      (this.early ??= new Map()).set(slot, { bytes, close });
      return;
    }
    this.writeAnswer(bytes, close);
    this.writeWaiting();
  }

  /** From the broker: the answer of slot `slot`, or `06` frames (slot undefined), in the order it sent them. */
  fromTheBroker(slot: number | undefined, bytes: Uint8Array, close: boolean): void {
    if (this.ending) return;
    if (
      (this.fromBroker !== undefined && this.fromBroker.length > 0) ||
      (slot !== undefined && slot !== this.nextSlot)
    ) {
      (this.fromBroker ??= []).push({ slot, bytes, close });
      return;
    }
    if (slot === undefined) this.write(bytes, false);
    else this.writeAnswer(bytes, close);
    this.writeWaiting();
  }

  /** A `09` that ends the session: written now, or once the slots below `after` have been. */
  end(bytes: Uint8Array, after: number | undefined): void {
    if (this.ending) return;
    if (after === undefined || after <= this.nextSlot) {
      this.write(bytes, true);
      return;
    }
    this.pendingEnd = { bytes, after };
  }

  private writeAnswer(bytes: Uint8Array, close: boolean): void {
    this.nextSlot++;
    this.write(bytes, close);
    this.credit(1);
  }

  /** Writes whatever has become next in turn. */
  private writeWaiting(): void {
    for (;;) {
      if (this.ending) return;
      const early = this.early?.get(this.nextSlot);
      if (early) {
        this.early!.delete(this.nextSlot);
        this.writeAnswer(early.bytes, early.close);
        continue;
      }
      const head = this.fromBroker?.[0];
      if (head && (head.slot === undefined || head.slot === this.nextSlot)) {
        this.fromBroker!.shift();
        if (head.slot === undefined) this.write(head.bytes, false);
        else this.writeAnswer(head.bytes, head.close);
        continue;
      }
      break;
    }
    if (this.pendingEnd && this.pendingEnd.after <= this.nextSlot) {
      const { bytes } = this.pendingEnd;
      this.pendingEnd = undefined;
      this.write(bytes, true);
    }
  }

  /** Corked until the thread message being handled is done (see uncork). */
  private isCorked = false;

  private write(bytes: Uint8Array, close: boolean): void {
    if (this.ending || this.socket.destroyed) return;
    // One thread message carries many answers and 06s, several of them often
    // for one socket (a sender with 16 unanswered 05s): corked, they leave in
    // one writev rather than one syscall each.
    if (!this.isCorked) {
      this.isCorked = true;
      this.socket.cork();
      this.flow.corked(this);
    }
    this.socket.write(asBuffer(bytes));
    if (close) {
      this.ending = true;
      // What the client sends after its session ended is read and dropped.
      this.stopped = true;
      this.updateReading();
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
      return;
    }
    // While corked everything written waits in writableLength; whether the
    // socket drains is judged once uncorked, when the kernel has taken what it takes.
    if (!this.isCorked) this.checkDraining();
  }

  private checkDraining(): void {
    if (!this.outputBlocked && !this.ending && this.socket.writableLength > WRITE_HIGH_WATER) {
      this.outputBlocked = true;
      this.updateReading();
      this.host.inbound.send({ t: 'writable', sid: this.sid, writable: false });
      this.flow.pushesWritable(this.sid, false);
      this.debug({ queued: this.socket.writableLength }, 'socket not draining: pushes paused');
    }
  }

  /** Writes what was corked. */
  uncork(): void {
    if (!this.isCorked) return;
    this.isCorked = false;
    this.socket.uncork();
    this.checkDraining();
  }

  /** @internal socket 'drain' */
  onDrain(): void {
    if (!this.outputBlocked) return;
    this.outputBlocked = false;
    this.updateReading();
    this.host.inbound.send({ t: 'writable', sid: this.sid, writable: true });
    this.flow.pushesWritable(this.sid, true);
  }

  /** Stops reading: shutdown lets what was read finish, and handles nothing new (see onData). */
  stopReading(): void {
    this.stopped = true;
    this.updateReading();
  }
}
