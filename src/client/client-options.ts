import { isNumber } from '../protocol/frame.js';
import { DEFAULT_PORT } from '../server/config.js';
import type { BackoffOptions } from './backoff.js';
import { DEFAULT_SEEN_CAPACITY, type SeenStore } from './deduplicator.js';

/** A registered number and its secret token (what `register` returns). */
export interface Identity {
  number: string;
  token: string;
}

export interface ZapwireClientOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 5050 (the server's default port). */
  port?: number;
  /** Needed by `connect`; `register` sets it when it is missing. */
  identity?: Identity;
  /** Reconnect with exponential backoff when the connection drops (default 250 ms up to 30 s); `false`: never. */
  reconnect?: Partial<BackoffOptions> | false;
  /** Longest wait before acknowledging received messages, in ms (default 20). */
  ackDelayMs?: number;
  /** Acknowledge at once when this many messages are unacknowledged (default 64). */
  ackEvery?: number;
  /** A request unanswered this long drops the connection, in ms (default 30 000; 0: never). */
  requestTimeoutMs?: number;
  /** Give up connecting after this long, in ms (default 10 000; 0: the system's own timeout). */
  connectTimeoutMs?: number;
  /** Remembers delivered messages across restarts, so a redelivery is not shown twice (see SeenStore). */
  seen?: SeenStore;
  /** Keys of delivered messages kept in memory to recognise redeliveries (default 10 000). */
  seenCapacity?: number;
  /** Connect over TLS (a server started with --tls-cert); `ca`: the PEM of a private CA to trust (default: off). */
  tls?: boolean | TlsClientOptions;
}

export interface TlsClientOptions {
  /** PEM certificate(s) of the CA that signed the server's certificate, instead of the system's. */
  ca?: string | Buffer;
}

export interface ResolvedClientOptions {
  host: string;
  port: number;
  identity: Identity | undefined;
  reconnect: BackoffOptions | false;
  ackDelayMs: number;
  ackEvery: number;
  requestTimeoutMs: number;
  connectTimeoutMs: number;
  seen: SeenStore | undefined;
  seenCapacity: number;
  /** Undefined: plain TCP. */
  tls: Readonly<TlsClientOptions> | undefined;
}

export const DEFAULT_RECONNECT: Readonly<BackoffOptions> = Object.freeze({
  initialDelayMs: 250,
  maxDelayMs: 30_000,
});

const KNOWN = [
  'host',
  'port',
  'identity',
  'reconnect',
  'ackDelayMs',
  'ackEvery',
  'requestTimeoutMs',
  'connectTimeoutMs',
  'seen',
  'seenCapacity',
  'tls',
] as const;

function integer(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(
      `options.${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/** Checks every option once, with a message naming it (and a hint for a misspelled one), then freezes them. */
export function resolveClientOptions(
  input: ZapwireClientOptions = {},
): Readonly<ResolvedClientOptions> {
  if (typeof input !== 'object' || input === null) throw new TypeError('options must be an object');
  for (const key of Object.keys(input)) {
    if (!(KNOWN as readonly string[]).includes(key)) {
      const hint = closest(key, KNOWN);
      throw new TypeError(
        `unknown option ${JSON.stringify(key)}${hint ? `; did you mean ${JSON.stringify(hint)}?` : ''}`,
      );
    }
  }
  const host = input.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host.length === 0)
    throw new TypeError('options.host must be a non-empty string');
  const port = integer('port', input.port, DEFAULT_PORT, 1, 65_535);

  let identity: Identity | undefined;
  if (input.identity !== undefined) {
    const { number, token } = input.identity as Partial<Identity>;
    if (typeof number !== 'string' || !isNumber(number))
      throw new TypeError('options.identity.number must be 13 digits');
    if (typeof token !== 'string' || token.length === 0)
      throw new TypeError('options.identity.token must be a non-empty string');
    identity = Object.freeze({ number, token });
  }

  let reconnect: BackoffOptions | false;
  if (input.reconnect === false) reconnect = false;
  else {
    const given = input.reconnect ?? {};
    if (typeof given !== 'object' || given === null)
      throw new TypeError('options.reconnect must be false or { initialDelayMs, maxDelayMs }');
    const initialDelayMs = integer(
      'reconnect.initialDelayMs',
      given.initialDelayMs,
      DEFAULT_RECONNECT.initialDelayMs,
      1,
    );
    const maxDelayMs = integer(
      'reconnect.maxDelayMs',
      given.maxDelayMs,
      Math.max(DEFAULT_RECONNECT.maxDelayMs, initialDelayMs),
      initialDelayMs,
    );
    reconnect = Object.freeze({ initialDelayMs, maxDelayMs });
  }

  const seen = input.seen;
  if (
    seen !== undefined &&
    (typeof seen !== 'object' ||
      seen === null ||
      typeof seen.has !== 'function' ||
      typeof seen.add !== 'function')
  ) {
    throw new TypeError('options.seen must be an object with has(key) and add(key)');
  }

  const tls = input.tls;
  if (
    tls !== undefined &&
    typeof tls !== 'boolean' &&
    (typeof tls !== 'object' ||
      tls === null ||
      (tls.ca !== undefined && typeof tls.ca !== 'string' && !Buffer.isBuffer(tls.ca)))
  )
    throw new TypeError('options.tls must be a boolean or { ca?: string | Buffer }');

  return Object.freeze({
    host,
    port,
    identity,
    reconnect,
    ackDelayMs: integer('ackDelayMs', input.ackDelayMs, 20, 0, 2_147_483_647),
    ackEvery: integer('ackEvery', input.ackEvery, 64, 1, 100_000),
    requestTimeoutMs: integer('requestTimeoutMs', input.requestTimeoutMs, 30_000, 0, 2_147_483_647),
    connectTimeoutMs: integer('connectTimeoutMs', input.connectTimeoutMs, 10_000, 0, 2_147_483_647),
    seen,
    seenCapacity: integer('seenCapacity', input.seenCapacity, DEFAULT_SEEN_CAPACITY, 1),
    tls: tls === true ? Object.freeze({}) : tls ? Object.freeze({ ...tls }) : undefined,
  });
}

/** The known name closest to `name`, if it is close enough to be a typo. */
function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = distance(name.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3)) ? best : undefined;
}

function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        previous[j]! + 1,
        row[j - 1]! + 1,
        previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length]!;
}
