/**
 * Nodes of a cluster for the tests of test/integration/cluster: one
 * PostgreSQL and one Redis per file, each node a real `zapwire serve` child
 * process on both (`--db <pg url> --redis <redis url>`), with a node id of
 * its own, its HTTP API and its legacy listener on free ports.
 */
import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { type Engine, startPostgres, startRedis } from '../../helpers/engines.js';
import { killAllServers, type ServerProcess, spawnServer } from '../../helpers/server-process.js';
import { type Identity, openSession, type WireClient } from '../../helpers/wire-client.js';

export interface Node {
  id: string;
  server: ServerProcess;
  /** The protocol v1 port. */
  port: number;
  httpPort: number;
  legacyPort: number;
}

export interface ClusterEnv {
  readonly postgres: Engine;
  readonly redis: Engine;
  /** Starts a node named `id`, with `flags` beside the cluster's own; it is stopped after the test. */
  node(id: string, flags?: readonly string[]): Promise<Node>;
  /** A session kept until the end of the test. */
  session(node: Node, who: Identity, push?: boolean): Promise<WireClient>;
}

/** Starts the engines for the file and stops every node and client after each test. */
export function useCluster(): ClusterEnv {
  let postgres: Engine | undefined;
  let redis: Engine | undefined;
  const clients: WireClient[] = [];
  beforeAll(async () => {
    [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  }, 60_000);
  afterEach(async () => {
    for (const c of clients.splice(0)) c.destroy();
    await killAllServers();
  });
  afterAll(async () => {
    await Promise.all([postgres?.stop(), redis?.stop()]);
  });
  return {
    get postgres() {
      return postgres!;
    },
    get redis() {
      return redis!;
    },
    async node(id, flags = []) {
      const server = await spawnServer(
        [
          'serve',
          ...['--host', '127.0.0.1', '--port', '0', '--http-port', '0', '--legacy-port', '0'],
          ...['--threads', '1', '--log-level', 'info'],
          ...['--db', postgres!.url, '--redis', redis!.url, '--node-id', id],
          ...flags,
        ],
        { timeoutMs: 20_000 },
      );
      const portOf = (key: string) => (server.listening[key] as { port: number }).port;
      return {
        id,
        server,
        port: server.port,
        httpPort: portOf('http'),
        legacyPort: portOf('legacy'),
      };
    },
    async session(node, who, push = true) {
      const c = await openSession(node.port, who, push);
      clients.push(c);
      return c;
    },
  };
}

/** A legacy `03` poll on its own connection (docs/protocol.md §Legacy listener): the bytes written until the server closes. */
export function legacyPoll(port: number, number: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect(port, '127.0.0.1', () => socket.write(`03${number}`));
    socket.setTimeout(5_000, () => socket.destroy(new Error('legacy poll: no close in 5 s')));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(Buffer.concat(chunks).toString('utf8')));
  });
}
