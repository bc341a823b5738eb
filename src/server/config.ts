import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { OptionError } from '../errors.js';
import { isPostgresUrl } from '../store/database-name.js';
import { PRESENCE_TTL_MS } from './cluster/cluster-protocol.js';

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
  /** Redis URL: the node joins a cluster routed through it (needs a postgres:// dbPath); undefined: a single node. */
  redis: string | undefined;
  /** This node's name in the cluster (presence, its Redis channel, metrics). */
  nodeId: string;
  /**
   * With redis: how long a presence key and a node's heartbeat live without a
   * refresh, in ms (refreshed every third of it). A node silent this long is
   * taken for dead: reaped, and every node re-reads its sessions.
   */
  clusterTtlMs: number;
}

export const DEFAULT_PORT = 5050;

/**
 * The default --node-id: unique among the nodes of a cluster without being
 * configured, and drawn once per process, so that every read of the defaults
 * agrees (the broker thread is told the main thread's).
 */
export const GENERATED_NODE_ID = `${hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
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

/**
 * How one option's value is checked, and how the command line reads it from
 * text (a flag's argument or an environment variable): as an integer, as
 * text, or as one of a few words.
 */
export interface OptionParser<T> {
  /** How the command line reads it: an integer, a string, a comma-separated list, or one of the choices. */
  readonly text: 'integer' | 'string' | 'list' | readonly string[];
  /** The value if it can be used; otherwise an OptionError naming `option`. */
  check(option: string, value: unknown): T;
}

/** The defaults that depend on the machine or on another option, computed when options are resolved. */
type ComputedKey = 'threads' | 'maxConnections';
/** The options whose defaults are fixed. */
export type StaticOptions = Omit<ServerOptions, ComputedKey>;

/** One row of the option table: everything the server and `zapwire serve` know of one option. */
export interface OptionSpec<T> {
  /** The long flag and its argument, as `zapwire serve --help` shows it; the environment variable is derived from it (optionEnv). */
  readonly flag: `--${string}`;
  readonly help: string;
  readonly parse: OptionParser<T>;
  /** The default: a value (undefined: off), or computed from the fixed options. */
  readonly default: T | ((options: StaticOptions) => T);
  /** How help shows a default that is computed or off. */
  readonly defaultHelp?: string;
}

/**
 * The table's type: one row per ServerOptions key, no more, no fewer, and a
 * computed default exactly for the ComputedKey options (anything else fails
 * to compile).
 */
export type OptionTable = {
  readonly [K in keyof ServerOptions]: OptionSpec<ServerOptions[K]> & {
    readonly default: K extends ComputedKey
      ? (options: StaticOptions) => ServerOptions[K]
      : ServerOptions[K];
  };
};

const LOG_LEVELS: readonly LogLevel[] = [
  'fatal',
  'error',
  'warn',
  'info',
  'debug',
  'trace',
  'silent',
];

function integer(min: number, max: number): OptionParser<number> {
  return {
    text: 'integer',
    check(option, value) {
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
        throw new OptionError(
          option,
          `${option} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`,
        );
      return value;
    },
  };
}

/** A port, or undefined for a listener that stays off. */
const optionalPort: OptionParser<number | undefined> = {
  text: 'integer',
  check: (option, value) =>
    value === undefined ? undefined : integer(0, 65_535).check(option, value),
};

function nonEmpty(what: string): OptionParser<string> {
  return {
    text: 'string',
    check(option, value) {
      if (typeof value !== 'string' || value.length === 0)
        throw new OptionError(option, `${option} must be a non-empty ${what}`);
      return value;
    },
  };
}

/** A file path, or undefined for off. */
const optionalPath: OptionParser<string | undefined> = {
  text: 'string',
  check: (option, value) =>
    value === undefined ? undefined : nonEmpty('file path').check(option, value),
};

/** A redis:// (or rediss://, TLS) URL, or undefined for off. */
const optionalRedisUrl: OptionParser<string | undefined> = {
  text: 'string',
  check(option, value) {
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || !/^rediss?:\/\/./.test(value))
      throw new OptionError(
        option,
        `${option} must be a redis:// URL, got ${JSON.stringify(value)}`,
      );
    return value;
  },
};

/** A node id: it names a Redis channel and sits in presence values, so no spaces. */
const nodeIdParser: OptionParser<string> = {
  text: 'string',
  check(option, value) {
    if (typeof value !== 'string' || !/^[A-Za-z0-9._:-]{1,64}$/.test(value))
      throw new OptionError(
        option,
        `${option} must be 1 to 64 letters, digits or . _ : -, got ${JSON.stringify(value)}`,
      );
    return value;
  },
};

/** A non-empty list of non-empty strings (a comma-separated list on the command line), or undefined for off. */
const optionalList: OptionParser<readonly string[] | undefined> = {
  text: 'list',
  check(option, value) {
    if (value === undefined) return undefined;
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      !value.every((item) => typeof item === 'string' && item.length > 0)
    )
      throw new OptionError(option, `${option} must be a non-empty list of origins`);
    return Object.freeze([...value]);
  },
};

function oneOf<T extends string>(choices: readonly T[]): OptionParser<T> {
  return {
    text: choices,
    check(option, value) {
      if (!choices.includes(value as T))
        throw new OptionError(
          option,
          `${option} must be one of ${choices.join(', ')}, got ${JSON.stringify(value)}`,
        );
      return value as T;
    },
  };
}

/**
 * Every option of the server, once: its flag (and so its environment
 * variable), help, check and default. ServerOptions' defaults, the
 * `zapwire serve` flags, their help and the environment they read are all
 * derived from it (README §Running the server, §Limits). Its order is the
 * order of `zapwire serve --help`.
 */
export const SERVER_OPTIONS: OptionTable = Object.freeze<OptionTable>({
  host: {
    flag: '--host <address>',
    help: 'interface to listen on',
    parse: nonEmpty('string'),
    default: '127.0.0.1',
  },
  port: {
    flag: '--port <n>',
    help: 'protocol v1 port (0 picks a free one)',
    parse: integer(0, 65_535),
    default: DEFAULT_PORT,
  },
  dbPath: {
    flag: '--db <path>',
    help: 'SQLite database file (its folder is created), or a postgres:// URL (PostgreSQL)',
    parse: nonEmpty('path'),
    default: DEFAULT_DB_PATH,
  },
  legacyPort: {
    flag: '--legacy-port <n>',
    help: 'port of the legacy listener (the original used 5000); it trusts src, so face only a trusted network',
    parse: optionalPort,
    default: undefined,
    defaultHelp: 'off',
  },
  httpPort: {
    flag: '--http-port <n>',
    help: 'port of the HTTP API, /metrics and /healthz (0 picks a free one)',
    parse: optionalPort,
    default: undefined,
    defaultHelp: 'off',
  },
  threads: {
    flag: '--threads <n>',
    help: 'worker threads hosting sessions; 0: the sessions run on the broker thread',
    parse: integer(0, 4_096),
    default: (options) => defaultThreads(options.sessionsPerThread),
    defaultHelp: 'cores, or 1024 with --sessions-per-thread 1',
  },
  sessionsPerThread: {
    flag: '--sessions-per-thread <n>',
    help: 'sessions one thread hosts; 1 = a dedicated thread per client',
    parse: integer(1, 1_000_000),
    default: 10_000,
  },
  pollBatch: {
    flag: '--poll-batch <n>',
    help: 'most messages one 03 answers with',
    parse: integer(1, 10_000),
    default: 100,
  },
  synchronous: {
    flag: '--synchronous <mode>',
    help: 'SQLite synchronous mode: normal survives a process crash, full also a power loss',
    parse: oneOf<SynchronousMode>(['normal', 'full']),
    default: 'normal',
  },
  logLevel: {
    flag: '--log-level <level>',
    help: 'log level',
    parse: oneOf(LOG_LEVELS),
    default: 'info',
  },
  pushWindow: {
    flag: '--push-window <n>',
    help: 'unacknowledged pushes in flight per session',
    parse: integer(1, 1_000_000),
    default: 512,
  },
  legacyPaceMs: {
    flag: '--legacy-pace-ms <n>',
    help: 'pause between two 06 on the legacy listener',
    parse: integer(0, 10_000),
    default: 30,
  },
  commitWindowMs: {
    flag: '--commit-window-ms <n>',
    help: 'extra wait to gather a larger group commit (0 = every loop turn)',
    parse: integer(0, 1_000),
    default: 0,
  },
  // The WebSocket transport and TLS (README §WebSocket, §TLS).
  wsOrigins: {
    flag: '--ws-origins <list>',
    help: 'origins (comma-separated) a browser page may open /v1/ws from; others get 403',
    parse: optionalList,
    default: undefined,
    defaultHelp: 'any',
  },
  wsMaxPayload: {
    flag: '--ws-max-payload <bytes>',
    help: 'largest WebSocket message taken; a larger one closes the connection (1009)',
    // At most 4 MiB: a message is handed on whole, so it bounds the frames in flight (DESIGN.md §Flow control).
    parse: integer(256, 4 * 1024 * 1024),
    default: 64 * 1024,
  },
  tlsCert: {
    flag: '--tls-cert <file>',
    help: 'PEM certificate: with --tls-key, v1 speaks TLS and HTTP is HTTPS (legacy stays plain)',
    parse: optionalPath,
    default: undefined,
    defaultHelp: 'off',
  },
  tlsKey: {
    flag: '--tls-key <file>',
    help: 'PEM private key of --tls-cert',
    parse: optionalPath,
    default: undefined,
    defaultHelp: 'off',
  },
  // Several nodes (README §Running several nodes).
  redis: {
    flag: '--redis <url>',
    help: 'Redis URL: join a cluster of nodes sharing the postgres:// --db (presence and notices through Redis)',
    parse: optionalRedisUrl,
    default: undefined,
    defaultHelp: 'off (a single node)',
  },
  nodeId: {
    flag: '--node-id <id>',
    help: "this node's name in the cluster (logged in the listening line)",
    parse: nodeIdParser,
    default: GENERATED_NODE_ID,
    defaultHelp: '<hostname>-<pid>-<4 random hex>',
  },
  clusterTtlMs: {
    flag: '--cluster-ttl-ms <n>',
    help: 'with --redis only: a node silent this long is taken for dead (its presence expires; another node reaps it and every node re-reads its sessions); refreshed every third of it',
    parse: integer(1_000, 600_000),
    default: PRESENCE_TTL_MS,
  },
  // The limits of docs/protocol.md §Limits (README §Limits).
  maxInflight: {
    flag: '--max-inflight <n>',
    help: 'frames (or HTTP requests) of one connection waiting for the server before it is not read further',
    parse: integer(1, 1_024),
    default: 32,
  },
  anonymousTimeoutMs: {
    flag: '--anonymous-timeout-ms <n>',
    help: 'an anonymous v1 connection idle this long gets 09 408 and is closed (0 = never)',
    parse: integer(0, 3_600_000),
    default: 10_000,
  },
  maxConnections: {
    flag: '--max-connections <n>',
    help: 'open connections, all listeners (0 = no cap)',
    parse: integer(0, 10_000_000),
    default: () => defaultMaxConnections(),
    defaultHelp: 'the open-file limit less a tenth (at least 256)',
  },
  maxConnectionsPerAddress: {
    flag: '--max-connections-per-address <n>',
    help: 'open connections from one source address, all listeners (0 = no cap)',
    parse: integer(0, 10_000_000),
    default: 1_000,
  },
  rateLimit: {
    flag: '--rate-limit <n>',
    help: 'messages stored per second per number, all its sessions and HTTP; a group message counts per member (0 = no limit)',
    parse: integer(0, 10_000_000),
    default: 1_000,
  },
  groupRateLimit: {
    flag: '--group-rate-limit <n>',
    help: '10 (create group) per second per number (0 = no limit)',
    parse: integer(0, 1_000_000),
    default: 5,
  },
  maxPendingPerRecipient: {
    flag: '--max-pending-per-recipient <n>',
    help: 'pending messages one recipient may have; more is refused 429 (0 = no limit)',
    parse: integer(0, 1_000_000_000),
    default: 10_000,
  },
  registerRate: {
    flag: '--register-rate <n>',
    help: 'registrations per second per source address (0 = no limit)',
    parse: integer(0, 1_000_000),
    default: 100,
  },
  registerBurst: {
    flag: '--register-burst <n>',
    help: 'registrations in a burst per source address',
    parse: integer(1, 10_000_000),
    default: 1_000,
  },
  authFailuresPerMinute: {
    flag: '--auth-failures-per-minute <n>',
    help: 'failed authentications per minute per source address; then 429 (0 = no limit)',
    parse: integer(0, 1_000_000),
    default: 100,
  },
  httpHeadersTimeoutMs: {
    flag: '--http-headers-timeout-ms <n>',
    help: "HTTP: time for a request's headers to arrive",
    parse: integer(1, 3_600_000),
    default: 10_000,
  },
  httpRequestTimeoutMs: {
    flag: '--http-request-timeout-ms <n>',
    help: 'HTTP: time for a whole request to arrive',
    parse: integer(1, 3_600_000),
    default: 30_000,
  },
  httpKeepAliveTimeoutMs: {
    flag: '--http-keep-alive-timeout-ms <n>',
    help: 'HTTP: an idle keep-alive connection is closed after this',
    parse: integer(1, 3_600_000),
    default: 5_000,
  },
});

type Entry = { [K in keyof ServerOptions]: [K, OptionSpec<ServerOptions[K]>] }[keyof ServerOptions];

/** The table's rows, in its order. */
export function optionEntries(): Entry[] {
  return Object.entries(SERVER_OPTIONS) as Entry[];
}

/** The environment variable of an option: `ZAPWIRE_` and its flag's name (`--poll-batch` -> `ZAPWIRE_POLL_BATCH`). */
export function optionEnv(spec: Pick<OptionSpec<unknown>, 'flag'>): string {
  const name = /^--([a-z0-9-]+)/.exec(spec.flag)?.[1] ?? '';
  return `ZAPWIRE_${name.replace(/-/g, '_').toUpperCase()}`;
}

const isComputed = <T>(
  fallback: OptionSpec<T>['default'],
): fallback is (options: StaticOptions) => T => typeof fallback === 'function';

/** The fixed defaults (`threads` and `maxConnections` are computed when options are resolved). */
export const DEFAULT_OPTIONS: Readonly<StaticOptions> = Object.freeze(
  Object.fromEntries(
    optionEntries()
      .filter(([, spec]) => !isComputed(spec.default))
      .map(([key, spec]) => [key, spec.default]),
  ) as unknown as StaticOptions,
);

/**
 * Checks every option once, fills in defaults and freezes the result, so that
 * nothing downstream has to re-validate (piscina's habit). An undefined value
 * is the default.
 */
export function resolveServerOptions(input: Partial<ServerOptions> = {}): Readonly<ServerOptions> {
  for (const key of Object.keys(input)) {
    if (!Object.hasOwn(SERVER_OPTIONS, key)) throw new OptionError(key, `unknown option ${key}`);
  }
  const given = input as Record<string, unknown>;
  const resolved: Record<string, unknown> = {};
  const take = (key: string, parse: OptionParser<unknown>, fallback: () => unknown) => {
    resolved[key] = parse.check(key, given[key] === undefined ? fallback() : given[key]);
  };
  // The fixed defaults first: the computed ones are computed from them.
  for (const [key, spec] of optionEntries())
    if (!isComputed(spec.default)) take(key, spec.parse, () => spec.default);
  for (const [key, spec] of optionEntries()) {
    const fallback = spec.default;
    if (isComputed(fallback)) take(key, spec.parse, () => fallback(resolved as StaticOptions));
  }
  const options = resolved as unknown as ServerOptions;
  if (options.threads === 0 && options.sessionsPerThread === 1)
    throw new OptionError(
      'threads',
      'threads 0 (the sessions on the broker thread) cannot give each client a thread of its own (sessions per thread 1)',
    );
  if ((options.tlsCert === undefined) !== (options.tlsKey === undefined)) {
    const missing = options.tlsCert === undefined ? 'tlsCert' : 'tlsKey';
    throw new OptionError(missing, `${missing} is needed too: TLS takes a certificate and its key`);
  }
  if (options.redis !== undefined && !isPostgresUrl(options.dbPath))
    throw new OptionError(
      'redis',
      'redis needs a postgres:// db: the nodes of a cluster share one PostgreSQL database, they cannot share a SQLite file',
    );
  return Object.freeze(options);
}
