import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Code } from '../../protocol/codes.js';
import { encodeFrame } from '../../protocol/frame.js';
import { Status } from '../../protocol/status.js';
import type { HostOutbound } from '../thread-messages.js';
import { Connection } from './connection.js';
import type { HostPool } from './host-pool.js';

/** How long a connection refused with 503 may take to close before it is destroyed. */
const REJECT_GRACE_MS = 5_000;
const NO_HANDLER = encodeFrame({ code: Code.Error, data: `${Status.Unavailable} no free session handler` });

/**
 * The protocol version 1 listener: accepts connections, gives each to a
 * session host, and writes what the hosts send back. Sockets stay on this
 * thread (MEASUREMENTS.md: handing an fd to a worker is unsafe on Node 20).
 */
export class V1Listener {
  readonly server: Server;
  private readonly connections = new Map<number, Connection>();
  private nextSid = 1;

  constructor(
    private readonly pool: () => HostPool,
    private readonly logger: Logger,
  ) {
    this.server = createServer({ noDelay: true }, (socket) => this.accept(socket));
  }

  get size(): number {
    return this.connections.size;
  }

  /** Routes a host's output to its connection. */
  onOutbound(message: HostOutbound): void {
    if (message.t !== 'write') return;
    this.connections.get(message.sid)?.write(message.bytes, message.close ?? false);
  }

  /** A host thread died: its connections have no handler any more. */
  onHostGone(hostId: number): void {
    for (const connection of this.connections.values()) {
      if (connection.host.id === hostId) connection.socket.destroy();
    }
  }

  stopReading(): void {
    for (const connection of this.connections.values()) connection.stopReading();
  }

  /** Resolves once every connection has closed, or destroys the rest after `timeoutMs`. */
  async closeAll(timeoutMs: number): Promise<void> {
    const closing = [...this.connections.values()].map(
      (c) => new Promise<void>((resolve) => (c.socket.closed ? resolve() : c.socket.once('close', () => resolve()))),
    );
    const timer = setTimeout(() => {
      for (const c of this.connections.values()) c.socket.destroy();
    }, timeoutMs);
    await Promise.all(closing);
    clearTimeout(timer);
  }

  private accept(socket: Socket): void {
    const host = this.pool().acquire();
    if (!host) {
      // Never a connection left waiting in a queue: say so and close.
      this.logger.warn({ remote: socket.remoteAddress }, 'no free session handler: 503');
      socket.on('error', () => {});
      // Read and drop whatever the client sends (it usually sends its first
      // frame at once): a socket whose input is left unread never sees the
      // client's FIN behind it, so it would stay open forever and keep
      // server.close() waiting. The timer bounds a client that never closes.
      socket.resume();
      socket.end(NO_HANDLER);
      setTimeout(() => socket.destroy(), REJECT_GRACE_MS).unref();
      return;
    }
    const sid = this.nextSid++;
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const connection = new Connection(sid, socket, host, this.logger, this.closed);
    this.connections.set(sid, connection);
    host.inbound.send({ t: 'open', sid, remote, address: socket.remoteAddress ?? '' });
  }

  private readonly closed = (connection: Connection): void => {
    this.connections.delete(connection.sid);
    connection.host.inbound.send({ t: 'closed', sid: connection.sid });
    this.pool().release(connection.host);
  };
}
