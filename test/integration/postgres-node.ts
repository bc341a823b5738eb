/**
 * One node on PostgreSQL for the tests of a file: a PostgreSQL started for
 * the file (stopped after it), `zapwire serve --db <its url>` child processes
 * with the HTTP API on a free port, and the clients a test keeps, all ended
 * after each test.
 */
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type Engine, startPostgres } from '../helpers/engines.js';
import { killAllServers, type ServerProcess, spawnServer } from '../helpers/server-process.js';
import type { WireClient } from '../helpers/wire-client.js';

export interface PostgresNodeEnv {
  readonly engine: Engine;
  /** Starts a node on the file's PostgreSQL; it is stopped after the test. */
  serve(): Promise<ServerProcess>;
  /** Keeps `c` until the end of the test. */
  keep(c: WireClient): WireClient;
  /** The status /healthz answers on `server`. */
  health(server: ServerProcess): Promise<number>;
}

export function usePostgresNode(): PostgresNodeEnv {
  let engine: Engine | undefined;
  const clients: WireClient[] = [];
  beforeAll(async () => {
    engine = await startPostgres();
  }, 60_000);
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await killAllServers();
  });
  afterAll(async () => {
    await engine?.stop();
  });
  return {
    get engine() {
      return engine!;
    },
    serve: () =>
      spawnServer(
        [
          'serve',
          ...['--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--log-level', 'info'],
          ...['--db', engine!.url],
        ],
        { timeoutMs: 20_000 },
      ),
    keep: (c) => {
      clients.push(c);
      return c;
    },
    async health(server) {
      const { port } = server.listening.http as { port: number };
      return (await fetch(`http://127.0.0.1:${port}/healthz`)).status;
    },
  };
}
