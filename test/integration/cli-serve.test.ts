import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, killAllServers, runCli, spawnServer } from '../helpers/server-process.js';
import { openSession, register, type WireClient } from '../helpers/wire-client.js';

/**
 * `zapwire serve` as users run it: the built program in its own process.
 * Bad usage exits 2 with one line that names the option as it was given
 * (flag or environment variable), never a stack trace; SIGTERM and SIGINT stop
 * it gracefully (docs/protocol.md §Codes: `09 503`, the server is shutting down).
 */

let dir: string;
const clients: WireClient[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zapwire-cli-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await killAllServers();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const STACK_FRAME = /^\s+at /m;

function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim().length > 0);
}

describe('zapwire serve with bad options', () => {
  const cases: { args: string[]; env?: Record<string, string>; names: RegExp }[] = [
    { args: ['--port', 'abc'], names: /--port\b.*abc/ },
    { args: ['--port', '70000'], names: /--port\b.*70000/ },
    { args: ['--port', '-1'], names: /--port\b/ },
    { args: ['--synchronous', 'fast'], names: /--synchronous\b.*fast/ },
    { args: ['--sessions-per-thread', '0'], names: /--sessions-per-thread\b/ },
    { args: ['--threads', '-1'], names: /--threads\b/ },
    {
      args: ['--threads', '0', '--sessions-per-thread', '1'],
      names: /--threads 0\b.*sessions per thread 1\b/,
    },
    { args: ['--legacy-port', '99999'], names: /--legacy-port\b/ },
    { args: ['--http-port', '99999'], names: /--http-port\b/ },
    { args: [], env: { ZAPWIRE_HTTP_PORT: 'x' }, names: /ZAPWIRE_HTTP_PORT/ },
    { args: ['--poll-batch', '1.5'], names: /--poll-batch\b/ },
    { args: ['--log-level', 'loud'], names: /--log-level\b.*loud/ },
    { args: ['--bogus'], names: /unknown option '--bogus'/ },
    { args: [], env: { ZAPWIRE_PORT: 'abc' }, names: /ZAPWIRE_PORT/ },
    { args: [], env: { ZAPWIRE_PORT: '70000' }, names: /ZAPWIRE_PORT/ },
    { args: [], env: { ZAPWIRE_SESSIONS_PER_THREAD: '0' }, names: /ZAPWIRE_SESSIONS_PER_THREAD/ },
    // Nodes of a cluster share PostgreSQL: a SQLite file cannot be shared.
    {
      args: ['--redis', 'redis://127.0.0.1:6379'],
      names: /^zapwire serve: --redis needs a postgres:\/\/ db: .*cannot share a SQLite file$/,
    },
    {
      args: [],
      env: { ZAPWIRE_REDIS: 'redis://127.0.0.1:6379' },
      names: /ZAPWIRE_REDIS \(--redis\) needs a postgres:\/\/ db/,
    },
    { args: ['--redis', '127.0.0.1:6379'], names: /--redis\b.*redis:\/\/ URL/ },
    { args: ['--node-id', 'node a'], names: /--node-id\b/ },
  ];

  for (const { args, env, names } of cases) {
    const given = [...Object.entries(env ?? {}).map(([k, v]) => `${k}=${v}`), ...args].join(' ');
    it(`exits 2 on ${given} with one line naming the option, and no stack trace`, async () => {
      const db = join(dir, 'never', 'z.db');
      const result = await runCli(['serve', '--db', db, ...args], { env: childEnv(env) });
      expect(result.code, result.stderr).toBe(2);
      expect(result.stderr).not.toMatch(STACK_FRAME);
      const lines = errorLines(result.stderr);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(names);
      // It never started: nothing logged, no database made.
      expect(result.stdout).toBe('');
      expect(existsSync(db)).toBe(false);
    });
  }

  it('exits 2 on a misspelled flag, suggesting the right one', async () => {
    const result = await runCli(['serve', '--prot', '0', '--db', join(dir, 'never', 'z.db')]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    const lines = errorLines(result.stderr);
    expect(lines[0]).toMatch(/unknown option '--prot'/);
    expect(result.stderr).toMatch(/--port/);
  });
});

describe('zapwire serve configured from the environment', () => {
  it('starts with ZAPWIRE_PORT=0 and ZAPWIRE_DB, and prints the listening line with what it was given', async () => {
    const db = join(dir, 'env', 'z.db');
    const server = await spawnServer(['serve'], {
      env: childEnv({
        ZAPWIRE_PORT: '0',
        ZAPWIRE_DB: db,
        ZAPWIRE_HOST: '127.0.0.1',
        ZAPWIRE_SYNCHRONOUS: 'full',
        ZAPWIRE_LOG_LEVEL: 'info',
      }),
    });
    expect(server.listening.msg).toBe(`zapwire listening on 127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    expect(server.listening.db).toBe(db);
    expect(server.listening.synchronous).toBe('full');
    expect(existsSync(db)).toBe(true);
    // It serves.
    const who = await register(server.port);
    expect(who.number).toMatch(/^[0-9]{13}$/);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('serves the HTTP API with --http-port, and its listening line says where', async () => {
    const server = await spawnServer([
      'serve',
      '--port',
      '0',
      '--http-port',
      '0',
      '--host',
      '127.0.0.1',
      '--db',
      join(dir, 'http', 'z.db'),
    ]);
    const http = server.listening.http as { host: string; port: number };
    expect(http.port).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${http.port}/healthz`);
    expect(health.status).toBe(200);
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });

  it('lets a flag override the environment', async () => {
    const server = await spawnServer(['serve', '--port', '0', '--synchronous', 'normal'], {
      env: childEnv({
        ZAPWIRE_PORT: '1',
        ZAPWIRE_DB: join(dir, 'override', 'z.db'),
        ZAPWIRE_SYNCHRONOUS: 'full',
      }),
    });
    expect(server.port).not.toBe(1);
    expect(server.listening.synchronous).toBe('normal');
  });
});

describe('zapwire serve stops gracefully on a signal', () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`tells an open push session 09 503 and exits 0 on ${signal}`, async () => {
      const server = await spawnServer([
        'serve',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--db',
        join(dir, signal, 'z.db'),
      ]);
      const alice = await register(server.port);
      const session = await openSession(server.port, alice);
      clients.push(session);

      server.child.kill(signal);
      const frame = await session.next(5_000);
      expect(frame.code).toBe('09');
      expect(frame.data).toMatch(/^503 /);
      expect(frame.dst).toBe(alice.number);
      await session.waitClosed(5_000);
      expect(await server.exited).toEqual({ code: 0, signal: null });
      expect(server.stderr()).toBe('');
      // It said so in its log, and finished.
      const messages = server.lines.map((line) => (JSON.parse(line) as { msg: string }).msg);
      expect(messages).toContain('stopped');
    });
  }
});

describe('zapwire serve is ready to stop once it says it is listening', () => {
  it('exits 0 on SIGTERM sent the moment the listening line is printed', async () => {
    // A supervisor that stops the server as soon as it is up: the signal must
    // reach the graceful shutdown, not the default action (death by SIGTERM).
    for (let i = 0; i < 3; i++) {
      const server = await spawnServer([
        'serve',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
        '--db',
        join(dir, `ready-${i}`, 'z.db'),
      ]);
      server.child.kill('SIGTERM');
      expect(await server.exited).toEqual({ code: 0, signal: null });
    }
  });
});

describe('zapwire serve with defaults (as npm start runs it)', () => {
  it('creates the database folder when it does not exist yet', async () => {
    const folder = join(dir, 'fresh', 'nested', 'data');
    const db = join(folder, 'zapwire.db');
    expect(existsSync(folder)).toBe(false);
    const server = await spawnServer(['serve', '--db', db, '--port', '0']);
    expect(existsSync(folder)).toBe(true);
    expect(existsSync(db)).toBe(true);
    // The defaults: 127.0.0.1, info logs (the listening line is one), normal sync, no legacy listener.
    expect(server.listening).toMatchObject({
      address: { host: '127.0.0.1' },
      db,
      synchronous: 'normal',
    });
    expect(server.listening.legacy).toBeUndefined();
    server.child.kill('SIGTERM');
    expect(await server.exited).toEqual({ code: 0, signal: null });
  });
});
