import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { OptionError } from '../errors.js';

export type SynchronousMode = 'normal' | 'full';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Everything `zapwire serve` can be told; see README §Options. */
export interface ServerOptions {
  /** Interface of the protocol v1 listener. */
  host: string;
  /** Port of the protocol v1 listener; 0 picks a free one. */
  port: number;
  /** SQLite file (its folder is created), or ':memory:'. */
  dbPath: string;
  /** Port of the legacy listener; undefined keeps it off, 0 picks a free one. */
  legacyPort: number | undefined;
  /** Port of the HTTP API (README §HTTP API); undefined keeps it off, 0 picks a free one. */
  httpPort: number | undefined;
  /**
   * Worker threads that host sessions (at most). 0: no threads of their own,
   * the sessions run on the broker thread (DESIGN.md §Thread models).
   */
  threads: number;
  /** Sessions one thread hosts; 1 gives every client a dedicated thread. */
  sessionsPerThread: number;
  /** Most `06` frames one `03` answers with. */
  pollBatch: number;
  synchronous: SynchronousMode;
  logLevel: LogLevel;
  /** Unacknowledged pushes a session may have in flight before pushing waits for its `08`. */
  pushWindow: number;
  /**
   * Rows one number may store per second with `05`, across all its sessions
   * and the HTTP API (a group message counts once per member it is stored
   * for); token bucket, bursts of twice that. 0 turns it off.
   */
  rateLimit: number;
  /** `10` (create group) one number may send per second, bursts of twice that; 0 turns it off. */
  groupRateLimit: number;
  /** Pending rows one recipient may have; a `05` beyond it is refused `429` (all or nothing for a group). 0 turns it off. */
  maxPendingPerRecipient: number;
  /** Registrations (`01`, legacy `01`, `POST /v1/users`) one source address may make per second; 0 turns it off. */
  registerRate: number;
  /** Registrations one source address may make in a burst. */
  registerBurst: number;
  /** Failed authentications (`04`, HTTP bearer token) one source address may make per minute; then refused `429`. 0 turns it off. */
  authFailuresPerMinute: number;
  /**
   * Frames (v1) or requests (HTTP) of one connection that may wait for the
   * server at once: beyond it the connection is not read until answers go out,
   * so pipelining costs bounded memory (docs/protocol.md §Limits).
   */
  maxInflight: number;
  /** An anonymous v1 connection (no `04` yet) idle this long gets `09 408` and is closed, in ms; 0 turns it off. */
  anonymousTimeoutMs: number;
  /**
   * Open connections, every listener together; beyond it a new one is refused
   * (`09 503` / HTTP `503`). Default: the process's open-file limit less a
   * reserve (see defaultMaxConnections). 0 turns it off.
   */
  maxConnections: number;
  /** Open connections from one source address, every listener together; 0 turns it off. */
  maxConnectionsPerAddress: number;
  /** HTTP: the request's headers must arrive within this many ms. */
  httpHeadersTimeoutMs: number;
  /** HTTP: the whole request must arrive within this many ms. */
  httpRequestTimeoutMs: number;
  /** HTTP: an idle keep-alive connection is closed after this many ms. */
  httpKeepAliveTimeoutMs: number;
  /** Pause between two `06` written on the legacy listener, in ms (docs/protocol.md §Legacy listener). */
  legacyPaceMs: number;
  /** Extra time the store thread waits to gather a larger group commit, in ms; 0 commits every loop turn. */
  commitWindowMs: number;
  /**
   * Origins a browser page may open the WebSocket transport from (`GET /v1/ws`,
   * docs/protocol.md §WebSocket); another is refused 403 at the upgrade.
   * Undefined: any origin (README §WebSocket says why that is safe).
   */
  wsOrigins: readonly string[] | undefined;
  /** The largest WebSocket message taken, in bytes; a larger one closes the connection (1009). */
  wsMaxPayload: number;
  /** PEM certificate (chain) file: with tlsKey, the v1 listener speaks TLS and the HTTP one HTTPS. */
  tlsCert: string | undefined;
  /** PEM private key file of tlsCert. */
  tlsKey: string | undefined;
}

export const DEFAULT_PORT = 5050;
export const DEFAULT_DB_PATH = './data/zapwire.db';

export function defaultThreads(sessionsPerThread: number): number {
  // One dedicated thread per client needs hundreds of threads; pooled sessions
  // want one thread per core (a Worker costs ~7.5 MB of RSS, measured on the
  // 2-vCPU machine: about 3,000 fit in its memory).
  return sessionsPerThread === 1 ? 1024 : availableParallelism();
}

/**
 * The process's soft limit on open files (the `ulimit -n` every socket counts
 * against), read from /proc on Linux; undefined where it cannot be read.
 */
export function openFileLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const match = /^Max open files\s+(\d+|unlimited)/m.exec(limits);
    if (!match) return undefined;
    return match[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(match[1]);
  } catch {
    return undefined;
  }
}

/**
 * The default total connection cap: the open-file limit less a reserve (a
 * tenth, at least 256) for the database, its WAL, worker threads' handles and
 * the HTTP listener, so that a flood of sockets is refused by zapwire with a
 * `503` rather than by the kernel with EMFILE. 10,000 where the limit is unknown.
 */
export function defaultMaxConnections(fileLimit: number | undefined = openFileLimit()): number {
  if (fileLimit === undefined) return 10_000;
  const reserve = Math.max(256, Math.floor(fileLimit / 10));
  return Math.min(1_000_000, Math.max(16, fileLimit - reserve));
}

export const DEFAULT_OPTIONS: Readonly<Omit<ServerOptions, 'threads' | 'maxConnections'>> =
  Object.freeze({
    host: '127.0.0.1',
    port: DEFAULT_PORT,
    dbPath: DEFAULT_DB_PATH,
    legacyPort: undefined,
    httpPort: undefined,
    sessionsPerThread: 10_000,
    pollBatch: 100,
    synchronous: 'normal',
    logLevel: 'info',
    pushWindow: 512,
    rateLimit: 1_000,
    groupRateLimit: 5,
    maxPendingPerRecipient: 10_000,
    registerRate: 100,
    registerBurst: 1_000,
    authFailuresPerMinute: 100,
    maxInflight: 32,
    anonymousTimeoutMs: 10_000,
    maxConnectionsPerAddress: 1_000,
    httpHeadersTimeoutMs: 10_000,
    httpRequestTimeoutMs: 30_000,
    httpKeepAliveTimeoutMs: 5_000,
    legacyPaceMs: 30,
    commitWindowMs: 0,
    wsOrigins: undefined,
    wsMaxPayload: 64 * 1024,
    tlsCert: undefined,
    tlsKey: undefined,
  });

const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

function integer(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new OptionError(
      name,
      `${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * Checks every option once, fills in defaults and freezes the result, so that
 * nothing downstream has to re-validate (piscina's habit).
 */
export function resolveServerOptions(input: Partial<ServerOptions> = {}): Readonly<ServerOptions> {
  const known = new Set<string>([...Object.keys(DEFAULT_OPTIONS), 'threads', 'maxConnections']);
  for (const key of Object.keys(input)) {
    if (!known.has(key)) throw new OptionError(key, `unknown option ${key}`);
  }
  const merged = { ...DEFAULT_OPTIONS, ...stripUndefined(input) } as Partial<ServerOptions> &
    typeof DEFAULT_OPTIONS;
  if (typeof merged.host !== 'string' || merged.host.length === 0)
    throw new OptionError('host', 'host must be a non-empty string');
  integer('port', merged.port, 0, 65_535);
  if (typeof merged.dbPath !== 'string' || merged.dbPath.length === 0)
    throw new OptionError('dbPath', 'dbPath must be a non-empty path');
  if (merged.legacyPort !== undefined) integer('legacyPort', merged.legacyPort, 0, 65_535);
  if (merged.httpPort !== undefined) integer('httpPort', merged.httpPort, 0, 65_535);
  integer('sessionsPerThread', merged.sessionsPerThread, 1, 1_000_000);
  const threads = merged.threads ?? defaultThreads(merged.sessionsPerThread);
  integer('threads', threads, 0, 4_096);
  if (threads === 0 && merged.sessionsPerThread === 1)
    throw new OptionError(
      'threads',
      'threads 0 (the sessions on the broker thread) cannot give each client a thread of its own (sessions per thread 1)',
    );
  integer('pollBatch', merged.pollBatch, 1, 10_000);
  if (merged.synchronous !== 'normal' && merged.synchronous !== 'full') {
    throw new OptionError(
      'synchronous',
      `synchronous must be normal or full, got ${JSON.stringify(merged.synchronous)}`,
    );
  }
  if (!LOG_LEVELS.includes(merged.logLevel)) {
    throw new OptionError(
      'logLevel',
      `logLevel must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(merged.logLevel)}`,
    );
  }
  integer('pushWindow', merged.pushWindow, 1, 1_000_000);
  integer('rateLimit', merged.rateLimit, 0, 10_000_000);
  integer('groupRateLimit', merged.groupRateLimit, 0, 1_000_000);
  integer('maxPendingPerRecipient', merged.maxPendingPerRecipient, 0, 1_000_000_000);
  integer('registerRate', merged.registerRate, 0, 1_000_000);
  integer('registerBurst', merged.registerBurst, 1, 10_000_000);
  integer('authFailuresPerMinute', merged.authFailuresPerMinute, 0, 1_000_000);
  integer('maxInflight', merged.maxInflight, 1, 1_024);
  integer('anonymousTimeoutMs', merged.anonymousTimeoutMs, 0, 3_600_000);
  const maxConnections = merged.maxConnections ?? defaultMaxConnections();
  integer('maxConnections', maxConnections, 0, 10_000_000);
  integer('maxConnectionsPerAddress', merged.maxConnectionsPerAddress, 0, 10_000_000);
  integer('httpHeadersTimeoutMs', merged.httpHeadersTimeoutMs, 1, 3_600_000);
  integer('httpRequestTimeoutMs', merged.httpRequestTimeoutMs, 1, 3_600_000);
  integer('httpKeepAliveTimeoutMs', merged.httpKeepAliveTimeoutMs, 1, 3_600_000);
  integer('legacyPaceMs', merged.legacyPaceMs, 0, 10_000);
  integer('commitWindowMs', merged.commitWindowMs, 0, 1_000);
  const wsOrigins = merged.wsOrigins;
  if (
    wsOrigins !== undefined &&
    (!Array.isArray(wsOrigins) ||
      wsOrigins.length === 0 ||
      !wsOrigins.every((o) => typeof o === 'string' && o.length > 0))
  )
    throw new OptionError('wsOrigins', 'wsOrigins must be a non-empty list of origins');
  // At most 4 MiB: a message is handed on whole, so it bounds the frames in flight (DESIGN.md §Flow control).
  integer('wsMaxPayload', merged.wsMaxPayload, 256, 4 * 1024 * 1024);
  for (const key of ['tlsCert', 'tlsKey'] as const) {
    const file = merged[key];
    if (file !== undefined && (typeof file !== 'string' || file.length === 0))
      throw new OptionError(key, `${key} must be a file path`);
  }
  if ((merged.tlsCert === undefined) !== (merged.tlsKey === undefined))
    throw new OptionError(
      merged.tlsCert === undefined ? 'tlsCert' : 'tlsKey',
      `${merged.tlsCert === undefined ? 'tlsCert' : 'tlsKey'} is needed too: TLS takes a certificate and its key`,
    );
  return Object.freeze({
    ...merged,
    threads,
    maxConnections,
    wsOrigins: wsOrigins === undefined ? undefined : Object.freeze([...wsOrigins]),
  } as ServerOptions);
}

function stripUndefined<T extends object>(input: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}
