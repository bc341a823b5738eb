/**
 * Values of every server option, for the tests of the option table and of
 * `zapwire serve`. Typed against ServerOptions: an option added to the server
 * without its cases here does not compile.
 */
import {
  optionEntries,
  optionEnv,
  SERVER_OPTIONS,
  type ServerOptions,
} from '../../../src/server/config.js';

/** The table's rows, in its order. */
export const OPTION_KEYS = optionEntries().map(([key]) => key);
/** An option's long flag (`--db`). */
export const flagOf = (key: keyof ServerOptions) => SERVER_OPTIONS[key].flag.split(' ')[0]!;
/** An option's environment variable. */
export const envOf = (key: keyof ServerOptions) => optionEnv(SERVER_OPTIONS[key]);

/** Per option: two values it takes (distinct from each other), and values it refuses. */
export const CASES: {
  [K in keyof ServerOptions]: { good: [ServerOptions[K], ServerOptions[K]]; bad: unknown[] };
} = {
  host: { good: ['0.0.0.0', '::1'], bad: ['', 5, null] },
  port: { good: [0, 65_535], bad: [-1, 65_536, 1.5, '5050', null] },
  dbPath: { good: [':memory:', 'data/z.db'], bad: ['', 1] },
  legacyPort: { good: [0, 5_000], bad: [-1, 65_536, 2.5, '5000'] },
  httpPort: { good: [0, 8_080], bad: [-1, 65_536, 2.5, '8080'] },
  threads: { good: [0, 4_096], bad: [-1, 4_097, 1.5, '2'] },
  sessionsPerThread: { good: [1, 1_000_000], bad: [0, 1_000_001, 1.5, '1'] },
  pollBatch: { good: [1, 10_000], bad: [0, 10_001, 1.5] },
  synchronous: { good: ['normal', 'full'], bad: ['fast', 'NORMAL', '', 1] },
  logLevel: { good: ['silent', 'trace'], bad: ['loud', 'INFO', ''] },
  pushWindow: { good: [1, 1_000_000], bad: [0, 1_000_001, 1.5] },
  legacyPaceMs: { good: [0, 10_000], bad: [-1, 10_001, 0.5] },
  commitWindowMs: { good: [0, 1_000], bad: [-1, 1_001, 0.5] },
  maxInflight: { good: [1, 1_024], bad: [0, 1_025, 1.5] },
  anonymousTimeoutMs: { good: [0, 3_600_000], bad: [-1, 3_600_001, 0.5] },
  maxConnections: { good: [0, 10_000_000], bad: [-1, 10_000_001, 0.5] },
  maxConnectionsPerAddress: { good: [0, 10_000_000], bad: [-1, 10_000_001, 0.5] },
  rateLimit: { good: [0, 10_000_000], bad: [-1, 10_000_001, 0.5] },
  groupRateLimit: { good: [0, 1_000_000], bad: [-1, 1_000_001, 0.5] },
  maxPendingPerRecipient: { good: [0, 1_000_000_000], bad: [-1, 1_000_000_001, 0.5] },
  registerRate: { good: [0, 1_000_000], bad: [-1, 1_000_001, 0.5] },
  registerBurst: { good: [1, 10_000_000], bad: [0, 10_000_001, 0.5] },
  authFailuresPerMinute: { good: [0, 1_000_000], bad: [-1, 1_000_001, 0.5] },
  httpHeadersTimeoutMs: { good: [1, 3_600_000], bad: [0, 3_600_001, 0.5] },
  httpRequestTimeoutMs: { good: [1, 3_600_000], bad: [0, 3_600_001, 0.5] },
  httpKeepAliveTimeoutMs: { good: [1, 3_600_000], bad: [0, 3_600_001, 0.5] },
  wsOrigins: {
    good: [['https://chat.example'], ['https://chat.example', 'http://127.0.0.1:8080']],
    bad: [[], [''], 'https://chat.example', [1]],
  },
  wsMaxPayload: { good: [256, 4 * 1024 * 1024], bad: [255, 4 * 1024 * 1024 + 1, 1.5] },
  tlsCert: { good: ['cert.pem', '/etc/zapwire/cert.pem'], bad: ['', 1] },
  tlsKey: { good: ['key.pem', '/etc/zapwire/key.pem'], bad: ['', 1] },
  redis: {
    good: ['redis://127.0.0.1:6379', 'rediss://user:secret@redis.example:6380/2'],
    bad: ['', '127.0.0.1:6379', 'http://redis.example', 1],
  },
  nodeId: { good: ['node-a', 'zap1.eu-west:2'], bad: ['', 'node a', 'x'.repeat(65), 1] },
  clusterTtlMs: { good: [1_000, 600_000], bad: [999, 600_001, 1_500.5, '30000'] },
};

/**
 * What an option needs beside it to be usable: TLS takes a certificate and
 * its key together; Redis (a cluster) takes a postgres:// database; a thread per client (sessionsPerThread 1) cannot run on
 * the broker thread, so it needs threads.
 */
export function companionsOf(key: keyof ServerOptions, value: unknown): Partial<ServerOptions> {
  if (key === 'tlsCert') return { tlsKey: 'key.pem' };
  if (key === 'tlsKey') return { tlsCert: 'cert.pem' };
  if (key === 'sessionsPerThread' && value === 1) return { threads: 1 };
  // Nodes of a cluster share a PostgreSQL database.
  if (key === 'redis') return { dbPath: 'postgres://zapwire@127.0.0.1/zapwire' };
  return {};
}

/** companionsOf as `zapwire serve` flags. */
export function companionFlags(key: keyof ServerOptions, value: unknown): string[] {
  return Object.entries(companionsOf(key, value)).flatMap(([k, v]) => [
    flagOf(k as keyof ServerOptions),
    String(v),
  ]);
}
