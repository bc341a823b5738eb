import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StartOptions, ZapwireServer } from '../../src/server/server.js';

export interface TestServer {
  server: ZapwireServer;
  port: number;
  dir: string;
  dbPath: string;
  stop(): Promise<void>;
}

/** A server on 127.0.0.1:0 with its own temporary database; `stop` closes it and removes the folder. */
export async function startTestServer(options: StartOptions = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'zapwire-test-'));
  const dbPath = options.dbPath ?? join(dir, 'zapwire.db');
  // ZAPWIRE_TEST_THREADS runs the suite in another thread model (e.g. 0: sessions on the broker thread).
  const threads =
    process.env.ZAPWIRE_TEST_THREADS === undefined || options.threads !== undefined
      ? {}
      : { threads: Number(process.env.ZAPWIRE_TEST_THREADS) };
  const server = await ZapwireServer.start({
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    ...threads,
    ...options,
    dbPath,
  });
  return {
    server,
    port: server.address.port,
    dir,
    dbPath,
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
