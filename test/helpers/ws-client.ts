/**
 * The WebSocket transport for tests (docs/protocol.md §WebSocket): a bare
 * version 1 connection over `ws` at `/v1/ws`, seen exactly as a TCP one
 * (FrameClient), and a per-describe server with both transports.
 */
import { afterEach, expect } from 'vitest';
import WebSocket, { type ClientOptions } from 'ws';
import { FRAME_SIZE } from '../../src/protocol/index.js';
import type { StartOptions } from '../../src/server/server.js';
import { useServer, type V1Env } from './v1.js';
import { FrameClient, type Identity } from './wire-client.js';

export class WsClient extends FrameClient {
  /** The length of every binary message read, in order. */
  readonly messageSizes: number[] = [];
  /** Messages read that were text or not whole frames: the server must never send one. */
  badMessages = 0;
  /** The WebSocket close code the connection ended with. */
  closeCode: number | undefined;

  private constructor(readonly ws: WebSocket) {
    super();
    ws.on('message', (data: Buffer, isBinary) => {
      this.messageSizes.push(data.length);
      if (!isBinary || data.length === 0 || data.length % FRAME_SIZE !== 0) {
        this.badMessages++;
        return;
      }
      for (let offset = 0; offset < data.length; offset += FRAME_SIZE)
        this.received(data.subarray(offset, offset + FRAME_SIZE));
    });
    ws.on('close', (code) => {
      this.closeCode = code;
      this.ended();
    });
    ws.on('error', () => {});
  }

  /** Opens a WebSocket; rejects with the HTTP status when the upgrade is refused. */
  static connect(url: string, options: ClientOptions = {}): Promise<WsClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, options);
      ws.once('open', () => resolve(new WsClient(ws)));
      ws.once('unexpected-response', (_req, res) => {
        reject(new UpgradeRefused(res.statusCode ?? 0));
        res.resume();
        ws.terminate();
      });
      ws.once('error', reject);
    });
  }

  /** One binary message with exactly these bytes. */
  sendRaw(bytes: Uint8Array): void {
    this.ws.send(bytes, { binary: true });
  }

  sendText(text: string): void {
    this.ws.send(text, { binary: false });
  }

  close(): void {
    this.ws.close();
  }

  destroy(): void {
    this.ws.terminate();
  }
}

/** An upgrade the server answered with an HTTP status instead of 101. */
export class UpgradeRefused extends Error {
  constructor(readonly status: number) {
    super(`upgrade refused: HTTP ${status}`);
  }
}

export interface WsEnv extends V1Env {
  /** ws://127.0.0.1:<http port>/v1/ws */
  readonly wsUrl: string;
  /** A raw WebSocket connection, destroyed after the test. */
  wsConnect(options?: ClientOptions): Promise<WsClient>;
  /** Opens a push (default) or poll session over a WebSocket; asserts the answer is `04` `ok`. */
  wsSession(who: Identity, push?: boolean): Promise<WsClient>;
}

/**
 * useServer with the HTTP listener on (so `/v1/ws`): WebSocket clients the
 * test opened are destroyed after it, and each is checked to have read only
 * whole-frame binary messages.
 */
export function useWsServer(options: StartOptions = {}): WsEnv {
  const env = useServer({ httpPort: 0, ...options });
  const clients = new Set<WsClient>();
  const ws: Omit<WsEnv, keyof V1Env> = {
    get wsUrl() {
      return `ws://127.0.0.1:${env.t.server.httpAddress!.port}/v1/ws`;
    },
    async wsConnect(clientOptions = {}) {
      const c = await WsClient.connect(ws.wsUrl, clientOptions);
      clients.add(c);
      return c;
    },
    async wsSession(who, push = true) {
      const c = await ws.wsConnect();
      c.send({ code: '04', src: who.number, flag: push, data: who.token });
      const answer = await c.next();
      expect(answer, 'the 04 answer').toMatchObject({ code: '04', data: 'ok' });
      return c;
    },
  };
  afterEach(() => {
    for (const c of clients) {
      expect(c.badMessages, 'messages from the server that were not whole binary frames').toBe(0);
      c.destroy();
    }
    clients.clear();
  });
  // Descriptors, not values: wsUrl is read once the server runs.
  return Object.defineProperties(Object.create(env), Object.getOwnPropertyDescriptors(ws));
}
