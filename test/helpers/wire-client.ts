import { connect, type Socket } from 'node:net';
import {
  decodeFrame,
  encodeFrame,
  type Frame,
  type FrameInit,
  FrameSplitter,
} from '../../src/protocol/index.js';

/**
 * What a test sees of a protocol v1 connection, whatever carries it (TCP here,
 * a WebSocket in ws-client.ts): it writes frames, and queues every frame it
 * reads so a test can await them in order. No SDK logic: tests see exactly
 * what the server sends.
 */
export abstract class FrameClient {
  readonly frames: Frame[] = [];
  closed = false;
  private waiters: (() => void)[] = [];

  abstract sendRaw(bytes: Uint8Array): void;
  /** Ends the connection from the client's side. */
  abstract close(): void;
  abstract destroy(): void;

  send(init: FrameInit): void {
    this.sendRaw(encodeFrame(init));
  }

  /** The next frame read, waiting up to `timeoutMs`. */
  async next(timeoutMs = 3_000): Promise<Frame> {
    const deadline = Date.now() + timeoutMs;
    while (this.frames.length === 0) {
      if (this.closed) throw new Error('connection closed while waiting for a frame');
      if (Date.now() >= deadline) throw new Error(`no frame within ${timeoutMs} ms`);
      await this.wait(deadline - Date.now());
    }
    return this.frames.shift()!;
  }

  /** Resolves true if no frame arrives within `ms` (and none is queued). */
  async silentFor(ms: number): Promise<boolean> {
    await new Promise((r) => setTimeout(r, ms));
    return this.frames.length === 0;
  }

  /** Resolves once the server has closed the connection. */
  async waitClosed(timeoutMs = 3_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() >= deadline) throw new Error(`connection still open after ${timeoutMs} ms`);
      await this.wait(deadline - Date.now());
    }
  }

  /** A frame was read (decoded here: a test sees what the codec makes of it). */
  protected received(frame: Uint8Array): void {
    this.frames.push(decodeFrame(Buffer.from(frame)));
    this.wake();
  }

  protected ended(): void {
    this.closed = true;
    this.wake();
  }

  private wait(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, ms));
      this.waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }
}

/** A bare protocol v1 connection over TCP. */
export class WireClient extends FrameClient {
  private readonly splitter = new FrameSplitter();

  private constructor(readonly socket: Socket) {
    super();
    socket.on('data', (chunk: Buffer) =>
      this.splitter.push(chunk, (frame) => this.received(frame)),
    );
    socket.on('close', () => this.ended());
    socket.on('error', () => {});
  }

  /** `localAddress` picks the source address (any of 127.0.0.0/8 on Linux), for per-address limits. */
  static connect(port: number, host = '127.0.0.1', localAddress?: string): Promise<WireClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host, ...(localAddress ? { localAddress } : {}) });
      socket.once('connect', () => resolve(new WireClient(socket)));
      socket.once('error', reject);
    });
  }

  sendRaw(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  close(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export interface Identity {
  number: string;
  token: string;
}

/** Registers a new user on a fresh connection and returns its number and token. */
export async function register(port: number, name = ''): Promise<Identity> {
  const c = await WireClient.connect(port);
  c.send({ code: '01', data: name });
  const answer = await c.next();
  c.destroy();
  if (answer.code !== '02') throw new Error(`register answered ${answer.code} ${answer.data}`);
  return { number: answer.dst, token: answer.data };
}

/** Connects and opens a session (push by default); throws unless the answer is `04 ok`. */
export async function openSession(port: number, who: Identity, push = true): Promise<WireClient> {
  const c = await WireClient.connect(port);
  c.send({ code: '04', src: who.number, flag: push, data: who.token });
  const answer = await c.next();
  if (answer.code !== '04' || answer.data !== 'ok')
    throw new Error(`open answered ${answer.code} ${answer.data}`);
  return c;
}
