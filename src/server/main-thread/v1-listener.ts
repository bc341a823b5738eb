import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, type TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import { Code } from '../../protocol/codes.js';
import { encodeFrame } from '../../protocol/frame.js';
import { Status } from '../../protocol/status.js';
import type { BrokerClient } from '../threads/broker-client.js';
import { Admission, type Refusal } from './admission.js';
import { Connection, type FlowState } from './connection.js';
import type { ConnectionTable } from './connection-table.js';
import type { HostPool } from './host-pool.js';
import { closeAll, refuse } from './sockets.js';
import { TCP_KEEPALIVE } from './tcp-keepalive.js';
import { TLS_HANDSHAKE_TIMEOUT_MS } from './tls-files.js';
import type { WebSocketWire } from './websocket-wire.js';
import type { Wire } from './wire.js';

const NO_HANDLER = encodeFrame({
  code: Code.Error,
  data: `${Status.Unavailable} no free session handler`,
});
/** docs/protocol.md §Limits: connections are capped in total and per source address (503 and close). */
const REFUSED: Readonly<Record<Refusal, Buffer>> = {
  total: encodeFrame({
    code: Code.Error,
    data: `${Status.Unavailable} ${Admission.reason('total')}`,
  }),
  address: encodeFrame({
    code: Code.Error,
    data: `${Status.Unavailable} ${Admission.reason('address')}`,
  }),
};

/** The v1 listener's part of ZapwireServer.flowStats(). */
export interface V1FlowStats {
  connections: number;
  /** Frames in flight (handed to a host, not yet finished) of the connection that has most now. */
  maxInflightFrames: number;
  /** The most any connection has had since the server started. */
  peakInflightFrames: number;
  /** Connections not being read now (input budget used up, or output not draining). */
  pausedConnections: number;
  /** Bytes queued for writing on the connection that has most now (Node's socket buffer, beyond the kernel's). */
  maxQueuedBytes: number;
}

/**
 * The protocol version 1 listener: accepts connections, gives each to a
 * session host, and writes what the hosts send back. Sockets stay on this
 * thread: handing an accepted fd to a worker (`new net.Socket({ fd })`) is
 * unsafe on Node 20, since the main thread's stale handle keeps the fd number,
 * the kernel reuses it for the next connection, and the stale handle's
 * cleanup then closes that unrelated connection (DESIGN.md §Threads).
 */
export class V1Listener {
  readonly server: Server;
  private nextSid = 1;
  private readonly flow: FlowState;

  constructor(
    private readonly pool: HostPool,
    /** Filled here; the hosts and the broker write into it (see ConnectionTable). */
    private readonly connections: ConnectionTable,
    private readonly admission: Admission,
    maxInflight: number,
    private readonly logger: Logger,
    broker: BrokerClient,
    /** Certificate and key: the listener speaks TLS (README §TLS). */
    tls?: TlsOptions,
  ) {
    this.flow = {
      maxInflight,
      peakInflight: 0,
      pushesWritable: (sid, writable) => broker.tell({ op: 'writable', sid, writable }),
      corked: (connection) => this.cork(connection),
    };
    const accept = (socket: Socket) => this.accept(socket);
    this.server = tls
      ? createTlsServer(
          { noDelay: true, ...TCP_KEEPALIVE, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS, ...tls },
          accept,
        ).on('tlsClientError', (err, socket) =>
          this.logger.debug(
            { err: err.message, remote: socket.remoteAddress },
            'TLS handshake failed',
          ),
        )
      : createServer({ noDelay: true, ...TCP_KEEPALIVE }, accept);
  }

  get size(): number {
    return this.connections.size;
  }

  /** Sockets corked while the current thread message is handled. */
  private corkedConnections: Connection[] = [];

  private cork(connection: Connection): void {
    // A microtask runs once the port's message handler has returned, so one batch's writes leave together.
    if (this.corkedConnections.length === 0) queueMicrotask(this.uncorkAll);
    this.corkedConnections.push(connection);
  }

  private readonly uncorkAll = (): void => {
    const corked = this.corkedConnections;
    this.corkedConnections = [];
    for (const connection of corked) connection.uncork();
  };

  /** The bounded structure of flow control, for tests and operators: a walk over every connection. */
  flowStats(): V1FlowStats {
    let maxInflightFrames = 0;
    let pausedConnections = 0;
    let maxQueuedBytes = 0;
    for (const connection of this.connections.values()) {
      if (connection.inflight > maxInflightFrames) maxInflightFrames = connection.inflight;
      if (connection.paused) pausedConnections++;
      if (connection.socket.writableLength > maxQueuedBytes)
        maxQueuedBytes = connection.socket.writableLength;
    }
    return {
      connections: this.connections.size,
      maxInflightFrames,
      peakInflightFrames: this.flow.peakInflight,
      pausedConnections,
      maxQueuedBytes,
    };
  }

  stopReading(): void {
    for (const connection of this.connections.values()) connection.stopReading();
  }

  /** Resolves once every connection has closed, destroying those still open after `timeoutMs`. */
  closeAll(timeoutMs: number): Promise<void> {
    return closeAll(
      [...this.connections.values()].map((c) => c.socket),
      timeoutMs,
    );
  }

  private accept(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const refusal = this.admission.admit(address, 'v1');
    if (refusal) return refuse(socket, REFUSED[refusal]); // Admission logs it (at most a line a second)
    const remote = `${address}:${socket.remotePort}`;
    this.open(socket, address, remote, true);
  }

  /**
   * A WebSocket at `/v1/ws` (docs/protocol.md §WebSocket): a version 1
   * connection in every respect, on the same hosts. The HTTP listener
   * admitted its socket and releases it when it closes.
   */
  adopt(wire: WebSocketWire, address: string, remote: string): void {
    const connection = this.open(wire, address, remote, false);
    if (connection) wire.on('malformed', (reason: string) => connection.malformedInput(reason));
  }

  private open(
    wire: Wire,
    address: string,
    remote: string,
    /** This listener admitted the connection, and releases it when it closes. */
    admittedHere: boolean,
  ): Connection | undefined {
    const host = this.pool.acquire();
    if (!host) {
      if (admittedHere) this.admission.release(address);
      this.logger.warn({ remote: address }, 'no free session handler: 503');
      refuse(wire, NO_HANDLER);
      return undefined;
    }
    const sid = this.nextSid++;
    const onClosed = admittedHere ? this.closed : this.closedAdopted;
    const connection = new Connection(sid, wire, host, address, this.flow, this.logger, onClosed);
    this.connections.add(connection);
    host.inbound.send({ t: 'open', sid, remote, address });
    return connection;
  }

  private readonly closed = (connection: Connection): void => {
    this.closedAdopted(connection);
    this.admission.release(connection.address);
  };

  private readonly closedAdopted = (connection: Connection): void => {
    this.connections.delete(connection);
    connection.host.inbound.send({ t: 'closed', sid: connection.sid });
    this.pool.release(connection.host);
  };
}
