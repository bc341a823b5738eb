import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { type RawData, WebSocket } from 'ws';
import { FRAME_SIZE } from '../../protocol/frame.js';
import type { Wire } from './wire.js';

/** The WebSocket close code sent when the connection ends after its last `09` (or at the server's end). */
const NORMAL_CLOSURE = 1000;

/**
 * A version 1 connection carried by a WebSocket (docs/protocol.md §WebSocket):
 * each binary message holds one or more whole 256-byte frames, both ways.
 *
 * Input: a whole-frame binary message is `'data'`, exactly as a socket read
 * is for TCP. A text message, or one whose length is not a positive multiple
 * of 256, is `'malformed'` with the reason (the connection answers `09 400`
 * and closes); nothing after it is passed on.
 *
 * Output: while corked (one thread message being handled) the frames written
 * are gathered and leave as one binary message at uncork, so a turn's answers
 * and `06`s cost one WebSocket frame, as they cost one writev on TCP.
 * Flow control acts on the TCP socket under the WebSocket: `pause()` stops
 * reading it, `writableLength` is what waits in it (ws's `bufferedAmount`),
 * and its `'drain'` is this wire's.
 */
export class WebSocketWire extends EventEmitter implements Wire {
  private batch: Buffer[] = [];
  private batchBytes = 0;
  private corked = false;
  private refused = false;

  constructor(
    private readonly ws: WebSocket,
    /** The upgraded TCP (or TLS) socket the WebSocket runs on. */
    private readonly socket: Socket,
  ) {
    super();
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('error', (err) => this.emit('error', err));
    ws.once('close', () => this.emit('close'));
    socket.on('drain', () => this.emit('drain'));
  }

  get writableLength(): number {
    return this.ws.bufferedAmount + this.batchBytes;
  }

  get destroyed(): boolean {
    return this.ws.readyState !== WebSocket.OPEN;
  }

  get closed(): boolean {
    return this.ws.readyState === WebSocket.CLOSED;
  }

  setNoDelay(noDelay = true): this {
    this.socket.setNoDelay(noDelay);
    return this;
  }

  write(bytes: Buffer): boolean {
    if (this.destroyed) return false;
    if (this.corked) {
      this.batch.push(bytes);
      this.batchBytes += bytes.length;
    } else this.ws.send(bytes, { binary: true });
    return true;
  }

  cork(): void {
    this.corked = true;
  }

  uncork(): void {
    this.corked = false;
    this.flush();
  }

  pause(): this {
    this.ws.pause();
    return this;
  }

  resume(): this {
    this.ws.resume();
    return this;
  }

  end(): this {
    this.corked = false;
    this.flush();
    // After the close, what the client still sends is read by ws and dropped (refused).
    this.refused = true;
    this.ws.close(NORMAL_CLOSURE);
    return this;
  }

  destroy(): this {
    this.ws.terminate();
    return this;
  }

  private flush(): void {
    if (this.batch.length === 0) return;
    const message = this.batch.length === 1 ? this.batch[0]! : Buffer.concat(this.batch);
    this.batch = [];
    this.batchBytes = 0;
    if (!this.destroyed) this.ws.send(message, { binary: true });
  }

  private onMessage(raw: RawData, isBinary: boolean): void {
    if (this.refused) return;
    // binaryType 'nodebuffer' (ws's default, never changed here): a message is one Buffer, fragments joined.
    const data = raw as Buffer;
    const reason = malformedMessage(data, isBinary);
    if (reason !== undefined) {
      this.refused = true;
      this.emit('malformed', reason);
      return;
    }
    this.emit('data', data);
  }
}

/** Why a WebSocket message cannot be version 1 input, or undefined when it is one or more whole frames. */
export function malformedMessage(data: Buffer, isBinary: boolean): string | undefined {
  if (!isBinary) return 'a WebSocket text message (frames travel in binary messages)';
  const { length } = data;
  if (length === 0 || length % FRAME_SIZE !== 0)
    return `a WebSocket message of ${length} bytes (not whole ${FRAME_SIZE}-byte frames)`;
  return undefined;
}
