import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { FrameSplitter } from '../../protocol/frame-splitter.js';
import { FRAME_SIZE } from '../../protocol/frame.js';
import { asBuffer } from '../batched-port.js';
import type { HostHandle } from './host-pool.js';

/** Output queued in the socket beyond which the session stops getting pushes and the socket stops being read. */
export const WRITE_HIGH_WATER = 64 * 1024;
/** How long a connection we closed may take to flush before it is destroyed. */
const CLOSE_GRACE_MS = 5_000;

/** The connection a socket belongs to, so that every socket shares one set of listener functions. */
const CONNECTION = Symbol('zapwire.connection');
type TaggedSocket = Socket & { [CONNECTION]: Connection };

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

/**
 * The main thread's side of one version 1 connection: cuts the stream into
 * frames for the session's host, and is the one writer of the socket. When the
 * socket stops draining it stops reading from it and tells the session, which
 * stops pushing (its messages stay pending), so a client that never reads
 * costs bounded memory.
 */
export class Connection {
  private readonly splitter = new FrameSplitter();
  private paused = false;
  private ending = false;
  private stopped = false;

  constructor(
    readonly sid: number,
    readonly socket: Socket,
    readonly host: HostHandle,
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
  }

  write(bytes: Uint8Array, close: boolean): void {
    if (this.ending || this.socket.destroyed) return;
    this.socket.write(asBuffer(bytes));
    if (close) {
      this.ending = true;
      this.socket.end();
      setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
      return;
    }
    if (!this.paused && this.socket.writableLength > WRITE_HIGH_WATER) {
      this.paused = true;
      this.socket.pause();
      this.host.inbound.send({ t: 'writable', sid: this.sid, writable: false });
      this.debug({ queued: this.socket.writableLength }, 'socket not draining: pushes paused');
    }
  }

  /** @internal socket 'drain' */
  onDrain(): void {
    if (!this.paused) return;
    this.paused = false;
    // Also after stopReading: onData drops what comes, and reading is how the peer's FIN is seen.
    this.socket.resume();
    this.host.inbound.send({ t: 'writable', sid: this.sid, writable: true });
  }

  /** Stops reading: shutdown lets what was read finish, and handles nothing new (see onData). */
  stopReading(): void {
    this.stopped = true;
  }
}
