import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import {
  BadJsonError,
  errorForStatus,
  MalformedRequestError,
  MethodError,
  NoRouteError,
  TooLargeError,
  UnauthorizedError,
  UnavailableError,
} from '../../errors.js';
import { isNumber, MAX_NAME_BYTES } from '../../protocol/frame.js';
import { Status } from '../../protocol/status.js';
import { splitText } from '../../protocol/text.js';
import type { ServerOptions } from '../config.js';
import { checkGroupName } from '../session-host/handlers/name-group.js';
import type { BrokerClient } from '../threads/broker-client.js';
import { Admission, type Refusal } from './admission.js';
import { httpErrorAnswer, rawHttpErrorAnswer } from './http-errors.js';
import { TCP_KEEPALIVE } from './tcp-keepalive.js';
import { TLS_HANDSHAKE_TIMEOUT_MS } from './tls-files.js';
import type { WebFile, WebFiles } from './web-files.js';

/** Bodies larger than this are refused (413) without being read whole. */
export const MAX_BODY_BYTES = 16 * 1024;
/** How long a connection refused at the door may take to close before it is destroyed. */
export const REFUSE_GRACE_MS = 5_000;
/** The path of the WebSocket transport (docs/protocol.md §WebSocket). */
export const WEBSOCKET_PATH = '/v1/ws';

export type HttpListenerOptions = Pick<
  ServerOptions,
  'maxInflight' | 'httpHeadersTimeoutMs' | 'httpRequestTimeoutMs' | 'httpKeepAliveTimeoutMs'
>;

export interface HttpDependencies {
  broker: BrokerClient;
  options: HttpListenerOptions;
  /** The connection caps shared with the other listeners (docs/protocol.md §Limits). */
  admission: Admission;
  logger: Logger;
  /** The web chat's files, served at `/` (README §Web chat); none: those paths are 404. */
  web?: WebFiles;
  /** Prometheus exposition of every thread's metrics. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Whether the store and every session host answer. */
  health(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** True once shutdown has begun: writes get 503. */
  closing(): boolean;
  /** Told the status of every answer (for the metrics). */
  onAnswer?: (status: number) => void;
  /** Certificate and key: the listener speaks HTTPS (README §TLS). */
  tls?: TlsOptions;
  /**
   * Takes an upgrade request for WEBSOCKET_PATH (websocket-endpoint.ts); the
   * socket has been admitted here, and is released here when it closes.
   * Without it, upgrades are refused 404.
   */
  upgrade?: (req: IncomingMessage, socket: Socket, head: Buffer) => void;
}

const BEARER = /^Bearer ([0-9]{13}):(\S+)$/;
/** README §HTTP API: a number's name, and a group's name to set (docs/protocol.md §Names). */
const NUMBER_NAME_PATH = /^\/v1\/numbers\/([^/]*)\/name$/;
const GROUP_NAME_PATH = /^\/v1\/groups\/([^/]*)\/name$/;

/** A body must be valid UTF-8: a replacement character silently stored would not be what was sent. */
const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** No lone surrogate: it has no UTF-8 encoding, so it cannot be stored nor sent as a `06` (String.prototype.isWellFormed, Node 20). */
function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** A request target's path (no query is used): cheaper than a URL object per request. */
function pathOf(target = '/'): string {
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
}

/** The HTTP listener's part of ZapwireServer.flowStats(). */
export interface HttpFlowStats {
  connections: number;
  /** Requests being served (waiting for the broker or a thread) on the connection that has most now. */
  maxInflightRequests: number;
  /** The most any connection has had since the server started: never above maxInflight. */
  peakInflightRequests: number;
  /** Connections not being read now because their budget is used up. */
  pausedConnections: number;
}

/**
 * One connection's flow control: requests being served, and requests parsed
 * beyond the budget, waiting (at most what one socket read carried) while the
 * socket is not read.
 */
interface Flow {
  inflight: number;
  readonly waiting: (() => void)[];
  held: boolean;
}

const FLOW = Symbol('zapwire.httpFlow');
/** Node's http server keeps its own read pause in `_paused` (lib/_http_server.js), and honours it when a body is read. */
type HttpSocket = Socket & { [FLOW]?: Flow; _paused?: boolean; parser?: { resume(): void } | null };

/**
 * Node's http server resumes a socket it paused itself once its output
 * drains, whatever paused it: while our budget holds, pause it again (the
 * same turn, before any read).
 */
function onFlowSocketResume(this: HttpSocket): void {
  if (this[FLOW]?.held) {
    this._paused = true;
    this.pause();
  }
}

/** The raw answer to a connection refused at the door: written before Node's parser reads a byte. */
function refusalResponse(refusal: Refusal): Buffer {
  return rawHttpErrorAnswer(new UnavailableError(Admission.reason(refusal))).bytes;
}
const REFUSED: Readonly<Record<Refusal, Buffer>> = {
  total: refusalResponse('total'),
  address: refusalResponse('address'),
};

/**
 * The HTTP API (README §HTTP API): bots and integrations send over HTTP what a
 * TCP client sends as `05`, with the same checks and the same store; a
 * connected recipient gets it pushed at once, as for any `05`.
 */
export class HttpListener {
  readonly server: Server;
  private readonly sockets = new Set<HttpSocket>();
  private peakInflight = 0;

  constructor(private readonly deps: HttpDependencies) {
    const { httpHeadersTimeoutMs, httpRequestTimeoutMs, httpKeepAliveTimeoutMs } = deps.options;
    const options = {
      ...TCP_KEEPALIVE,
      // Node refuses headersTimeout > requestTimeout; headers are part of the request anyway.
      headersTimeout: Math.min(httpHeadersTimeoutMs, httpRequestTimeoutMs),
      requestTimeout: httpRequestTimeoutMs,
      keepAliveTimeout: httpKeepAliveTimeoutMs,
      // Node checks the headers and request limits only this often (30 s by
      // default, which let slow headers stay ~90 s): often enough that each
      // holds within a quarter of itself, at most a second late.
      connectionsCheckingInterval: Math.min(
        1_000,
        Math.max(50, Math.floor(Math.min(httpHeadersTimeoutMs, httpRequestTimeoutMs) / 4)),
      ),
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse) => this.onRequest(req, res);
    this.server = deps.tls
      ? createHttpsServer(
          { ...options, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS, ...deps.tls },
          onRequest,
        )
      : createServer(options, onRequest);
    // Before Node's own connection listener attaches its parser: a refused
    // socket is answered and ended before a byte of it is parsed. Over TLS
    // that listener is on 'secureConnection', and requests come on the TLS socket.
    this.server.prependListener(deps.tls ? 'secureConnection' : 'connection', (socket: Socket) =>
      this.admit(socket as HttpSocket),
    );
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) =>
      this.onUpgrade(req, socket as HttpSocket, head),
    );
  }

  /** docs/protocol.md §WebSocket: `GET /v1/ws` becomes a version 1 connection; any other upgrade is 404. */
  private onUpgrade(req: IncomingMessage, socket: HttpSocket, head: Buffer): void {
    // Refused at the door: its answer is on its way out already.
    if (!socket[FLOW]) return void socket.destroy();
    const path = pathOf(req.url);
    if (path !== WEBSOCKET_PATH || !this.deps.upgrade)
      return this.refuseUpgrade(socket, new NoRouteError(path));
    // No longer an HTTP connection: the v1 connection's flow control applies.
    this.sockets.delete(socket);
    socket.off('resume', onFlowSocketResume);
    this.deps.upgrade(req, socket, head);
  }

  /** An upgrade refused with an HTTP error answer, and the connection closed. */
  refuseUpgrade(socket: Socket, err: unknown): void {
    const { status, bytes } = rawHttpErrorAnswer(err);
    this.deps.onAnswer?.(status);
    socket.on('error', () => {});
    socket.end(bytes);
    setTimeout(() => socket.destroy(), REFUSE_GRACE_MS).unref();
  }

  /** docs/protocol.md §Limits: connections are capped in total and per address (503 and close). */
  private admit(socket: HttpSocket): void {
    const address = socket.remoteAddress ?? '';
    const refusal = this.deps.admission.admit(address, 'http');
    if (refusal) {
      // No FLOW on this socket: a request Node parses from it anyway is not served (onRequest).
      this.deps.onAnswer?.(Status.Unavailable);
      socket.on('error', () => {});
      socket.end(REFUSED[refusal]);
      setTimeout(() => socket.destroy(), REFUSE_GRACE_MS).unref();
      return;
    }
    socket[FLOW] = { inflight: 0, waiting: [], held: false };
    this.sockets.add(socket);
    socket.on('resume', onFlowSocketResume);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.deps.admission.release(address);
    });
  }

  /**
   * docs/protocol.md §Limits: at most maxInflight requests of one connection are
   * served at once. Node parses every request one socket read carries and
   * hands each over at once (it pauses only for unsent output), so the ones
   * beyond the budget wait here and the socket is not read until they are
   * all being served.
   */
  private onRequest(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket as HttpSocket;
    const flow = socket[FLOW];
    if (!flow) return;
    if (flow.inflight < this.deps.options.maxInflight && flow.waiting.length === 0) {
      this.serve(req, res, socket, flow);
      return;
    }
    flow.waiting.push(() => this.serve(req, res, socket, flow));
    if (!flow.held) {
      flow.held = true;
      // Node's own mechanism: it pauses its parser after this read, and a body being read does not resume the socket.
      socket._paused = true;
      socket.pause();
    }
  }

  private serve(req: IncomingMessage, res: ServerResponse, socket: HttpSocket, flow: Flow): void {
    flow.inflight++;
    if (flow.inflight > this.peakInflight) this.peakInflight = flow.inflight;
    this.route(req, res).then(
      () => this.served(socket, flow),
      (err: unknown) => {
        this.fail(res, err);
        this.served(socket, flow);
      },
    );
  }

  /** An answer left (or the request failed): serve the next waiting request, and read again once none waits. */
  private served(socket: HttpSocket, flow: Flow): void {
    flow.inflight--;
    if (socket.destroyed) {
      flow.waiting.length = 0;
      return;
    }
    while (flow.waiting.length > 0 && flow.inflight < this.deps.options.maxInflight)
      flow.waiting.shift()!();
    if (flow.held && flow.waiting.length === 0) {
      flow.held = false;
      // While output is not draining Node keeps its own pause, and lifts it on 'drain'.
      if (socket.writableNeedDrain) return;
      socket._paused = false;
      socket.parser?.resume();
      socket.resume();
    }
  }

  /** The bounded structure of HTTP flow control (DESIGN.md §Flow control). */
  flowStats(): HttpFlowStats {
    let maxInflightRequests = 0;
    let pausedConnections = 0;
    for (const socket of this.sockets) {
      const flow = socket[FLOW]!;
      if (flow.inflight > maxInflightRequests) maxInflightRequests = flow.inflight;
      if (flow.held) pausedConnections++;
    }
    return {
      connections: this.sockets.size,
      maxInflightRequests,
      peakInflightRequests: this.peakInflight,
      pausedConnections,
    };
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = pathOf(req.url);
    if (path === '/v1/messages') return this.only(req, 'POST', () => this.sendMessage(req, res));
    if (path === '/v1/users') return this.only(req, 'POST', () => this.register(req, res));
    const numberName = NUMBER_NAME_PATH.exec(path);
    if (numberName) return this.only(req, 'GET', () => this.nameOf(req, numberName[1]!, res));
    const groupName = GROUP_NAME_PATH.exec(path);
    if (groupName) return this.only(req, 'PUT', () => this.nameGroup(req, groupName[1]!, res));
    if (path.startsWith('/v1/numbers/'))
      return this.only(req, 'GET', () => this.validate(path.slice('/v1/numbers/'.length), res));
    if (path === '/healthz') return this.only(req, 'GET', () => this.health(res));
    if (path === '/metrics') return this.only(req, 'GET', () => this.metrics(res));
    const file = this.deps.web?.find(path);
    if (file) return this.webFile(req, res, file);
    throw new NoRouteError(path);
  }

  private only(req: IncomingMessage, method: string, handler: () => Promise<void>): Promise<void> {
    if (req.method !== method) throw new MethodError(method);
    return handler();
  }

  /** The `Authorization: Bearer <number>:<token>` a request acts with; checked by the broker, not here. */
  private bearer(req: IncomingMessage): { number: string; token: string } {
    const auth = BEARER.exec(req.headers.authorization ?? '');
    if (!auth) throw new UnauthorizedError('Authorization: Bearer <number>:<token> required');
    return { number: auth[1]!, token: auth[2]! };
  }

  private async sendMessage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { number, token } = this.bearer(req);
    const body = await this.readJson(req);
    const to = body.to;
    const text = body.text;
    const receipts = body.receipts ?? true;
    if (typeof to !== 'string' || !isNumber(to))
      throw new MalformedRequestError('"to" must be a 13-digit number string');
    if (typeof text !== 'string') throw new MalformedRequestError('"text" must be a string');
    if (text.includes('\0')) throw new MalformedRequestError('"text" must not contain NUL');
    if (!isWellFormed(text))
      throw new MalformedRequestError('"text" must be well-formed Unicode (no lone surrogate)');
    if (typeof receipts !== 'boolean')
      throw new MalformedRequestError('"receipts" must be a boolean');
    if (this.deps.closing()) throw new UnavailableError('server shutting down');
    // The sender's rate is charged by the broker once the token checked out
    // (docs/protocol.md §Limits): charged here, before, a wrong token naming a
    // victim's number used up the victim's rate.
    // Longer text is split as the SDK splits it (never inside a UTF-8
    // character) and stored as consecutive messages in one transaction.
    const texts = splitText(text);
    const result = await this.deps.broker.askAsync({
      op: 'authSend',
      number,
      token,
      dst: to,
      ts: Math.floor(Date.now() / 1000),
      flag: receipts,
      texts,
      remote: req.socket.remoteAddress ?? '',
    });
    if (!result.ok) throw errorForStatus(result.status, result.reason);
    this.json(res, 201, { id: result.value[0], ids: result.value });
  }

  private async register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.readJson(req, true);
    const name = body.name ?? '';
    if (typeof name !== 'string') throw new MalformedRequestError('"name" must be a string');
    if (!isWellFormed(name))
      throw new MalformedRequestError('"name" must be well-formed Unicode (no lone surrogate)');
    if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES)
      throw new TooLargeError(`name over ${MAX_NAME_BYTES} bytes`);
    if (this.deps.closing()) throw new UnavailableError('server shutting down');
    const result = await this.deps.broker.askAsync({
      op: 'register',
      name,
      remote: req.socket.remoteAddress ?? '',
    });
    if (!result.ok) throw errorForStatus(result.status, result.reason);
    this.deps.logger.info({ number: result.value.number }, 'registered over HTTP');
    this.json(res, 201, { number: result.value.number, token: result.value.token });
  }

  private async validate(number: string, res: ServerResponse): Promise<void> {
    if (!isNumber(number)) throw new MalformedRequestError('a number is 13 digits');
    const result = await this.deps.broker.askAsync({ op: 'validate', number });
    if (!result.ok) throw errorForStatus(result.status, result.reason);
    this.json(res, 200, { number, valid: result.value });
  }

  /** Like `12`: a user's name to anyone with a token, a group's to its members. */
  private async nameOf(req: IncomingMessage, number: string, res: ServerResponse): Promise<void> {
    const { number: asker, token } = this.bearer(req);
    if (!isNumber(number)) throw new MalformedRequestError('a number is 13 digits');
    const result = await this.deps.broker.askAsync({
      op: 'nameOf',
      asker,
      number,
      credentials: { token, remote: req.socket.remoteAddress ?? '' },
    });
    if (!result.ok) throw errorForStatus(result.status, result.reason);
    this.json(res, 200, { number, kind: result.value.kind, name: result.value.name });
  }

  /** Like `14`: a member names a group, with the checks and the rate of a `14`. */
  private async nameGroup(req: IncomingMessage, group: string, res: ServerResponse): Promise<void> {
    const { number, token } = this.bearer(req);
    if (!isNumber(group)) throw new MalformedRequestError('a group number is 13 digits');
    const body = await this.readJson(req);
    const name = body.name;
    if (typeof name !== 'string') throw new MalformedRequestError('"name" must be a string');
    checkGroupName(name);
    if (this.deps.closing()) throw new UnavailableError('server shutting down');
    const result = await this.deps.broker.askAsync({
      op: 'nameGroup',
      src: number,
      group,
      name,
      credentials: { token, remote: req.socket.remoteAddress ?? '' },
    });
    if (!result.ok) throw errorForStatus(result.status, result.reason);
    this.json(res, 200, { group, name: result.value });
  }

  private async health(res: ServerResponse): Promise<void> {
    const { ok, checks } = await this.deps.health();
    this.json(res, ok ? 200 : 503, { status: ok ? 'ok' : 'unavailable', checks });
  }

  private async metrics(res: ServerResponse): Promise<void> {
    const { contentType, body } = await this.deps.metrics();
    this.deps.onAnswer?.(200);
    res.writeHead(200, { 'content-type': contentType });
    res.end(body);
  }

  /** A file of the web chat: GET or HEAD, 304 when the browser has it already. */
  private async webFile(req: IncomingMessage, res: ServerResponse, file: WebFile): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new MethodError('GET');
    const fresh = req.headers['if-none-match'] === file.etag;
    this.deps.onAnswer?.(fresh ? 304 : 200);
    if (fresh) {
      res.writeHead(304, { etag: file.etag, 'cache-control': file.headers['cache-control']! });
      res.end();
      return;
    }
    res.writeHead(200, file.headers);
    res.end(req.method === 'HEAD' ? undefined : file.body);
  }

  /** Every answer but /metrics' goes through here, and is counted here (no listener per request). */
  private json(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ): void {
    this.deps.onAnswer?.(status);
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
      ...headers,
    });
    res.end(text);
  }

  /** Reads a JSON object body, refusing (413) one over the limit before reading it whole. */
  private readJson(req: IncomingMessage, optional = false): Promise<Record<string, unknown>> {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > MAX_BODY_BYTES)
      return Promise.reject(new TooLargeError(`body over ${MAX_BODY_BYTES} bytes`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.off('data', onData);
          req.pause();
          reject(new TooLargeError(`body over ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      // The client went away, or Node ended a body that came too slowly
      // (httpRequestTimeoutMs): the client's doing, not a failure of ours.
      req.once('error', (err) =>
        reject(new MalformedRequestError(`request body not received: ${err.message}`)),
      );
      req.once('end', () => {
        if (size > MAX_BODY_BYTES) return;
        let text: string;
        try {
          text = UTF8.decode(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
        } catch {
          return reject(new BadJsonError('the body is not valid UTF-8'));
        }
        if (text.trim() === '' && optional) return resolve({});
        try {
          const value: unknown = JSON.parse(text);
          if (value === null || typeof value !== 'object' || Array.isArray(value)) {
            reject(new BadJsonError('the body must be a JSON object'));
          } else resolve(value as Record<string, unknown>);
        } catch (err) {
          reject(new BadJsonError(`malformed JSON: ${(err as Error).message}`));
        }
      });
    });
  }

  private fail(res: ServerResponse, err: unknown): void {
    const answer = httpErrorAnswer(err);
    if (!answer.expected) this.deps.logger.error({ err }, 'HTTP handler failed');
    else if (answer.status < 500)
      this.deps.logger.debug(
        { status: answer.status, reason: answer.body.error.message },
        'HTTP request refused',
      );
    // A refused body is not read to its end: close the connection after answering.
    const headers: Record<string, string> = answer.status === 413 ? { connection: 'close' } : {};
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.json(res, answer.status, answer.body, headers);
  }
}
