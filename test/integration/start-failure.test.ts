import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartOptions, ZapwireServer } from '../../src/server/server.js';

/**
 * A start that fails half way (a port in use) stops what it had started: the
 * broker thread (which holds the database's lock) and every session host. The
 * threads are counted in /proc: the process runs no more of them than before.
 */

let dir: string;
let busy: Server;
let busyPort: number;
let files = 0;

/** The OS threads of this process: each worker thread is one. */
const threadCount = (): number => readdirSync('/proc/self/task').length;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'zapwire-start-'));
  busy = createServer();
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
  busyPort = (busy.address() as { port: number }).port;
  // Warm up: the first server starts the pools Node itself keeps (libuv's, V8's),
  // which stay after it has stopped and must not be counted against the failed start.
  await (await start({})).close();
});
afterAll(async () => {
  await new Promise<void>((resolve) => busy.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

function start(options: StartOptions): Promise<ZapwireServer> {
  return ZapwireServer.start({
    host: '127.0.0.1',
    port: 0,
    logLevel: 'silent',
    threads: 2,
    dbPath: join(dir, `z-${++files}.db`),
    ...options,
  });
}

describe('a start that cannot listen', () => {
  it.each(['port', 'legacyPort', 'httpPort'] as const)(
    'on %s in use rejects and leaves no thread running, and the database free',
    async (option) => {
      const dbPath = join(dir, `z-${++files}.db`);
      const before = threadCount();

      await expect(start({ [option]: busyPort, dbPath })).rejects.toThrow(/EADDRINUSE/);

      expect(threadCount()).toBeLessThanOrEqual(before);
      // The broker let go of the file's lock: a server on the same file starts.
      const again = await start({ dbPath });
      await again.close();
    },
  );
});
