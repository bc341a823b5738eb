import {
  closeSync,
  mkdtempSync,
  openSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ZapwireServer } from '../../src/server/server.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { MessageKind } from '../../src/store/store.js';
import { killAllServers, runCli, spawnServer } from '../helpers/server-process.js';
import { message, receive, sendStored } from '../helpers/v1.js';
import { openSession, register, type WireClient } from '../helpers/wire-client.js';

/**
 * The store refuses what it cannot serve (issue #9, item 7): one server per
 * database file, a file that is not a database or is damaged, a path where no
 * file can be made. Each is refused at start, by `zapwire serve` with exit 1
 * and one line on stderr naming the file, never a stack trace.
 */

let dir: string;
let files = 0;
const freshPath = (): string => join(dir, `z-${++files}.db`);
const clients: WireClient[] = [];
const servers: ZapwireServer[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zapwire-db-'));
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  await killAllServers();
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

function keep(c: WireClient): WireClient {
  clients.push(c);
  return c;
}

async function start(dbPath: string): Promise<ZapwireServer> {
  const server = await ZapwireServer.start({
    host: '127.0.0.1',
    port: 0,
    dbPath,
    logLevel: 'silent',
  });
  servers.push(server);
  return server;
}

function serveArgs(db: string): string[] {
  return ['serve', '--port', '0', '--host', '127.0.0.1', '--db', db, '--log-level', 'info'];
}

/** stderr's non-empty lines. */
function lines(stderr: string): string[] {
  return stderr.split('\n').filter((line) => line.trim().length > 0);
}

const STACK_FRAME = /^\s+at /m;

/** Overwrites `bytes` bytes of `file` at `offset` with a pattern that is neither zeros nor SQLite's. */
function scribble(file: string, offset: number, bytes: number): void {
  const garbage = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) garbage[i] = (i * 131 + 7) & 0xff;
  const fd = openSync(file, 'r+');
  try {
    writeSync(fd, garbage, 0, bytes, offset);
  } finally {
    closeSync(fd);
  }
}

/** A closed database file with `rows` pending messages of ~100 bytes, as a server leaves it. */
function fileWithPending(file: string, rows: number): void {
  const store = SqliteStore.open({ path: file });
  const alice = store.createUser('alice', null).number;
  const bob = store.createUser('bob', null).number;
  store.transaction(() => {
    for (let i = 0; i < rows; i++) {
      store.insertMessage([
        {
          recipient: bob,
          sender: alice,
          group: null,
          ts: 1_700_000_000 + i,
          wantsReceipt: false,
          kind: MessageKind.Text,
          body: `mensagem ${i} `.repeat(8),
        },
      ]);
    }
  });
  // The last connection to close checkpoints the WAL into the file and removes it.
  store.close();
}

describe('one server per database file', () => {
  it('ZapwireServer.start on a file in use rejects naming the file, and the first server goes on serving', async () => {
    const db = freshPath();
    const first = await start(db);
    const alice = await register(first.address.port, 'alice');
    const bob = await register(first.address.port, 'bob');

    await expect(start(db)).rejects.toThrow(`database ${db} is in use by another process`);

    const sender = keep(await openSession(first.address.port, alice, false));
    await sendStored(sender, message(alice.number, bob.number, 'still here'));
    const receiver = keep(await openSession(first.address.port, bob));
    const [delivered] = await receive(receiver, 1);
    expect(delivered).toMatchObject({ code: '06', src: alice.number, data: 'still here' });
  });

  it('zapwire serve on a file in use exits 1 with one line naming the file; the first one is undisturbed', async () => {
    const db = freshPath();
    const first = await spawnServer(serveArgs(db));
    const alice = await register(first.port, 'alice');
    const bob = await register(first.port, 'bob');

    const second = await runCli(serveArgs(db));
    expect(second.code, second.stderr).toBe(1);
    expect(second.stderr).not.toMatch(STACK_FRAME);
    expect(lines(second.stderr)).toEqual([
      `zapwire serve: database ${db} is in use by another process (another zapwire server on the same file?): database is locked`,
    ]);
    // It never listened.
    expect(second.stdout).not.toMatch(/zapwire listening on/);

    const sender = keep(await openSession(first.port, alice, false));
    await sendStored(sender, message(alice.number, bob.number, 'first still serves'));
    expect(first.child.exitCode).toBe(null);
  });

  it('after a SIGKILL the lock is gone: a new server starts on the file and delivers what was pending', async () => {
    const db = freshPath();
    const first = await spawnServer(serveArgs(db));
    const alice = await register(first.port, 'alice');
    const bob = await register(first.port, 'bob');
    const sender = keep(await openSession(first.port, alice, false));
    for (let i = 0; i < 3; i++)
      await sendStored(
        sender,
        message(alice.number, bob.number, `pending ${i}`, { ts: 1_700_000_000 + i }),
      );
    first.child.kill('SIGKILL');
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });

    const second = await spawnServer(serveArgs(db));
    const receiver = keep(await openSession(second.port, bob));
    const delivered = await receive(receiver, 3);
    expect(delivered.map((f) => f.data)).toEqual(['pending 0', 'pending 1', 'pending 2']);
  });
});

describe('a database that cannot be opened or read', () => {
  it("garbage over the start of the file (its header): exit 1, one line with the file and SQLite's message", async () => {
    const db = freshPath();
    fileWithPending(db, 10);
    scribble(db, 0, 16 * 1024);
    const result = await runCli(serveArgs(db));
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    expect(lines(result.stderr)).toEqual([
      `zapwire serve: cannot open database ${db}: file is not a database`,
    ]);
  });

  it('garbage in the middle of the file (its pages): exit 1, one line with the file and what SQLite found', async () => {
    const db = freshPath();
    fileWithPending(db, 2_000);
    const size = statSync(db).size;
    // 16 KB at the middle, on page boundaries: pending rows that no query at start reads.
    scribble(db, Math.floor(size / 2 / 4096) * 4096, 16 * 1024);
    const result = await runCli(serveArgs(db));
    expect(result.code, result.stderr).toBe(1);
    expect(result.stderr).not.toMatch(STACK_FRAME);
    const found = lines(result.stderr);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(
      new RegExp(
        `^zapwire serve: cannot open database ${db}: it is damaged \\(PRAGMA quick_check: .*page \\d+`,
      ),
    );
  });
});

/**
 * A bound on how long a refusal of a path where no file can be made may take
 * (wall time, process start to exit). The regressions it catches are a hang
 * (Node's recursive mkdir under /proc never returns) and a busy timeout (5 s,
 * on top of the start). The refusal itself takes well under a second; the
 * rest is room for a loaded machine, where `zapwire --version` alone took
 * 1.3 s and a refusal 3.3 s while the whole suite ran on 2 cores.
 */
const REFUSED_WITHIN_MS = 5_000;

describe('a database path in an unwritable place', () => {
  const plainFile = () => {
    const file = freshPath();
    writeFileSync(file, 'a regular file');
    return file;
  };
  const cases: { what: string; db: () => string; says: RegExp }[] = [
    {
      what: 'under a regular file',
      db: () => join(plainFile(), 'x.db'),
      says: / is not a folder$/,
    },
    {
      what: 'two folders under a regular file',
      db: () => join(plainFile(), 'a', 'b', 'x.db'),
      says: / is not a folder$/,
    },
    {
      what: 'under /proc (a folder that cannot be made)',
      db: () => '/proc/zapwire/x.db',
      says: /ENOENT: no such file or directory, mkdir '\/proc\/zapwire'$/,
    },
    {
      what: 'in /proc (a file that cannot be made)',
      db: () => '/proc/zapwire.db',
      says: /unable to open database file$/,
    },
  ];
  for (const { what, db: makePath, says } of cases) {
    it(`${what}: exit 1 with one line naming the file, within ${REFUSED_WITHIN_MS} ms`, async () => {
      const db = makePath();
      const result = await runCli(serveArgs(db), { timeoutMs: REFUSED_WITHIN_MS });
      expect(result.signal, `still running after ${REFUSED_WITHIN_MS} ms`).toBe(null);
      expect(result.code, result.stderr).toBe(1);
      const found = lines(result.stderr);
      expect(found).toHaveLength(1);
      expect(found[0]!.startsWith(`zapwire serve: cannot open database ${db}: `), found[0]).toBe(
        true,
      );
      expect(found[0]).toMatch(says);
    });
  }
});
