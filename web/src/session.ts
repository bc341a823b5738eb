import { type BackoffOptions, backoffDelay } from '../../src/client/backoff.js';
import {
  ConnectionError,
  ReplacedError,
  UnauthorizedError,
  type ZapwireError,
} from '../../src/errors.js';
import { Code } from '../../src/protocol/codes.js';
import type { Frame, FrameInit } from '../../src/protocol/frame.js';
import type { Account } from './credentials.js';
import { FrameSocket } from './frame-socket.js';

export type SessionState =
  | { kind: 'connecting' }
  | { kind: 'open' }
  /** Disconnected; the next attempt is at `retryAt` (ms since the epoch). */
  | { kind: 'offline'; retryAt: number; reason: string }
  /** A newer push session of this number (another tab, another device) took over: `09 409`. */
  | { kind: 'replaced' }
  /** The server refused the number and token: `09 401`. */
  | { kind: 'unauthorized'; reason: string }
  | { kind: 'stopped' };

export interface SessionHandlers {
  state(state: SessionState): void;
  /** Keeps a delivered `06`; the session acknowledges it (`08`) only once this resolves. */
  delivery(frame: Frame): Promise<void>;
  /** The session is open (again): time to send what waited. */
  opened(): void;
}

export const RECONNECT_BACKOFF: BackoffOptions = { initialDelayMs: 500, maxDelayMs: 15_000 };

/** Registers a new number (`01` -> `02`) on a connection of its own. */
export async function register(url: string, name: string): Promise<Account> {
  const socket = await FrameSocket.open(url, { delivery: () => {}, closed: () => {} });
  try {
    const answer = await socket.request({ code: Code.Register, data: name }, Code.Registered);
    return { number: answer.dst, token: answer.data, name };
  } finally {
    socket.close();
  }
}

/**
 * The browser's push session (docs/protocol.md §Sessions): `04` with flag 1,
 * then every `06` as it is stored, each acknowledged by a cumulative `08`
 * once the chat has written it down. When the connection drops it comes
 * back by itself, with the SDK's jittered exponential backoff, and at once
 * when the browser says it is online again.
 */
export class PushSession {
  private socket: FrameSocket | undefined;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running = false;
  private readonly onOnline = () => this.retryNow();

  constructor(
    private readonly url: string,
    private readonly account: Account,
    private readonly handlers: SessionHandlers,
    private readonly backoff: BackoffOptions = RECONNECT_BACKOFF,
  ) {
    window.addEventListener('online', this.onOnline);
  }

  get isOpen(): boolean {
    return this.socket !== undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.attempt = 0;
    void this.connect();
  }

  /** Ends the session for good (sign-out). */
  stop(): void {
    window.removeEventListener('online', this.onOnline);
    this.running = false;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = undefined;
    socket?.close();
    this.handlers.state({ kind: 'stopped' });
  }

  /** A request on the open session; ConnectionError when there is none. */
  request(init: Omit<FrameInit, 'src'>, answer: Code): Promise<Frame> {
    if (!this.socket) return Promise.reject(new ConnectionError('offline'));
    return this.socket.request({ ...init, src: this.account.number }, answer);
  }

  /** Offline and waiting for the next attempt: make it now. */
  retryNow(): void {
    if (!this.running || this.socket || this.timer === undefined) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    void this.connect();
  }

  private async connect(): Promise<void> {
    this.timer = undefined;
    this.handlers.state({ kind: 'connecting' });
    let taken = 0;
    let chain = Promise.resolve();
    let socket: FrameSocket | undefined;
    try {
      socket = await FrameSocket.open(this.url, {
        delivery: (frame) => {
          // One at a time, in order: the `08` count covers only what was written down.
          chain = chain
            .then(() => this.handlers.delivery(frame))
            .then(
              () =>
                socket?.send({ code: Code.Ack, src: this.account.number, data: String(++taken) }),
              () => socket?.close(),
            );
        },
        closed: (error) => this.closed(socket!, error),
      });
      if (!this.running) return socket.close();
      await socket.request(
        { code: Code.OpenSession, src: this.account.number, flag: true, data: this.account.token },
        Code.OpenSession,
      );
      socket.opened(this.account.number);
      this.socket = socket;
      this.attempt = 0;
      this.handlers.state({ kind: 'open' });
      this.handlers.opened();
    } catch (err) {
      socket?.close();
      if (err instanceof UnauthorizedError) {
        this.running = false;
        this.handlers.state({ kind: 'unauthorized', reason: err.message });
        return;
      }
      this.retryLater(err as ZapwireError);
    }
  }

  private closed(socket: FrameSocket, error: ZapwireError | undefined): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    if (!this.running) return;
    if (error instanceof ReplacedError) {
      this.running = false;
      this.handlers.state({ kind: 'replaced' });
      return;
    }
    this.retryLater(error);
  }

  private retryLater(error: ZapwireError | undefined): void {
    if (!this.running || this.timer !== undefined) return;
    const delay = backoffDelay(this.attempt++, this.backoff);
    this.timer = setTimeout(() => void this.connect(), delay);
    this.handlers.state({
      kind: 'offline',
      retryAt: Date.now() + delay,
      reason: error?.message ?? 'disconnected',
    });
  }
}
