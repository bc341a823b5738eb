/**
 * The MQTT brokers the chat scenario measures zapwire against, each started
 * by the bench in a process of its own on 127.0.0.1: aedes (a devDependency,
 * in memory) and mosquitto (when the binary is on PATH; persistence off).
 * Neither commits a message to disk before acknowledging it; zapwire does.
 */
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './harness.js';

export interface PeerBroker {
  name: 'aedes' | 'mosquitto';
  version: string;
  port: number;
  pid: number | undefined;
  stop(): Promise<void>;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  await Promise.race([exited, sleep(3_000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export async function startAedes(): Promise<PeerBroker> {
  const child = fork(fileURLToPath(new URL('./aedes-process.js', import.meta.url)), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const ready = await new Promise<{ port: number; version: string }>((resolve, reject) => {
    child.once('message', (m: { port: number; version: string }) => resolve(m));
    child.once('exit', (code) => reject(new Error(`aedes exited (${code}) before listening`)));
  });
  return {
    name: 'aedes',
    version: ready.version,
    port: ready.port,
    pid: child.pid,
    stop: () => stopChild(child),
  };
}

/** The mosquitto binary on PATH, if any. */
export function findMosquitto(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const file = join(dir, 'mosquitto');
    if (dir && existsSync(file)) return file;
  }
  return undefined;
}

/** A port free right now (mosquitto cannot listen on port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = () => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () =>
        Date.now() > deadline
          ? reject(new Error(`nothing listens on ${port} after ${timeoutMs} ms`))
          : setTimeout(attempt, 50),
      );
    };
    attempt();
  });
}

/**
 * Starts mosquitto with a generated config, or says why not: loopback only,
 * persistence off, TCP_NODELAY as zapwire and aedes set it, its defaults
 * otherwise (max_inflight_messages 20, max_queued_messages 1000 per client:
 * more than the sweep's 64 per sender ever queue for one subscriber).
 */
export async function startMosquitto(): Promise<PeerBroker | { skipped: string }> {
  const bin = findMosquitto();
  if (!bin) return { skipped: 'mosquitto is not on PATH (Debian: apt-get install mosquitto)' };
  let version = 'unknown';
  try {
    version =
      execFileSync(bin, ['-h'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).match(
        /version ([\d.]+)/,
      )?.[1] ?? version;
  } catch (err) {
    // `mosquitto -h` exits 3 after printing its usage
    const out = String((err as { stdout?: string }).stdout ?? '');
    version = out.match(/version ([\d.]+)/)?.[1] ?? version;
  }
  const dir = mkdtempSync(join(tmpdir(), 'zapwire-bench-mosquitto-'));
  const port = await freePort();
  const config = join(dir, 'mosquitto.conf');
  writeFileSync(
    config,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      'persistence false',
      'set_tcp_nodelay true',
      'log_dest none',
      '',
    ].join('\n'),
  );
  const child = spawn(bin, ['-c', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  try {
    await waitForPort(port, 5_000);
  } catch (err) {
    await stopChild(child);
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    name: 'mosquitto',
    version,
    port,
    pid: child.pid,
    stop: async () => {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
