import { AnswerQueue } from '../../src/client/answer-queue.js';
import { ConnectionError, type ZapwireError } from '../../src/errors.js';
import type { Code } from '../../src/protocol/codes.js';
import {
  decodeFrame,
  encodeFrame,
  FRAME_SIZE,
  type Frame,
  type FrameInit,
  NOBODY,
} from '../../src/protocol/frame.js';

/** The WebSocket transport of the HTTP listener (docs/protocol.md §WebSocket). */
export function webSocketUrl(location: Location): string {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
}

export interface FrameSocketEvents {
  /** A `06`, in the order the server sent them. */
  delivery(frame: Frame): void;
  /** The connection ended; `error` says why when it was not close(). */
  closed(error: ZapwireError | undefined): void;
}

/**
 * One version 1 connection over a WebSocket: each binary message carries whole
 * 256-byte frames, decoded with the server's own codec. Answers are matched to
 * requests in order by the SDK's AnswerQueue, as on TCP.
 */
export class FrameSocket {
  private readonly answers: AnswerQueue;
  private self = NOBODY;
  private ended = false;

  private constructor(
    private readonly ws: WebSocket,
    private readonly events: FrameSocketEvents,
  ) {
    this.answers = new AnswerQueue(() => this.self);
    ws.onmessage = (event) => this.onMessage(event.data);
    ws.onclose = () => this.end(new ConnectionError('connection closed by the server'));
  }

  /** Resolves once the WebSocket is open; rejects (ConnectionError) if it cannot be. */
  static open(url: string, events: FrameSocketEvents): Promise<FrameSocket> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'arraybuffer';
      ws.onopen = () => resolve(new FrameSocket(ws, events));
      ws.onerror = () => reject(new ConnectionError(`cannot connect to ${url}`));
      ws.onclose = () => reject(new ConnectionError(`cannot connect to ${url}`));
    });
  }

  /** The session's number, once its `04` was answered `ok` (every frame of a session carries it). */
  opened(number: string): void {
    this.self = number;
  }

  /** Writes a request and resolves with its answer (`answer`), or rejects with the `09`'s error. */
  request(init: FrameInit, answer: Code): Promise<Frame> {
    if (this.ended) return Promise.reject(new ConnectionError('not connected'));
    return new Promise((resolve, reject) => {
      this.answers.add({ answer, resolve, reject });
      this.ws.send(encodeFrame(init));
    });
  }

  /** Writes a frame that has no answer (`08`). */
  send(init: FrameInit): void {
    if (!this.ended) this.ws.send(encodeFrame(init));
  }

  close(): void {
    this.end(undefined);
  }

  private onMessage(data: unknown): void {
    if (this.ended) return;
    if (!(data instanceof ArrayBuffer) || data.byteLength % FRAME_SIZE !== 0)
      return this.end(new ConnectionError('the server sent something that is not whole frames'));
    for (let offset = 0; offset < data.byteLength && !this.ended; offset += FRAME_SIZE) {
      let frame: Frame;
      try {
        frame = decodeFrame(new Uint8Array(data, offset, FRAME_SIZE));
      } catch (err) {
        return this.end(new ConnectionError(`malformed frame from the server: ${String(err)}`));
      }
      const routed = this.answers.route(frame);
      if (routed.kind === 'delivery') this.events.delivery(frame);
      else if (routed.kind === 'connection-error') this.end(routed.error);
      else if (routed.kind === 'unexpected') this.end(new ConnectionError(routed.reason));
    }
  }

  private end(error: ZapwireError | undefined): void {
    if (this.ended) return;
    this.ended = true;
    this.ws.onmessage = null;
    this.ws.onclose = null;
    this.ws.close();
    this.answers.rejectAll(() => new ConnectionError('connection lost', { cause: error }));
    this.events.closed(error);
  }
}
