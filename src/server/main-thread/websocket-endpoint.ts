import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { ForbiddenError, UnavailableError } from '../../errors.js';
import { Admission } from './admission.js';
import type { V1Listener } from './v1-listener.js';
import { WebSocketWire } from './websocket-wire.js';

export interface WebSocketEndpointDependencies {
  /** Where a WebSocket goes once open: it is a version 1 connection like a TCP one. */
  v1: V1Listener;
  /** The connection caps: the upgraded socket was admitted as HTTP, and must fit under v1's cap. */
  admission: Admission;
  /**
   * Origins a browser page may connect from (`--ws-origins`); undefined:
   * any. A request without an Origin header is not a browser's and passes.
   */
  origins: readonly string[] | undefined;
  /** The largest WebSocket message taken, in bytes (`--ws-max-payload`); a larger one closes the connection (1009). */
  maxPayload: number;
  /** True once shutdown has begun: upgrades get 503. */
  closing(): boolean;
  /** Answers an upgrade with an HTTP error and closes it (HttpListener.refuseUpgrade). */
  refuse(socket: Socket, err: unknown): void;
}

/**
 * `GET /v1/ws` on the HTTP listener (docs/protocol.md §WebSocket): checks the
 * Origin and the caps, completes the handshake (the `ws` package, in
 * `noServer` mode on the HTTP server's upgrade event) and hands the WebSocket
 * to the v1 listener. Everything after the handshake is the v1 connection's.
 */
export class WebSocketEndpoint {
  private readonly wss: WebSocketServer;

  constructor(private readonly deps: WebSocketEndpointDependencies) {
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: deps.maxPayload,
      // Frames are 256 bytes with mostly padding, but inflating is CPU and
      // memory the flow control does not bound: no compression.
      perMessageDeflate: false,
      // The v1 listener tracks its connections; ws need not keep a second set.
      clientTracking: false,
    });
  }

  upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const { origins } = this.deps;
    const origin = req.headers.origin;
    if (origins !== undefined && origin !== undefined && !origins.includes(origin))
      return this.deps.refuse(
        socket,
        new ForbiddenError(`origin ${origin} not allowed (wsOrigins)`),
      );
    if (this.deps.closing())
      return this.deps.refuse(socket, new UnavailableError('server shutting down'));
    const address = socket.remoteAddress ?? '';
    const refusal = this.deps.admission.upgrade(address);
    if (refusal) return this.deps.refuse(socket, new UnavailableError(Admission.reason(refusal)));
    // A handshake ws finds wrong (no Sec-WebSocket-Key, a version it does not speak) it answers 400 itself.
    this.wss.handleUpgrade(req, socket, head, (ws) =>
      this.deps.v1.adopt(new WebSocketWire(ws, socket), address, `${address}:${socket.remotePort}`),
    );
  }
}
