import { connect, isIP, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import {
  ConnectionError,
  FrameError,
  MalformedRequestError,
  type ZapwireError,
} from '../errors.js';
import { Code } from '../protocol/codes.js';
import { decodeFrame, encodeFrame, type Frame, type FrameInit, NOBODY } from '../protocol/frame.js';
import { FrameSplitter } from '../protocol/frame-splitter.js';
import { AnswerQueue, lostError } from './answer-queue.js';
import type { TlsClientOptions } from './client-options.js';

export interface ConnectionSettings {
  host: string;
  port: number;
  /** Undefined: plain TCP. */
  tls?: Readonly<TlsClientOptions> | undefined;
  /** Give up connecting after this long, in ms; 0 waits for the operating system. */
  connectTimeoutMs: number;
  /** A request unanswered this long ends the connection, in ms; 0 waits forever. */
  requestTimeoutMs: number;
  /** Longest wait before acknowledging received `06` frames, in ms. */
  ackDelayMs: number;
  /** Acknowledge at once when this many `06` frames are unacknowledged. */
  ackEvery: number;
}

export interface ConnectionHooks {
  /**
   * A `06` was read. It counts as received (for the cumulative `08`) only once
   * this returns true: what it does synchronously is done before the server
   * may delete the message. False: it was not taken, so neither it nor any
   * `06` after it on this connection is counted or delivered (the count is
   * cumulative: no later frame can be acknowledged without it).
   */
  delivery(frame: Frame): boolean;
  /** The socket is gone, once. `error` is undefined only after `end()`. */
  closed(error: ZapwireError | undefined): void;
}

/**
 * One TCP connection to a protocol v1 server: the codec on the socket, the
 * FIFO of pending requests, and the count of received `06` frames with its
 * batched cumulative `08`. It knows nothing of reconnecting or of events: the
 * client decides what a connection is for and what to do when it ends.
 */
export class Connection {
  /** The session's number once `04` is answered `ok`; every frame of the session carries it as `src`. */
  self = NOBODY;
  /** The socket is gone. */
  closed = false;
  /** Why it ended (undefined while open, or after `end()` without a reason). */
  closeError: ZapwireError | undefined;
  private readonly answers = new AnswerQueue(() => this.self);
  private readonly splitter = new FrameSplitter();
  /** `06` frames handled on this connection, and the count the last `08` carried. */
  private received = 0;
  private acked = 0;
  private ackTimer: NodeJS.Timeout | undefined;
  private readonly requestTimers = new Set<NodeJS.Timeout>();
  /** While set, `06` frames wait here instead of being delivered. */
  private held: Frame[] | undefined;
  /** A delivery was not taken: nothing more is delivered or counted here. */
  private declined = false;
  private failure: ZapwireError | undefined;
  private ending = false;
  /** Why `end(reason)` ended it. */
  private endReason: ZapwireError | undefined;
  /** Something came from the server on this connection. */
  private heard = false;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  private constructor(
    private readonly socket: Socket,
    private readonly settings: Readonly<ConnectionSettings>,
    private readonly hooks: ConnectionHooks,
  ) {
    this.closedPromise = new Promise((resolve) => (this.resolveClosed = resolve));
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.failure ??= new ConnectionError(
        `connection to ${this.where} lost (${err.code ?? err.message})`,
        { cause: err },
      );
    });
    socket.on('close', () => this.onClose());
  }

  /** Opens the TCP connection; rejects with a ConnectionError that says why (ECONNREFUSED, timeout...). */
  static open(settings: Readonly<ConnectionSettings>, hooks: ConnectionHooks): Promise<Connection> {
    const where = `${settings.host}:${settings.port}`;
    return new Promise((resolve, reject) => {
      const { host, port, tls } = settings;
      // The server's name is checked against its certificate; SNI takes a name, never an address.
      const socket = tls
        ? connectTls({ host, port, ...(isIP(host) ? {} : { servername: host }), ...tls })
        : connect({ host, port });
      let timer: NodeJS.Timeout | undefined;
      const onError = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(connectError(err, where));
      };
      if (settings.connectTimeoutMs > 0) {
        timer = setTimeout(() => {
          socket.off('error', onError);
          socket.on('error', () => {});
          socket.destroy();
          reject(
            new ConnectionError(
              `cannot reach ${where} (no answer in ${duration(settings.connectTimeoutMs)})`,
            ),
          );
        }, settings.connectTimeoutMs);
      }
      socket.once('error', onError);
      socket.once(tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        resolve(new Connection(socket, settings, hooks));
      });
    });
  }

  get where(): string {
    return `${this.settings.host}:${this.settings.port}`;
  }

  /** Requests written and not yet answered. */
  get pending(): number {
    return this.answers.size;
  }

  /**
   * `04`: opens a session as `number`. Resolves on `04 ok`; rejects with the
   * typed error of the `09` (UnauthorizedError on 401). `self` is set as the
   * answer is read, before any frame after it.
   */
  async openSession(number: string, token: string, push: boolean): Promise<void> {
    const [answer] = this.requestMany(
      [{ code: Code.OpenSession, src: number, flag: push, data: token }],
      Code.OpenSession,
      (frame) => {
        if (frame.data === 'ok') this.self = number;
      },
    );
    const frame = await answer!;
    if (frame.data !== 'ok') {
      const error = new ConnectionError(
        `the server answered 04 with ${JSON.stringify(frame.data)} instead of ok`,
      );
      this.destroy(error);
      throw error;
    }
  }

  /** Writes one request; resolves with its answer (`answer` code), rejects with the `09`'s typed error. */
  request(init: FrameInit, answer: Code): Promise<Frame> {
    return this.requestMany([init], answer)[0]!;
  }

  /**
   * Writes several requests in one go (the parts of a long text stay next to
   * each other on the wire) and returns one promise per request. Nothing is
   * written if any of them cannot be encoded: all reject with a
   * MalformedRequestError then.
   */
  requestMany(
    inits: readonly FrameInit[],
    answer: Code,
    onAnswer?: (frame: Frame) => void,
  ): Promise<Frame>[] {
    if (this.closed || this.ending || this.failure) {
      return inits.map(() => Promise.reject(lostError(this.failure ?? this.endReason, this.where)));
    }
    let frames: Buffer[];
    try {
      frames = inits.map((init) => encodeFrame(init));
    } catch (err) {
      if (!(err instanceof FrameError)) throw err;
      return inits.map(() =>
        Promise.reject(new MalformedRequestError(`cannot send: ${err.message}`)),
      );
    }
    const promises = frames.map(
      (_, i) =>
        new Promise<Frame>((resolve, reject) => {
          let timer: NodeJS.Timeout | undefined;
          const settled = () => {
            if (timer === undefined) return;
            clearTimeout(timer);
            this.requestTimers.delete(timer);
          };
          this.answers.add({
            answer,
            resolve: (frame) => {
              settled();
              onAnswer?.(frame);
              resolve(frame);
            },
            reject: (error) => {
              settled();
              reject(error);
            },
          });
          const { requestTimeoutMs } = this.settings;
          if (requestTimeoutMs > 0) {
            timer = setTimeout(() => {
              // Accepted but never a byte back (a proxy, a firewall, a stuck process): to the user, not reached.
              const message = this.heard
                ? `no answer to ${inits[i]!.code} from ${this.where} in ${duration(requestTimeoutMs)}`
                : `cannot reach ${this.where} (no answer in ${duration(requestTimeoutMs)})`;
              this.destroy(new ConnectionError(message));
            }, requestTimeoutMs);
            this.requestTimers.add(timer);
          }
        }),
    );
    this.socket.write(frames.length === 1 ? frames[0]! : Buffer.concat(frames));
    return promises;
  }

  /** Holds `06` frames back (not delivered, not counted) until `release`. */
  hold(): void {
    this.held ??= [];
  }

  release(): void {
    const held = this.held;
    this.held = undefined;
    for (const frame of held ?? []) {
      if (this.closed || this.failure) return;
      this.deliver(frame);
    }
  }

  /** Sends the cumulative `08` now if some `06` frames are not yet acknowledged. */
  flushAck(): void {
    if (this.ackTimer !== undefined) {
      clearTimeout(this.ackTimer);
      this.ackTimer = undefined;
    }
    if (
      this.received <= this.acked ||
      this.self === NOBODY ||
      this.closed ||
      this.failure ||
      !this.socket.writable
    )
      return;
    // docs/protocol.md §Codes: 08 data is how many 06 this connection has received so far.
    this.socket.write(encodeFrame({ code: Code.Ack, src: this.self, data: String(this.received) }));
    this.acked = this.received;
  }

  /**
   * Acknowledges what was handled, ends the connection and resolves once it is
   * closed. Requests still waiting reject with a ConnectionError; `reason`, if
   * given, is why it ended (for them and for the `closed` hook).
   */
  end(reason?: ZapwireError): Promise<void> {
    if (this.closed || this.ending) return this.closedPromise;
    this.flushAck();
    this.ending = true;
    this.endReason = reason;
    this.socket.end();
    // The server closes its side when ours ends; do not wait for ever if it does not.
    const timer = setTimeout(() => this.socket.destroy(), 2_000);
    return this.closedPromise.finally(() => clearTimeout(timer));
  }

  /** Ends the connection at once; `error` says why (the pending requests reject with it, wrapped). */
  destroy(error: ZapwireError): void {
    this.failure ??= error;
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.heard = true;
    this.splitter.push(chunk, (raw) => {
      if (this.failure || this.closed) return;
      let frame: Frame;
      try {
        frame = decodeFrame(raw);
      } catch (err) {
        if (!(err instanceof FrameError)) throw err;
        this.destroy(new ConnectionError(`malformed frame from ${this.where}: ${err.message}`));
        return;
      }
      const routed = this.answers.route(frame);
      switch (routed.kind) {
        case 'delivery':
          if (this.held) this.held.push(frame);
          else this.deliver(frame);
          return;
        case 'answered':
          return;
        case 'connection-error':
          this.destroy(routed.error);
          return;
        case 'unexpected':
          this.destroy(new ConnectionError(`protocol error from ${this.where}: ${routed.reason}`));
          return;
      }
    });
  }

  private deliver(frame: Frame): void {
    // docs/protocol.md §Codes: the 08 count is cumulative, so a 06 not taken cannot
    // be skipped. It and everything after it stay unacknowledged, and the
    // server sends them again in the next session.
    if (this.declined) return;
    if (!this.hooks.delivery(frame)) {
      this.declined = true;
      return;
    }
    this.received++;
    if (this.received - this.acked >= this.settings.ackEvery) this.flushAck();
    else this.ackTimer ??= setTimeout(() => this.flushAck(), this.settings.ackDelayMs);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.ackTimer !== undefined) clearTimeout(this.ackTimer);
    for (const timer of this.requestTimers) clearTimeout(timer);
    this.requestTimers.clear();
    this.held = undefined;
    const byUs = this.ending && !this.failure;
    const error = byUs
      ? this.endReason
      : (this.failure ??
        new ConnectionError(`connection to ${this.where} lost (closed by the other end)`));
    this.closeError = error;
    this.answers.rejectAll(() =>
      error === undefined
        ? new ConnectionError('connection closed before the answer came')
        : lostError(error, this.where),
    );
    this.resolveClosed();
    this.hooks.closed(error);
  }
}

function connectError(err: NodeJS.ErrnoException, where: string): ConnectionError {
  let reason: string;
  if (err.code === 'ECONNREFUSED') reason = 'connection refused: ECONNREFUSED';
  else if (err.code === 'ENOTFOUND' || err.code === 'EAI_AGAIN')
    reason = `unknown host: ${err.code}`;
  else reason = err.code ?? err.message;
  return new ConnectionError(`cannot reach ${where} (${reason})`, { cause: err });
}

/** A time limit as people say it: `5 s`, `1.5 s`, `250 ms`. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  return `${Number((ms / 1_000).toFixed(1))} s`;
}
