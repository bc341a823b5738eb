import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/**
 * Real PostgreSQL and Redis servers for the tests (test/helpers/engines.ts)
 * and the cluster benchmark (bench/cluster.ts): each in a temporary folder of
 * its own, on 127.0.0.1 and a free port, started on demand and stopped by the
 * caller (or, failing that, when the process exits). Here and not under test/
 * so that the built benchmark can start them too; `engineMissing` says in one
 * line how to install what is not.
 */

export interface Engine {
  /** Where clients connect: `postgres://...` or `redis://...`. */
  readonly url: string;
  readonly port: number;
  /** The server process (PostgreSQL's postmaster, the parent of its backends) while it runs. */
  readonly pid: number | undefined;
  /** Orderly shutdown (PostgreSQL: fast shutdown, which ends sessions with admin_shutdown); removes the folder. */
  stop(): Promise<void>;
  /** SIGKILL of the server and every process it started, as a crash; keeps the folder for `restart`. */
  kill(): Promise<void>;
  /** Stops (if running) and starts again on the same port and data: the same `url` works again. */
  restart(): Promise<void>;
}

export type EngineName = 'postgres' | 'redis';

const INSTALL: Record<EngineName, string> = {
  postgres:
    'PostgreSQL is not installed (initdb, postgres): skipped; Debian: apt-get install -y postgresql',
  redis: 'Redis is not installed (redis-server): skipped; Debian: apt-get install -y redis-server',
};

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const file = path.join(dir, name);
    if (dir !== '' && isExecutable(file)) return file;
  }
  return undefined;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * Debian's postgresql package puts its server binaries in
 * /usr/lib/postgresql/<major>/bin, off PATH (only wrappers are on it): the
 * newest major there is used when PATH has none.
 */
function postgresBinDir(): string | undefined {
  const initdb = onPath('initdb');
  if (initdb !== undefined && isExecutable(path.join(path.dirname(initdb), 'postgres')))
    return path.dirname(fs.realpathSync(initdb));
  const root = '/usr/lib/postgresql';
  let majors: string[] = [];
  try {
    majors = fs.readdirSync(root).filter((name) => /^\d+$/.test(name));
  } catch {
    return undefined;
  }
  for (const major of majors.sort((a, b) => Number(b) - Number(a))) {
    const bin = path.join(root, major, 'bin');
    if (isExecutable(path.join(bin, 'initdb')) && isExecutable(path.join(bin, 'postgres')))
      return bin;
  }
  return undefined;
}

const binaries = {
  postgres: postgresBinDir(),
  redis:
    onPath('redis-server') ??
    (isExecutable('/usr/bin/redis-server') ? '/usr/bin/redis-server' : undefined),
};

/** undefined when `engine` can be started here; otherwise the one line saying how to install it. */
export function engineMissing(engine: EngineName): string | undefined {
  return binaries[engine] === undefined ? INSTALL[engine] : undefined;
}

/** A port nobody listens on right now, on 127.0.0.1. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * PostgreSQL refuses to run as root: then it runs as the `postgres` user (or
 * `nobody`), owning its temporary folder. Undefined when not root.
 */
function unprivilegedUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = fs.readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd.find((line) => line.startsWith(`${name}:`))?.split(':');
    if (fields) return { uid: Number(fields[2]), gid: Number(fields[3]) };
  }
  throw new Error(
    'running as root, and there is neither a postgres nor a nobody user to run PostgreSQL as',
  );
}

/** Every engine process still running, killed when the test process exits whatever happened. */
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) killGroup(child, 'SIGKILL');
});

/** The server and what it forked (PostgreSQL's backends): it leads a process group of its own. */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/**
 * The processes `pid` forked, read from /proc. PostgreSQL's backends each
 * call setsid(), so they are not in the postmaster's process group: a
 * SIGKILL of the group alone leaves them running for a moment, long enough
 * to answer a query and even COMMIT, which a crash would not.
 */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync('/proc');
  } catch {
    return children;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = procStat(Number(entry));
    if (fields !== undefined && Number(fields[1]) === pid) children.push(Number(entry));
  }
  return children;
}

/** The fields of /proc/<pid>/stat after the command: [state, ppid, ...]; undefined once it has gone. */
function procStat(pid: number): string[] | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Still running: not gone, and not a zombie nobody reaps (an orphan's parent in a container may never). */
function running(pid: number): boolean {
  const fields = procStat(pid);
  return fields !== undefined && fields[0] !== 'Z';
}

/**
 * Resolves once the server, every process of its group and `also` have gone:
 * after a SIGKILL, PostgreSQL's backends outlive the postmaster for a moment,
 * and a restart while they hold its shared memory is refused ("pre-existing
 * shared memory block is still in use").
 */
async function exited(child: ChildProcess, also: readonly number[] = []): Promise<void> {
  if (child.exitCode === null && child.signalCode === null)
    await new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 15_000;
  while (
    child.pid !== undefined &&
    (groupAlive(child.pid) || also.some(running)) &&
    Date.now() < deadline
  )
    await new Promise((resolve) => setTimeout(resolve, 10));
}

function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Spawns a server in its own process group and resolves once a line of its
 * output matches `ready`; rejects with its output if it exits or stays silent.
 */
function spawnUntilReady(
  command: string,
  args: readonly string[],
  ready: RegExp,
  options: { uid?: number; gid?: number; cwd: string },
  timeoutMs = 15_000,
): Promise<ChildProcess> {
  const child = spawn(command, args, {
    ...options,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, LC_ALL: 'C' },
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      killGroup(child, 'SIGKILL');
      reject(new Error(`${command} was not ready after ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (ready.test(output)) {
        clearTimeout(timer);
        // Keep draining, or a chatty server would block on a full pipe.
        child.stdout!.removeListener('data', onData);
        child.stderr!.removeListener('data', onData);
        child.stdout!.resume();
        child.stderr!.resume();
        resolve(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${command} exited (${signal ?? code}) before it was ready:\n${output}`));
    });
  });
}

/** The lifecycle shared by both engines: one process at a time on one port and one folder. */
function engine(
  url: string,
  port: number,
  dir: string,
  start: () => Promise<ChildProcess>,
  first: ChildProcess,
  stopSignal: NodeJS.Signals,
): Engine {
  let child: ChildProcess | undefined = first;
  const halt = async (signal: NodeJS.Signals) => {
    const server = child;
    child = undefined;
    if (server === undefined) return;
    // A crash takes every process at once; an orderly stop is the server's to do.
    const forked = signal === 'SIGKILL' && server.pid !== undefined ? childrenOf(server.pid) : [];
    killGroup(server, signal);
    for (const pid of forked)
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    await exited(server, forked);
  };
  return {
    url,
    port,
    get pid() {
      return child?.pid;
    },
    async stop() {
      await halt(stopSignal);
      fs.rmSync(dir, { recursive: true, force: true });
    },
    async kill() {
      await halt('SIGKILL');
    },
    async restart() {
      await halt(stopSignal);
      child = await start();
    },
  };
}

/**
 * A fresh PostgreSQL cluster (initdb) in a temporary folder, listening on
 * 127.0.0.1 and a free port, its unix socket in that folder, fsync on (real
 * durability: a COMMIT is on disk), trust authentication for user `zapwire`.
 * initdb itself runs with --no-sync: the files of an empty cluster need no
 * fsync to be tested, and it saves seconds a start.
 */
export async function startPostgres(): Promise<Engine> {
  const bin = binaries.postgres;
  if (bin === undefined) throw new Error(INSTALL.postgres);
  const user = unprivilegedUser();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zapwire-pg-'));
  const data = path.join(dir, 'data');
  if (user) fs.chownSync(dir, user.uid, user.gid);
  const as = { cwd: dir, ...user };
  const init = spawnSync(
    path.join(bin, 'initdb'),
    [
      '-D',
      data,
      '-U',
      'zapwire',
      '--auth=trust',
      '-E',
      'UTF8',
      '--locale=C',
      '--no-instructions',
      '--no-sync',
    ],
    { ...as, encoding: 'utf8', env: { ...process.env, LC_ALL: 'C' } },
  );
  if (init.status !== 0) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`initdb failed (${init.status ?? init.signal}):\n${init.stderr}${init.stdout}`);
  }
  const port = await freePort();
  const start = () =>
    spawnUntilReady(
      path.join(bin, 'postgres'),
      [
        '-D',
        data,
        '-p',
        String(port),
        '-k',
        dir,
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'fsync=on',
        '-c',
        'max_connections=50',
      ],
      /database system is ready to accept connections/,
      as,
    );
  try {
    const first = await start();
    // SIGINT is PostgreSQL's fast shutdown: sessions end with admin_shutdown (57P01).
    return engine(
      `postgres://zapwire@127.0.0.1:${port}/postgres`,
      port,
      dir,
      start,
      first,
      'SIGINT',
    );
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** A Redis server in a temporary folder on 127.0.0.1 and a free port, with no persistence at all. */
export async function startRedis(): Promise<Engine> {
  const bin = binaries.redis;
  if (bin === undefined) throw new Error(INSTALL.redis);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zapwire-redis-'));
  const port = await freePort();
  const start = () =>
    spawnUntilReady(
      bin,
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--protected-mode',
        'no',
      ],
      /Ready to accept connections/,
      { cwd: dir },
    );
  try {
    const first = await start();
    return engine(`redis://127.0.0.1:${port}`, port, dir, start, first, 'SIGTERM');
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
