/**
 * The byte stream under one version 1 connection: what `Connection` needs of
 * it to read frames, write answers in turns and apply flow control.
 *
 * It is the part of `net.Socket`'s API that Connection uses, so that a TCP
 * (or TLS) socket is its own wire with no wrapper object: a server holds tens
 * of thousands of them, and the main thread's memory per connection is
 * counted (DESIGN.md §Memory). A WebSocket connection is a `WebSocketWire`
 * (websocket-wire.ts), which emits the same events.
 *
 * Events: `'data'` (a Buffer of input; a WebSocket wire emits only whole
 * frames), `'drain'` (the output queued fell back), `'error'`, `'close'` (once).
 */
export interface Wire {
  /** Bytes written and not yet taken by the kernel. */
  readonly writableLength: number;
  /** Nothing more can be written. */
  readonly destroyed: boolean;
  /** The connection has closed (its `'close'` was emitted). */
  readonly closed: boolean;
  setNoDelay(noDelay?: boolean): unknown;
  write(bytes: Buffer): unknown;
  /** Until uncork(), writes are gathered and leave together (one writev, one WebSocket message). */
  cork(): void;
  uncork(): void;
  /** Stops reading input (flow control) until resume(). */
  pause(): unknown;
  resume(): unknown;
  /** Sends what was written, then closes. */
  end(): unknown;
  /** Closes at once, dropping what was not sent. */
  destroy(): unknown;
  on(event: 'data', listener: (chunk: Buffer) => void): unknown;
  on(event: 'drain' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  once(event: 'close', listener: () => void): unknown;
}
