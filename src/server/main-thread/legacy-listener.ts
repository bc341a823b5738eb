import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import {
  LEGACY_NONE_PENDING,
  type LegacyRequest,
  legacyDeliver,
  legacyRegistered,
  legacyRequestMayGrow,
  legacyValidity,
  parseLegacyRequest,
} from '../../protocol/legacy.js';
import { toLegacyMessage } from '../../store/render.js';
import type { ServerOptions } from '../config.js';
import type { BrokerClient } from '../threads/broker-client.js';
import type { LegacyRow } from '../threads/thread-messages.js';
import type { Admission } from './admission.js';
import { closeAll, refuse } from './sockets.js';
import { TCP_KEEPALIVE } from './tcp-keepalive.js';

/**
 * How long to wait for the rest of a request that cannot yet be whole
 * (legacyRequestMayGrow) before taking what came; a request that can be whole
 * is taken at once, as the original took one read.
 */
const QUIET_MS = 50;
/**
 * Nothing the original client sends comes near this; more is not a request.
 * With one request per connection, this is also the listener's flow control
 * (docs/protocol.md §Limits): a connection holds at most this much input and one
 * broker request, and what arrives after its request is read and dropped.
 */
const MAX_REQUEST_BYTES = 64 * 1024;
const IDLE_TIMEOUT_MS = 10_000;

/**
 * The original protocol, for unmodified old clients (docs/protocol.md §Legacy
 * listener): one request per connection, no token, against the same store.
 * It is stateless per request, so it runs here on the main thread and asks the
 * broker for everything; it never runs SQL itself.
 */
export class LegacyListener {
  readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly broker: BrokerClient,
    private readonly options: Pick<ServerOptions, 'pollBatch' | 'legacyPaceMs'>,
    private readonly admission: Admission,
    private readonly logger: Logger,
  ) {
    // allowHalfOpen: a client that shuts down its writing side after a 05 or a
    // 10 (as opa_client.py does) must see the close only once the request is
    // stored (docs/protocol.md §Legacy listener: stored, no answer, close). With
    // Node's default, its FIN made the socket end at once, before the broker
    // had committed anything. Every path below ends or destroys the socket.
    this.server = createServer({ allowHalfOpen: true, ...TCP_KEEPALIVE }, (socket) =>
      this.accept(socket),
    );
  }

  /** Open legacy connections. */
  get size(): number {
    return this.sockets.size;
  }

  /** Resolves once every connection has closed, destroying those still open after `timeoutMs`. */
  closeAll(timeoutMs: number): Promise<void> {
    return closeAll([...this.sockets], timeoutMs);
  }

  private accept(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    // docs/protocol.md §Limits: connections are capped in total and per address.
    // The original protocol has no error answer: the connection is closed
    // unanswered (Admission logs the refusal at warn).
    if (this.admission.admit(address, 'legacy')) return refuse(socket);
    this.sockets.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.admission.release(address);
    });
    socket.on('error', (err) => this.logger.debug({ err: err.message }, 'legacy socket error'));
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());

    let received = Buffer.alloc(0);
    let handled = false;
    let quiet: NodeJS.Timeout | undefined;
    const attempt = (ended: boolean) => {
      if (handled) return;
      clearTimeout(quiet);
      const parsed = parseLegacyRequest(received, ended);
      if (parsed.kind === 'incomplete') {
        quiet = setTimeout(() => attempt(true), QUIET_MS);
        return;
      }
      handled = true;
      if (parsed.kind === 'invalid') {
        this.logger.warn(
          { reason: parsed.reason, bytes: received.length },
          'legacy request refused',
        );
        socket.end();
        return;
      }
      this.handle(socket, parsed);
    };
    socket.on('data', (chunk: Buffer) => {
      if (handled) return;
      received = Buffer.concat([received, chunk]);
      if (received.length > MAX_REQUEST_BYTES) {
        handled = true;
        this.logger.warn({ bytes: received.length }, 'legacy request too large');
        socket.destroy();
        return;
      }
      // docs/protocol.md §Legacy listener: a request is what one read
      // brought, as the original server's recv(2048) took it; more is
      // awaited (QUIET_MS at most) only while it cannot yet be whole.
      attempt(!legacyRequestMayGrow(received));
    });
    socket.on('end', () => attempt(true));
  }

  private handle(socket: Socket, request: LegacyRequest): void {
    switch (request.kind) {
      case 'register':
        this.broker.ask({ op: 'legacyRegister', remote: socket.remoteAddress ?? '' }, (result) => {
          if (result.ok) {
            // No child logger per request: the seed's workload is a connection per request.
            this.logger.info(
              { code: request.kind, number: result.value },
              'legacy user registered',
            );
            socket.end(legacyRegistered(result.value));
          } else socket.end();
        });
        return;
      case 'validate':
        this.broker.ask({ op: 'validate', number: request.number, usersOnly: true }, (result) => {
          if (result.ok) socket.end(legacyValidity(result.value));
          else socket.end();
        });
        return;
      case 'send':
        this.broker.ask(
          {
            op: 'legacySend',
            src: request.src,
            dst: request.dst,
            ts: request.ts,
            text: request.text,
          },
          () => socket.end(),
        );
        return;
      case 'createGroup':
        this.broker.ask({ op: 'legacyCreateGroup', ts: request.ts, members: request.members }, () =>
          socket.end(),
        );
        return;
      case 'poll':
        this.broker.ask(
          { op: 'legacyFetch', number: request.number, limit: this.options.pollBatch },
          (result) => {
            const rows = result.ok ? result.value : [];
            if (rows.length === 0) socket.end(LEGACY_NONE_PENDING);
            else this.deliver(socket, request.number, rows, 0);
          },
        );
        return;
    }
  }

  /**
   * Each `06` on its own and paced (docs/protocol.md §Legacy listener: the original
   * client reads each with a single recv), deleted once written.
   */
  private deliver(socket: Socket, number: string, rows: readonly LegacyRow[], index: number): void {
    if (index >= rows.length || socket.destroyed) {
      socket.end();
      return;
    }
    const row = rows[index]!;
    socket.write(legacyDeliver(toLegacyMessage(row)), (err) => {
      if (err) return;
      this.broker.ask({ op: 'legacyDelivered', number, id: row.id }, () => {
        setTimeout(
          () => this.deliver(socket, number, rows, index + 1),
          index + 1 < rows.length ? this.options.legacyPaceMs : 0,
        );
      });
    });
  }
}
