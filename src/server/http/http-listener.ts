import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { errorForStatus } from '../../errors.js';
import { isNumber } from '../../protocol/frame.js';
import { splitText } from '../../protocol/text.js';
import { Status } from '../../protocol/status.js';
import type { BrokerClient } from '../broker-client.js';
import { MAX_NAME_BYTES } from '../session/handlers/register.js';
import { RateLimiter } from '../session/rate-limiter.js';

/** Bodies larger than this are refused (413) without being read whole. */
export const MAX_BODY_BYTES = 16 * 1024;

export interface HttpDependencies {
  broker: BrokerClient;
  rateLimit: number;
  logger: Logger;
  /** Prometheus exposition of every thread's metrics. */
  metrics(): Promise<{ contentType: string; body: string }>;
  /** Whether the store and every session host answer. */
  health(): Promise<{ ok: boolean; checks: Record<string, string> }>;
  /** True once shutdown has begun: writes get 503. */
  closing(): boolean;
  /** Told the status of every answer (for the metrics). */
  onAnswer?: (status: number) => void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const BEARER = /^Bearer ([0-9]{13}):(\S+)$/;

/**
 * The HTTP API (README §HTTP API): bots and integrations send over HTTP what a
 * TCP client sends as `05`, with the same checks and the same store; a
 * connected recipient gets it pushed at once, as for any `05`.
 */
export class HttpListener {
  readonly server: Server;
  private readonly limiters = new Map<string, RateLimiter>();

  constructor(private readonly deps: HttpDependencies) {
    this.server = createServer((req, res) => {
      this.route(req, res).catch((err: unknown) => this.fail(res, err));
    });
    this.server.keepAliveTimeout = 10_000;
  }

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The path only (no query is used): cheaper than a URL object per request.
    const target = req.url ?? '/';
    const query = target.indexOf('?');
    const path = query === -1 ? target : target.slice(0, query);
    if (path === '/v1/messages') return this.only(req, 'POST', () => this.sendMessage(req, res));
    if (path === '/v1/users') return this.only(req, 'POST', () => this.register(req, res));
    if (path.startsWith('/v1/numbers/')) return this.only(req, 'GET', () => this.validate(path.slice('/v1/numbers/'.length), res));
    if (path === '/healthz') return this.only(req, 'GET', () => this.health(res));
    if (path === '/metrics') return this.only(req, 'GET', () => this.metrics(res));
    throw new HttpError(404, 'ZAPWIRE_NO_ROUTE', `no route ${path}`);
  }

  private only(req: IncomingMessage, method: string, handler: () => Promise<void>): Promise<void> {
    if (req.method !== method) throw new HttpError(405, 'ZAPWIRE_METHOD', `use ${method}`);
    return handler();
  }

  private async sendMessage(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const auth = BEARER.exec(req.headers.authorization ?? '');
    if (!auth) throw new HttpError(Status.Unauthorized, 'ZAPWIRE_UNAUTHORIZED', 'Authorization: Bearer <number>:<token> required');
    const body = await this.readJson(req);
    const to = body.to;
    const text = body.text;
    const receipts = body.receipts ?? true;
    if (typeof to !== 'string' || !isNumber(to)) throw new HttpError(400, 'ZAPWIRE_BAD_REQUEST', '"to" must be a 13-digit number string');
    if (typeof text !== 'string') throw new HttpError(400, 'ZAPWIRE_BAD_REQUEST', '"text" must be a string');
    if (text.includes('\0')) throw new HttpError(400, 'ZAPWIRE_BAD_REQUEST', '"text" must not contain NUL');
    if (typeof receipts !== 'boolean') throw new HttpError(400, 'ZAPWIRE_BAD_REQUEST', '"receipts" must be a boolean');
    if (this.deps.closing()) throw new HttpError(Status.Unavailable, 'ZAPWIRE_UNAVAILABLE', 'server shutting down');
    const [, number, token] = auth;
    if (!this.limiter(number!).take()) throw new HttpError(Status.TooMany, 'ZAPWIRE_RATE_LIMITED', 'sending too fast');
    // Longer text is split as the SDK splits it (never inside a UTF-8
    // character) and stored as consecutive messages in one transaction.
    const texts = splitText(text);
    const result = await this.deps.broker.askAsync({
      op: 'authSend',
      number: number!,
      token: token!,
      dst: to,
      ts: Math.floor(Date.now() / 1000),
      flag: receipts,
      texts,
      remote: req.socket.remoteAddress ?? '',
    });
    if (!result.ok) throw new HttpError(result.status, codeFor(result.status), result.reason);
    if (result.value.kind !== 'storedMany') throw new Error('unexpected broker answer');
    this.json(res, 201, { id: result.value.ids[0], ids: result.value.ids });
  }

  private async register(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await this.readJson(req, true);
    const name = body.name ?? '';
    if (typeof name !== 'string') throw new HttpError(400, 'ZAPWIRE_BAD_REQUEST', '"name" must be a string');
    if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES) throw new HttpError(413, 'ZAPWIRE_TOO_LARGE', `name over ${MAX_NAME_BYTES} bytes`);
    if (this.deps.closing()) throw new HttpError(Status.Unavailable, 'ZAPWIRE_UNAVAILABLE', 'server shutting down');
    const result = await this.deps.broker.askAsync({ op: 'register', name, remote: req.socket.remoteAddress ?? '' });
    if (!result.ok) throw new HttpError(result.status, codeFor(result.status), result.reason);
    if (result.value.kind !== 'registered') throw new Error('unexpected broker answer');
    this.deps.logger.info({ number: result.value.number }, 'registered over HTTP');
    this.json(res, 201, { number: result.value.number, token: result.value.token });
  }

  private async validate(number: string, res: ServerResponse): Promise<void> {
    if (!isNumber(number)) throw new HttpError(400, 'ZAPWIRE_BAD_REQUEST', 'a number is 13 digits');
    const result = await this.deps.broker.askAsync({ op: 'validate', number });
    if (!result.ok) throw new HttpError(result.status, codeFor(result.status), result.reason);
    if (result.value.kind !== 'validity') throw new Error('unexpected broker answer');
    this.json(res, 200, { number, valid: result.value.valid });
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

  /** Every answer but /metrics' goes through here, and is counted here (no listener per request). */
  private json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    this.deps.onAnswer?.(status);
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
    res.end(text);
  }

  /** Reads a JSON object body, refusing (413) one over the limit before reading it whole. */
  private readJson(req: IncomingMessage, optional = false): Promise<Record<string, unknown>> {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > MAX_BODY_BYTES) return Promise.reject(new HttpError(413, 'ZAPWIRE_TOO_LARGE', `body over ${MAX_BODY_BYTES} bytes`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) {
          req.off('data', onData);
          req.pause();
          reject(new HttpError(413, 'ZAPWIRE_TOO_LARGE', `body over ${MAX_BODY_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      };
      req.on('data', onData);
      req.once('error', reject);
      req.once('end', () => {
        if (size > MAX_BODY_BYTES) return;
        const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
        if (text.trim() === '' && optional) return resolve({});
        try {
          const value: unknown = JSON.parse(text);
          if (value === null || typeof value !== 'object' || Array.isArray(value)) {
            reject(new HttpError(400, 'ZAPWIRE_BAD_JSON', 'the body must be a JSON object'));
          } else resolve(value as Record<string, unknown>);
        } catch (err) {
          reject(new HttpError(400, 'ZAPWIRE_BAD_JSON', `malformed JSON: ${(err as Error).message}`));
        }
      });
    });
  }

  private limiter(number: string): RateLimiter {
    let limiter = this.limiters.get(number);
    if (!limiter) {
      // Bounded: forgetting a limiter only forgives a burst.
      if (this.limiters.size >= 100_000) this.limiters.clear();
      limiter = new RateLimiter(this.deps.rateLimit);
      this.limiters.set(number, limiter);
    }
    return limiter;
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (!(err instanceof HttpError)) this.deps.logger.error({ err }, 'HTTP handler failed');
    const e = err instanceof HttpError ? err : new HttpError(500, 'ZAPWIRE_INTERNAL', 'internal error');
    if (e.status >= 400 && e.status < 500) this.deps.logger.debug({ status: e.status, reason: e.message }, 'HTTP request refused');
    // A refused body is not read to its end: close the connection after answering.
    const headers: Record<string, string> = e.status === 413 ? { connection: 'close' } : {};
    if (res.headersSent) {
      res.destroy();
      return;
    }
    this.json(res, e.status, { error: { status: e.status, code: e.code, message: e.message } }, headers);
  }
}

/** The stable code of the error class for a status that came back from the broker. */
function codeFor(status: number): string {
  return errorForStatus(status, '').code;
}
