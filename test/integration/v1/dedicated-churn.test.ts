/**
 * Every connection is answered within a second, in both thread models, while
 * other clients churn: served, or `09 503` and closed at once (docs/protocol.md
 * §Codes: 503 when the server is overloaded; never a client left waiting).
 * The load is issue #9's: 4 clients connecting and closing in a loop, 20
 * writing random bytes (each gets `09 400` once 256 of them are read, and
 * comes back), 10 writing one byte at a time. The server is the built one in
 * its own process, as the issue tried it, so that this file's clients do not
 * share its main thread.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Status } from '../../../src/protocol/status.js';
import { CLI, childEnv } from '../../helpers/server-process.js';
import { prng } from '../../helpers/v1.js';
import { WireClient } from '../../helpers/wire-client.js';

const ANSWER_WITHIN_MS = 1_000;
const PROBES = 5;
const PROBE_SPACING_MS = 300;

/**
 * `zapwire serve` with default logging (info), its log going to a file rather
 * than a pipe this process would have to read: the churn makes it write a
 * line or two per connection. Resolves with the port from its listening line.
 */
async function serve(
  dir: string,
  args: readonly string[],
): Promise<{ child: ChildProcess; port: number }> {
  const logPath = join(dir, 'server.log');
  const log = openSync(logPath, 'w');
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--db', join(dir, 'z.db'), ...args],
    {
      env: childEnv(),
      stdio: ['ignore', log, log],
    },
  );
  closeSync(log);
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && child.exitCode === null) {
    const line = readFileSync(logPath, 'utf8')
      .split('\n')
      .find((l) => l.includes('zapwire listening on'));
    if (line)
      return { child, port: (JSON.parse(line) as { address: { port: number } }).address.port };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`the server did not listen: ${readFileSync(logPath, 'utf8')}`);
}

/** Waits until the server answers a `19` (its hosts run), before any load: a thread start is not what is measured here. */
async function firstAnswer(port: number): Promise<void> {
  const c = await WireClient.connect(port);
  try {
    c.send({ code: '19', dst: '0000000000001' });
    expect((await c.next(10_000)).code).toBe('20');
  } finally {
    c.destroy();
  }
}

/** The background clients: each loop reconnects whenever its connection ends, until stopped. */
function startChurn(port: number): { stop(): void } {
  const sockets = new Set<Socket>();
  const random = prng(9);
  let stopped = false;
  const loop = (onConnect: (socket: Socket) => void): void => {
    if (stopped) return;
    const socket = connect(port, '127.0.0.1');
    sockets.add(socket);
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.once('connect', () => onConnect(socket));
    socket.once('close', () => {
      sockets.delete(socket);
      // A short pause so a refused client does not spin.
      setTimeout(() => loop(onConnect), 5).unref();
    });
  };
  const bytes = (n: number): Buffer =>
    Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));
  // 4 connect and close at once.
  for (let i = 0; i < 4; i++) loop((socket) => socket.destroy());
  // 20 write random bytes in random-sized pieces, until the server closes them.
  for (let i = 0; i < 20; i++) {
    loop((socket) => {
      const timer = setInterval(() => {
        if (socket.destroyed) clearInterval(timer);
        else socket.write(bytes(1 + Math.floor(random() * 300)));
      }, 20);
      socket.once('close', () => clearInterval(timer));
    });
  }
  // 10 write one byte every 100 ms: a frame takes them 25 s.
  for (let i = 0; i < 10; i++) {
    loop((socket) => {
      const timer = setInterval(() => socket.destroyed || socket.write(bytes(1)), 100);
      socket.once('close', () => clearInterval(timer));
    });
  }
  return {
    stop() {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

type Outcome = { ok: true; answer: string } | { ok: false; why: string };

/** `09 503` and closed within the time left: the server refused at once, which is an answer. */
async function refusedOrFailed(
  c: WireClient,
  first: { code: string; data: string },
  deadline: number,
  expected: string,
): Promise<Outcome> {
  if (first.code === '09' && first.data.startsWith(`${Status.Unavailable} `)) {
    const closed = await c.waitClosed(Math.max(1, deadline - Date.now())).then(
      () => true,
      () => false,
    );
    return closed
      ? { ok: true, answer: '503' }
      : { ok: false, why: '503 but not closed within 1 s' };
  }
  return { ok: false, why: `expected ${expected}, got ${first.code} ${first.data}` };
}

/** A new client's `01`: `02` within 1 s, or `09 503` and closed within 1 s. */
async function probeRegister(port: number): Promise<Outcome> {
  const c = await WireClient.connect(port);
  try {
    const deadline = Date.now() + ANSWER_WITHIN_MS;
    c.send({ code: '01', data: 'probe' });
    const first = await c.next(ANSWER_WITHIN_MS).catch((err: Error) => err);
    if (first instanceof Error) return { ok: false, why: `01: ${first.message}` };
    if (first.code === '02') return { ok: true, answer: '02' };
    return await refusedOrFailed(c, first, deadline, '02');
  } finally {
    c.destroy();
  }
}

/**
 * One whole 256-byte frame of random bytes, malformed for sure (its code is
 * not two digits): `09 400` and closed within 1 s, or `09 503` and closed.
 */
async function probeRandomFrame(port: number, random: () => number): Promise<Outcome> {
  const c = await WireClient.connect(port);
  try {
    const deadline = Date.now() + ANSWER_WITHIN_MS;
    const frame = Buffer.from(Array.from({ length: 256 }, () => Math.floor(random() * 256)));
    frame[0] = 0x58; // 'X'
    c.sendRaw(frame);
    const first = await c.next(ANSWER_WITHIN_MS).catch((err: Error) => err);
    if (first instanceof Error) return { ok: false, why: `random frame: ${first.message}` };
    if (first.code === '09' && first.data.startsWith(`${Status.Malformed} `)) {
      const closed = await c.waitClosed(Math.max(1, deadline - Date.now())).then(
        () => true,
        () => false,
      );
      return closed
        ? { ok: true, answer: '400' }
        : { ok: false, why: '400 but not closed within 1 s' };
    }
    return await refusedOrFailed(c, first, deadline, '09 400');
  } finally {
    c.destroy();
  }
}

describe.each([
  [
    'a dedicated thread per client (--sessions-per-thread 1 --threads 64)',
    ['--sessions-per-thread', '1', '--threads', '64'],
  ],
  ['pooled sessions (the default)', []],
])(
  'with %s, while 4 clients connect and close in a loop, 20 write random bytes and 10 write slowly',
  (_mode, modeArgs) => {
    let dir: string | undefined;
    let server: ChildProcess | undefined;
    let churn: { stop(): void } | undefined;
    afterEach(async () => {
      churn?.stop();
      if (server && server.exitCode === null) {
        const exited = new Promise((r) => server!.once('exit', r));
        server.kill('SIGKILL');
        await exited;
      }
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it('answers every new client within 1 s: 01 with 02, a random frame with 09 400 and close, or else 09 503 and close', async () => {
      dir = mkdtempSync(join(tmpdir(), 'zapwire-churn-'));
      const started = await serve(dir, modeArgs);
      server = started.child;
      const port = started.port;
      await firstAnswer(port);
      churn = startChurn(port);
      // Let the churn reach its steady state before the first probe.
      await new Promise((r) => setTimeout(r, 500));
      const random = prng(256);
      const probes: Promise<Outcome>[] = [];
      for (let i = 0; i < PROBES; i++) {
        probes.push(probeRegister(port), probeRandomFrame(port, random));
        await new Promise((r) => setTimeout(r, PROBE_SPACING_MS));
      }
      const outcomes = await Promise.all(probes);
      expect(outcomes.filter((o) => !o.ok)).toEqual([]);
    });
  },
);
