/**
 * node dist/bench/attack.js [--only a,b] [--seconds N] [--out file.json]
 *
 * Repeats the attacks of issue #9's table against a fresh server each (its
 * own process, default options plus `httpPort: 0`, `legacyPort: 0` where the
 * attack needs it, a temporary database), from separate attacker processes,
 * and measures what the issue measured: the server's RSS, a normal client's
 * 05->07 during the attack, what the attacker got, and whether anything
 * acknowledged was lost. A Markdown table goes to stdout, the JSON to --out.
 */

import { type ChildProcess, fork, spawn } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { Command, InvalidArgumentError } from 'commander';
import hdr from 'hdr-histogram-js';
import type { ServerOptions } from '../src/server/config.js';
import { ATTACKS, IDLE_HOLD_MS, IDLE_SOCKETS } from './attack-attacks.js';
import type {
  AttackerReport,
  LoadReply,
  LoadRequest,
  ServerReply,
  ServerRequest,
} from './attack-ipc.js';
import { NormalClient, type NormalSummary } from './attack-normal.js';
import { now, openSession, register, sleep } from './attack-wire.js';
import { SERVER_NODE_FLAGS, summarise } from './harness.js';
import { newHistogram } from './measure.js';

/**
 * The tool stops a server whose RSS passes this (the unhardened server grows
 * to GBs): 3 GB, or ATTACK_RSS_CEILING_MB (to try the stop on a small ceiling).
 */
const RSS_CEILING = Number(process.env.ATTACK_RSS_CEILING_MB ?? 3 * 1024) * 2 ** 20;
const SETTLE_MS = 1_500;
const MB = 2 ** 20;

/** ATTACK_DEBUG=1: the phases of each attack on stderr, timed. */
const debug = process.env.ATTACK_DEBUG === '1';
let phaseAt = now();
function phase(what: string): void {
  if (debug) process.stderr.write(`\n  ${what} (+${Math.round(now() - phaseAt)} ms)`);
  phaseAt = now();
}

const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));

// ---- children -------------------------------------------------------------------------------

/** A forked child with one request in flight at a time: `next(t)` waits for the reply of type t. */
class Child<Req, Rep extends { t: string }> {
  private readonly waiting: { t: string; resolve: (r: Rep) => void; reject: (e: Error) => void }[] =
    [];
  exit: string | undefined;

  constructor(readonly proc: ChildProcess) {
    proc.on('message', (reply: Rep) => {
      const i = this.waiting.findIndex((w) => w.t === reply.t || reply.t === 'failed');
      if (i < 0) return;
      const [w] = this.waiting.splice(i, 1);
      if (reply.t === 'failed')
        w!.reject(new Error((reply as unknown as { message: string }).message));
      else w!.resolve(reply);
    });
    proc.once('exit', (code, signal) => {
      this.exit = signal ?? `exit ${code}`;
      for (const w of this.waiting.splice(0)) w.reject(new Error(`child ended (${this.exit})`));
    });
  }

  ask<T extends Rep['t']>(request: Req, t: T, timeoutMs: number): Promise<Extract<Rep, { t: T }>> {
    return new Promise((resolve, reject) => {
      if (this.exit) return reject(new Error(`child ended (${this.exit})`));
      const timer = setTimeout(
        () => reject(new Error(`no ${t} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.waiting.push({
        t,
        resolve: (r) => (clearTimeout(timer), resolve(r as Extract<Rep, { t: T }>)),
        reject: (e) => (clearTimeout(timer), reject(e)),
      });
      if (this.proc.connected) this.proc.send(request as object);
    });
  }

  kill(): void {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill('SIGKILL');
  }

  ended(): Promise<void> {
    return this.exit ? Promise.resolve() : new Promise((r) => this.proc.once('exit', () => r()));
  }
}

/** What the server logged at warn and above (pino JSON lines on stdout), with a few samples. */
interface LogCount {
  warn: number;
  error: number;
  fatal: number;
  samples: string[];
}

class AttackServer {
  private constructor(
    private readonly child: Child<ServerRequest, ServerReply>,
    readonly log: LogCount,
    readonly port: number,
    readonly httpPort: number | undefined,
    readonly legacyPort: number | undefined,
  ) {}

  get pid(): number {
    return this.child.proc.pid!;
  }
  get exit(): string | undefined {
    return this.child.exit;
  }

  static async start(options: Partial<ServerOptions>): Promise<AttackServer> {
    const proc = fork(here('./attack-server.js'), [], {
      execArgv: SERVER_NODE_FLAGS,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const child = new Child<ServerRequest, ServerReply>(proc);
    const log: LogCount = { warn: 0, error: 0, fatal: 0, samples: [] };
    countLog(proc, log);
    try {
      const ready = await child.ask({ t: 'start', options }, 'ready', 30_000);
      return new AttackServer(child, log, ready.port, ready.httpPort, ready.legacyPort);
    } catch (err) {
      child.kill();
      throw err;
    }
  }

  kill(): void {
    this.child.kill();
  }

  async stop(): Promise<void> {
    await this.child.ask({ t: 'stop' }, 'stopped', 15_000).catch(() => undefined);
    await Promise.race([this.child.ended(), sleep(2_000)]);
    this.child.kill();
    await this.child.ended();
  }
}

function countLog(proc: ChildProcess, log: LogCount): void {
  let rest = '';
  const onLine = (line: string) => {
    const level = Number(/"level":(\d+)/.exec(line)?.[1] ?? (line.trim() ? 50 : 0));
    if (level < 40) return;
    if (level >= 60) log.fatal++;
    else if (level >= 50) log.error++;
    else log.warn++;
    if (log.samples.length < 5)
      log.samples.push((/"msg":"([^"]*)"/.exec(line)?.[1] ?? line).slice(0, 160));
  };
  proc.stdout!.on('data', (chunk: Buffer) => {
    const lines = (rest + chunk.toString('utf8')).split('\n');
    rest = lines.pop()!;
    for (const l of lines) onLine(l);
  });
  // stderr: anything there (an uncaught error, a warning) counts as an error line.
  proc.stderr!.on('data', (chunk: Buffer) => {
    for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) onLine(l);
  });
}

/** The RSS of a process, from /proc (read from outside: a server busy or stuck still gets measured). */
function rssOf(pid: number): number | undefined {
  try {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

class RssWatch {
  peak = 0;
  last = 0;
  passedCeilingAfterS: number | undefined;
  private readonly timer: NodeJS.Timeout;
  private readonly t0 = now();

  constructor(pid: number, onCeiling: () => void) {
    this.timer = setInterval(() => {
      const rss = rssOf(pid);
      if (rss === undefined) return;
      this.last = rss;
      this.peak = Math.max(this.peak, rss);
      if (rss > RSS_CEILING && this.passedCeilingAfterS === undefined) {
        this.passedCeilingAfterS = Math.round((now() - this.t0) / 100) / 10;
        onCeiling();
      }
    }, 100);
  }

  stop(): void {
    clearInterval(this.timer);
  }
}

class Attacker {
  private readonly child: Child<LoadRequest, LoadReply>;
  constructor() {
    this.child = new Child(
      fork(here('./attack-load.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    );
  }
  async prepare(attack: string, env: Extract<LoadRequest, { t: 'prepare' }>['env']): Promise<void> {
    await this.child.ask({ t: 'prepare', attack, env }, 'prepared', 60_000);
  }
  async run(timeoutMs: number): Promise<AttackerReport> {
    return (await this.child.ask({ t: 'run' }, 'result', timeoutMs)).report;
  }
  stop(): void {
    if (this.child.proc.connected) this.child.proc.send({ t: 'stop' } satisfies LoadRequest);
  }
  async close(): Promise<void> {
    if (this.child.proc.connected) this.child.proc.disconnect();
    await Promise.race([this.child.ended(), sleep(2_000)]);
    this.child.kill();
  }
}

function merge(reports: AttackerReport[]): AttackerReport {
  const counters: Record<string, number> = {};
  const encoded: Record<string, string[]> = {};
  for (const r of reports) {
    for (const [k, v] of Object.entries(r.counters)) counters[k] = (counters[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.hists)) (encoded[k] ??= []).push(v);
  }
  const hists: Record<string, string> = {};
  for (const [k, list] of Object.entries(encoded)) {
    const total = newHistogram();
    for (const e of list) total.add(hdr.decodeFromCompressedBase64(e, 32, false));
    hists[k] = hdr.encodeIntoCompressedBase64(total);
  }
  return {
    counters,
    hists,
    facts: Object.assign({}, ...[...reports].reverse().map((r) => r.facts)),
  };
}

// ---- one row of the table -------------------------------------------------------------------

interface AttackRow {
  attack: string;
  attacker: string;
  report?: AttackerReport;
  /** MB */
  rss?: {
    before: number;
    peak: number;
    end: number;
    settled: number | undefined;
    stoppedAtCeilingAfterS?: number;
    serverExit?: string;
  };
  normal?: NormalSummary;
  /** The attacker's own acknowledged messages, checked in the database after the run. */
  attackerCheck?: { ok: boolean | null; text: string };
  db?: Record<string, number>;
  log?: LogCount;
  durationS: number;
  error?: string;
}

function tempDb(): { dir: string; dbPath: string } {
  const dir = mkdtempSync(join(tmpdir(), 'zapwire-attack-'));
  return { dir, dbPath: join(dir, 'attack.db') };
}

function dbSizeMB(dbPath: string): number {
  let bytes = 0;
  for (const f of [dbPath, `${dbPath}-wal`]) {
    try {
      bytes += statSync(f).size;
    } catch {
      // no such file
    }
  }
  return Math.round(bytes / MB);
}

/** Pending rows in the (stopped) server's database: in all, and for the recipients named. */
function pendingRows(dbPath: string, recipients: string[]): Record<string, number> {
  const db = new Database(dbPath);
  try {
    const out: Record<string, number> = {
      pending: (db.prepare('SELECT COUNT(*) AS n FROM pending').get() as { n: number }).n,
    };
    const one = db.prepare('SELECT COUNT(*) AS n FROM pending WHERE recipient = ?');
    for (const r of recipients) out[r] = (one.get(r) as { n: number }).n;
    return out;
  } finally {
    db.close();
  }
}

/** What the attacker's acknowledged messages must have left in the store (the recipients never connected). */
function checkAttackerRows(
  name: string,
  report: AttackerReport,
  rows: Record<string, number>,
): { ok: boolean | null; text: string } | undefined {
  const c = report.counters;
  const f = report.facts;
  if (name === 'pipeline-05' || name === 'offline-flood') {
    const acked = c['07'] ?? 0;
    const have = rows[String(f.recipient)] ?? 0;
    return { ok: have >= acked, text: `attacker's ${fmt(acked)} 07: ${fmt(have)} rows` };
  }
  if (name === 'group-flood') {
    // One member's rows: a row per group message acknowledged, and a notice per group it was put in (the first one too).
    const due = (c['07'] ?? 0) + (c['11'] ?? 0) + 1;
    const have = rows[String(f.member)] ?? 0;
    return { ok: have >= due, text: `a member's ${fmt(due)} due: ${fmt(have)} rows` };
  }
  return undefined;
}

/** A fresh server for one attack, started ahead (while the previous attack is being checked). */
interface Fresh {
  name: string;
  dir: string;
  dbPath: string;
  options: Partial<ServerOptions>;
  server: Promise<AttackServer>;
  attackers: Attacker[];
}

function freshServer(name: string): Fresh {
  const { dir, dbPath } = tempDb();
  // Default options, but for a free port, the HTTP API, the legacy listener where needed, and the temporary file.
  const options: Partial<ServerOptions> = {
    port: 0,
    httpPort: 0,
    dbPath,
    ...(ATTACKS[name]!.legacy ? { legacyPort: 0 } : {}),
  };
  const server = AttackServer.start(options);
  server.catch(() => {}); // awaited (and reported) by the attack
  return {
    name,
    dir,
    dbPath,
    options,
    server,
    attackers: Array.from({ length: ATTACKS[name]!.processes ?? 1 }, () => new Attacker()),
  };
}

/**
 * One attack against `fresh`'s server. `settled` is called once the measured
 * part is over (the attack, the settle, the RSS readings): the tool starts the
 * next attack's server then, while this one's losses are checked.
 */
async function standardAttack(
  name: string,
  seconds: number,
  fresh: Fresh,
  settled: () => void,
): Promise<AttackRow> {
  const { dir, dbPath, options } = fresh;
  const t0 = now();
  const row: AttackRow = { attack: name, attacker: '', durationS: 0 };
  let server: AttackServer | undefined;
  let restarted: AttackServer | undefined;
  const attackers = fresh.attackers;
  try {
    server = await fresh.server;
    phase('server started');
    const env = {
      port: server.port,
      httpPort: server.httpPort,
      legacyPort: server.legacyPort,
      durationMs: seconds * 1000,
    };
    const [normal] = await Promise.all([
      NormalClient.create(server.port),
      ...attackers.map((a, index) => a.prepare(name, { ...env, index, of: attackers.length })),
    ]);
    normal.start(server.port);
    await sleep(300);
    const before = rssOf(server.pid) ?? 0;
    const target = server;
    const watch = new RssWatch(server.pid, () => {
      target.kill();
      for (const a of attackers) a.stop();
    });
    phase('prepared');
    normal.beginWindow();
    const reports = await Promise.all(attackers.map((a) => a.run(seconds * 1000 + 60_000)));
    normal.endWindow();
    const end = watch.last;
    await sleep(SETTLE_MS);
    watch.stop();
    const settledRss = server.exit ? undefined : rssOf(server.pid);
    phase('settled');
    settled();
    await normal.stop();
    phase('normal client stopped');
    let verifyPort = server.port;
    if (server.exit) {
      // The server was stopped at the ceiling (or died): what it acknowledged must be in its file.
      restarted = await AttackServer.start({
        ...options,
        httpPort: undefined,
        legacyPort: undefined,
      });
      verifyPort = restarted.port;
    }
    const verified = await normal.verify(verifyPort);
    phase('verified');
    row.normal = normal.summary(verified);
    row.report = merge(reports);
    row.rss = {
      before: Math.round(before / MB),
      peak: Math.round(watch.peak / MB),
      end: Math.round(end / MB),
      settled: settledRss === undefined ? undefined : Math.round(settledRss / MB),
      ...(watch.passedCeilingAfterS !== undefined
        ? { stoppedAtCeilingAfterS: watch.passedCeilingAfterS }
        : {}),
      ...(server.exit && watch.passedCeilingAfterS === undefined
        ? { serverExit: server.exit }
        : {}),
    };
    for (const a of attackers) await a.close();
    await restarted?.stop();
    await server.stop();
    phase('stopped');
    row.log = server.log;
    const recipients = [row.report.facts.recipient, row.report.facts.member].filter(
      (x): x is string => typeof x === 'string',
    );
    row.db = { ...pendingRows(dbPath, recipients), dbMB: dbSizeMB(dbPath) };
    row.attackerCheck = checkAttackerRows(name, row.report, row.db);
    row.durationS = Math.round((now() - t0) / 100) / 10;
    row.attacker = describe(name, row, seconds);
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err);
    row.attacker = `tool error: ${row.error.split('\n')[0]}`;
  } finally {
    settled();
    for (const a of attackers) await a.close();
    restarted?.kill();
    server?.kill();
    if (!server)
      void fresh.server.then(
        (s) => s.kill(),
        () => {},
      );
    rmSync(dir, { recursive: true, force: true });
  }
  return row;
}

// ---- the attacks the tool drives itself ------------------------------------------------------

const CLI = here('../src/cli/main.js');

/** Runs `zapwire serve` until it exits or `waitMs` passes; what it printed and how it ended. */
function serveCli(
  args: string[],
  waitMs: number,
  onListening?: (port: number, proc: ChildProcess) => void,
): Promise<{ exit: string; stderr: string; stdoutErrors: string[]; startedPort?: number }> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, [...SERVER_NODE_FLAGS, CLI, 'serve', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    let startedPort: number | undefined;
    proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    proc.stdout.on('data', (c: Buffer) => {
      stdout += c.toString('utf8');
      const m = startedPort === undefined ? /zapwire listening on [\d.]+:(\d+)/.exec(stdout) : null;
      if (m) {
        startedPort = Number(m[1]);
        onListening?.(startedPort, proc);
      }
    });
    let stopped = false;
    const timer = setTimeout(() => {
      stopped = true;
      proc.kill('SIGTERM');
    }, waitMs);
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      const stdoutErrors = stdout
        .split('\n')
        .filter((l) => Number(/"level":(\d+)/.exec(l)?.[1] ?? 0) >= 50)
        .map((l) => (/"msg":"([^"]*)"/.exec(l)?.[1] ?? l).slice(0, 200));
      const exit = stopped
        ? `still running after ${waitMs / 1000} s`
        : startedPort !== undefined
          ? `started (stopped by the tool, ${signal ?? `exit ${code}`})`
          : signal
            ? `killed by ${signal}`
            : `exit ${code}`;
      resolve({
        exit,
        stderr: stderr.trim().slice(0, 400),
        stdoutErrors,
        ...(startedPort !== undefined ? { startedPort } : {}),
      });
    });
  });
}

/**
 * A second server on the first one's database file: does it start, and if it
 * does, is a message sent through it pushed to a session held by the first?
 */
async function twoServers(seconds: number): Promise<AttackRow> {
  const { dir, dbPath } = tempDb();
  const t0 = now();
  const row: AttackRow = { attack: 'two-servers', attacker: '', durationS: 0 };
  let server: AttackServer | undefined;
  try {
    server = await AttackServer.start({ port: 0, httpPort: 0, dbPath });
    const normal = await NormalClient.create(server.port);
    normal.start(server.port);
    await sleep(500);
    const before = rssOf(server.pid) ?? 0;
    const watch = new RssWatch(server.pid, () => server?.kill());
    normal.beginWindow();
    let pushed: string | undefined;
    const second = await serveCli(
      ['--db', dbPath, '--port', '0', '--host', '127.0.0.1'],
      Math.max(5_000, Math.min(seconds * 1000, 10_000)),
      (port, proc) => {
        void (async () => {
          try {
            const [stranger] = await register(port, 1);
            const conn = await openSession(port, stranger!, false);
            const stored = await new Promise<boolean>((resolve) => {
              conn.onFrame = (f) => resolve(f.code === '07');
              conn.send({
                code: '05',
                src: stranger!.number,
                dst: normal.b.number,
                ts: Math.floor(Date.now() / 1000),
                data: 'via the second server',
              });
              setTimeout(() => resolve(false), 2_000);
            });
            conn.destroy();
            await sleep(1_000);
            const live = normal.othersLive.includes('via the second server');
            pushed = stored
              ? `a 05 via it got 07, ${live ? 'and was' : 'but was not'} pushed to the recipient's session on the first within 1 s`
              : 'a 05 via it got no 07';
          } catch (err) {
            pushed = `using it failed: ${err instanceof Error ? err.message : err}`;
          }
          proc.kill('SIGTERM');
        })();
      },
    );
    normal.endWindow();
    await sleep(SETTLE_MS);
    watch.stop();
    await normal.stop();
    row.normal = normal.summary(await normal.verify(server.port));
    row.rss = {
      before: Math.round(before / MB),
      peak: Math.round(watch.peak / MB),
      end: Math.round(watch.last / MB),
      settled: Math.round((rssOf(server.pid) ?? 0) / MB),
    };
    await server.stop();
    row.log = server.log;
    const started = second.startedPort !== undefined;
    row.report = {
      counters: {},
      hists: {},
      facts: { started, exit: second.exit, stderr: second.stderr, ...(pushed ? { pushed } : {}) },
    };
    row.attacker = started
      ? `second server started (${pushed ?? 'not used'}); ${second.exit}`
      : `second server refused: ${second.exit}, "${firstLine(second.stderr || second.stdoutErrors.join(' | '))}"`;
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err);
    row.attacker = `tool error: ${row.error}`;
  } finally {
    server?.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  row.durationS = Math.round((now() - t0) / 100) / 10;
  return row;
}

/** 16 KB of garbage written into a database file (over its header, and over its pages), then `zapwire serve --db`. */
async function corruptDb(): Promise<AttackRow> {
  const t0 = now();
  const row: AttackRow = { attack: 'corrupt-db', attacker: '', durationS: 0 };
  const dirs: string[] = [];
  try {
    const outcomes: Record<string, string | number | boolean> = {};
    const parts: string[] = [];
    for (const [where, offset] of [
      ['header', 0],
      ['pages', 4096],
    ] as const) {
      const { dir, dbPath } = tempDb();
      dirs.push(dir);
      // A real database first: a server that registered users and stopped.
      const server = await AttackServer.start({ port: 0, dbPath });
      await register(server.port, 50);
      await server.stop();
      const garbage = Buffer.alloc(16 * 1024);
      for (let i = 0; i < garbage.length; i++) garbage[i] = Math.floor(Math.random() * 256);
      const fd = openSync(dbPath, 'r+');
      writeSync(fd, garbage, 0, garbage.length, offset);
      closeSync(fd);
      // If it starts, does it serve? A registration and a send touch the damaged pages.
      let served = '';
      const r = await serveCli(
        ['--db', dbPath, '--port', '0', '--host', '127.0.0.1'],
        8_000,
        (port, proc) => {
          void (async () => {
            try {
              const [a, b] = await register(port, 2, undefined, 2_000);
              const conn = await openSession(port, a!, false, undefined, 2_000);
              served = await new Promise<string>((resolve) => {
                conn.onFrame = (f) =>
                  resolve(
                    f.code === '07' ? '01, 04 and 05 served' : `05 answered ${f.code} ${f.data}`,
                  );
                conn.onClose = () => resolve('05: closed');
                conn.send({
                  code: '05',
                  src: a!.number,
                  dst: b!.number,
                  ts: Math.floor(Date.now() / 1000),
                  data: 'after the damage',
                });
                setTimeout(() => resolve('05 unanswered in 2 s'), 2_000);
              });
              conn.destroy();
            } catch (err) {
              served = err instanceof Error ? err.message : String(err);
            }
            proc.kill('SIGTERM');
          })();
        },
      );
      const said = firstLine(r.stderr || r.stdoutErrors.join(' | ')) || '(nothing)';
      outcomes[`${where}Exit`] = r.exit;
      outcomes[`${where}Said`] = r.stderr || r.stdoutErrors.join(' | ');
      if (served) outcomes[`${where}Served`] = served;
      parts.push(
        `${where} (offset ${offset}): ${r.exit}${served ? ` (${served})` : ''}, said "${said}"`,
      );
    }
    row.report = { counters: {}, hists: {}, facts: outcomes };
    row.attacker = parts.join('; ');
  } catch (err) {
    row.error = err instanceof Error ? err.message : String(err);
    row.attacker = `tool error: ${row.error}`;
  } finally {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
  row.durationS = Math.round((now() - t0) / 100) / 10;
  return row;
}

function firstLine(text: string): string {
  return (text.split('\n').find((l) => l.trim()) ?? '').trim().slice(0, 160);
}

// ---- describing a row ---------------------------------------------------------------------------

function fmt(n: number | undefined): string {
  return n === undefined ? '?' : Math.round(n).toLocaleString('en-US');
}

function statuses(counters: Record<string, number>, prefix = ''): string {
  return (
    Object.entries(counters)
      .filter(([k]) => k.startsWith(prefix))
      .map(([k, v]) => `${k.slice(prefix.length)} ×${fmt(v)}`)
      .join(', ') || 'nothing'
  );
}

function answers(c: Record<string, number>): string {
  return statuses(Object.fromEntries(Object.entries(c).filter(([k]) => /^\d\d(:\d+)?$/.test(k))));
}

function closeTimes(report: AttackerReport, key: string): string {
  const e = report.hists[key];
  if (!e) return 'none';
  const s = summarise([e]);
  return `${fmt(s.count)} after ${(s.p50 / 1000).toFixed(1)}/${(s.max / 1000).toFixed(1)} s (p50/max)`;
}

function describe(name: string, row: AttackRow, seconds: number): string {
  const r = row.report!;
  const c = r.counters;
  const f = r.facts;
  const perS = (n: number | undefined) => `${fmt((n ?? 0) / seconds)}/s`;
  const closed = f.closedByServer ? 'closed by the server' : 'never closed';
  switch (name) {
    case 'pipeline-19-noread':
      return `${fmt(c.framesWritten)} 19s written (${perS(c.framesWritten)}); ${closed}${f.closedAfterS !== undefined ? ` after ${f.closedAfterS} s` : ''}`;
    case 'pipeline-05':
    case 'pipeline-03':
      return `${fmt(c.framesWritten)} written (${perS(c.framesWritten)}); got ${answers(c)}; ${closed}`;
    case 'pipeline-05-noread':
      return `${fmt(c.framesWritten)} 05 written (${perS(c.framesWritten)}); ${closed}; ${fmt(row.db?.[String(f.recipient)])} rows stored for the recipient`;
    case 'lone-surrogate':
      return `HTTP ${statuses(c, 'http:')}; bystander push sessions still open ${f.bystandersStillOpen}/${f.bystandersOpened}; victim's session dropped ${f.victimDrops}×`;
    case 'idle-sockets':
      return (
        `connected ${fmt(c.connected)}/${fmt(IDLE_SOCKETS)} in ${f.openedInS} s, ${fmt(c.openAfterOpening)} open then; ` +
        `closed by the server: ${statuses(c, 'closed:')}; connect failed: ${statuses(c, 'connectFailed:')}; 408 ${closeTimes(r, 'closedAfter408')}; ` +
        `still open ${IDLE_HOLD_MS / 1000} s after: ${fmt(c.stillOpen)}; newcomer while held: v1 ${f.whileHeldV1}, /healthz ${f.whileHeldHealthz}; at end: v1 ${f.atEndV1}, /healthz ${f.atEndHealthz}`
      );
    case 'slow-http':
      return (
        `headers at 1 B/s: closed ${closeTimes(r, 'headersClosedAfter')}, still open ${fmt(c.headersStillOpen)}/900 (${statuses(c, 'headers:')}); ` +
        `body at 1 B/s: closed ${closeTimes(r, 'bodyClosedAfter')}, still open ${fmt(c.bodyStillOpen)}/900 (${statuses(c, 'body:')}); held ${f.heldS} s; ` +
        `while held: v1 ${f.whileHeldV1}, /healthz ${f.whileHeldHealthz}`
      );
    case 'register-flood':
      return `v1: 02 ×${fmt(c['02'])} (${perS(c['02'])}), ${statuses(Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith('09'))))}; HTTP: ${statuses(c, 'http:')} (201: ${perS(c['http:201'])}); users ${perS((c['02'] ?? 0) + (c['http:201'] ?? 0))}`;
    case 'offline-flood':
      return `${f.sessions} sessions: ${answers(c)} (07: ${perS(c['07'])}); pending rows for the victim ${fmt(row.db?.[String(f.recipient)])}`;
    case 'group-flood':
      return `11 ×${fmt(c['11'])} (${perS(c['11'])} groups); 07 ×${fmt(c['07'])} (${perS(c['07'])}); refusals ${statuses(Object.fromEntries(Object.entries(c).filter(([k]) => k.startsWith('09'))))}; pending rows ${fmt(row.db?.pending)} (${perS(row.db?.pending)}), db ${row.db?.dbMB} MB`;
    case 'legacy-big-group': {
      const send = r.hists.send ? summarise([r.hists.send]) : undefined;
      return f.groupCreated
        ? `10 with 5,000 members accepted (its connection closed after ${fmt(f.createMs as number)} ms, the member's 03 after ${fmt(f.pollMs as number)} ms); then in ${seconds / 2} s legacy 05 ×${fmt(c.sends)}${send ? ` (p50 ${fmt(send.p50)} ms)` : ''}${c.sendsFailed ? `, ${fmt(c.sendsFailed)} failed` : ''}; pending rows ${fmt(row.db?.pending)}, db ${row.db?.dbMB} MB`
        : `10 with 5,000 members: its connection closed after ${fmt(f.createMs as number)} ms; the member's 03: ${f.pollAnswer} after ${fmt(f.pollMs as number)} ms, so no group to send to; pending rows ${fmt(row.db?.pending)}, db ${row.db?.dbMB} MB`;
    }
    case 'wrong-token-http': {
      const victim = Object.entries(c).filter(([k]) => k.startsWith('victim:'));
      const total = victim.reduce((a, [, v]) => a + v, 0);
      const attacks = Object.entries(c)
        .filter(([k]) => k.startsWith('attacker:'))
        .reduce((a, [, v]) => a + v, 0);
      return `attacker ${perS(attacks)}: ${statuses(c, 'attacker:')}; victim's valid sends: ${statuses(c, 'victim:')} (429: ${total ? ((100 * (c['victim:429'] ?? 0)) / total).toFixed(1) : '?'}%)`;
    }
    case 'wrong-token-04': {
      const total = Object.entries(c)
        .filter(([k]) => k.startsWith('09:'))
        .reduce((a, [, v]) => a + v, 0);
      return `${perS(total)} answered: ${answers(c)}; victim's own 04: ${f.victimSession}`;
    }
    default:
      return statuses(c);
  }
}

// ---- the table ------------------------------------------------------------------------------------

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

function renderRow(row: AttackRow): string {
  const rss = row.rss
    ? `${fmt(row.rss.peak)}/${fmt(row.rss.end)} MB (from ${fmt(row.rss.before)}; settled ${row.rss.settled === undefined ? '-' : fmt(row.rss.settled)})` +
      (row.rss.stoppedAtCeilingAfterS !== undefined
        ? `; **stopped past ${Math.round(RSS_CEILING / MB)} MB after ${row.rss.stoppedAtCeilingAfterS} s**`
        : '') +
      (row.rss.serverExit ? `; **server died (${row.rss.serverExit})**` : '')
    : '-';
  const n = row.normal;
  const normal = n
    ? `${n.latency0507.p50}/${n.latency0507.p99}/${n.latency0507.max} ms; ${n.unanswered}/${n.ticks} unanswered` +
      (Object.keys(n.refused).length
        ? `; refused ${Object.entries(n.refused)
            .map(([s, k]) => `${s} ×${k}`)
            .join(', ')}`
        : '') +
      (n.reconnects ? `; ${n.reconnects} reconnects` : '')
    : '-';
  const lost: string[] = [];
  if (n)
    lost.push(
      n.lost === undefined
        ? `unverified (${n.verifyError})`
        : n.lost === 0
          ? `yes (${fmt(n.acknowledged)} acknowledged)`
          : `**NO: ${n.lost} of ${n.acknowledged} lost**`,
    );
  if (row.attackerCheck)
    lost.push(`${row.attackerCheck.ok ? 'yes' : '**NO**'} (${row.attackerCheck.text})`);
  const log = row.log ? `${row.log.warn}/${row.log.error + row.log.fatal}` : '-';
  return `| ${row.attack} | ${cell(row.attacker)} | ${cell(rss)} | ${cell(normal)} | ${cell(lost.join('; ') || '-')} | ${log} |`;
}

function renderTable(rows: AttackRow[]): string {
  return [
    '| attack | what the attacker got | server RSS peak/end | normal client 05->07 p50/p99/max, unanswered (of 50 ms ticks) | nothing lost? | log warn/error |',
    '|---|---|---|---|---|---|',
    ...rows.map(renderRow),
  ].join('\n');
}

// ---- main ------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const names = Object.keys(ATTACKS);
  const program = new Command('attack')
    .description(
      "repeats issue #9's attacks against a fresh default server each and measures what they do",
    )
    .option('--only <names>', `comma-separated attacks: ${names.join(', ')}`)
    .option(
      '--seconds <n>',
      'how long each attack runs (some hold longer to see a time limit act)',
      (v) => {
        const n = Number(v);
        if (!Number.isFinite(n) || n < 1 || n > 120) throw new InvalidArgumentError('1 to 120');
        return n;
      },
      10,
    )
    .option('--out <file>', 'write the JSON result there')
    .parse();
  const opts = program.opts<{ only?: string; seconds: number; out?: string }>();
  const chosen = opts.only ? opts.only.split(',').map((s) => s.trim()) : names;
  for (const n of chosen)
    if (!(n in ATTACKS)) program.error(`unknown attack ${n}; known: ${names.join(', ')}`);

  const startedAt = new Date().toISOString();
  const load0 = loadavg();
  const rows: AttackRow[] = [];
  const standard = (n: string | undefined) => n !== undefined && ATTACKS[n]!.run !== undefined;
  let next: Fresh | undefined;
  for (const [i, name] of chosen.entries()) {
    process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${name} ...`);
    const fresh = next ?? (standard(name) ? freshServer(name) : undefined);
    next = undefined;
    const startNext = () => {
      if (!next && standard(chosen[i + 1])) next = freshServer(chosen[i + 1]!);
    };
    const row =
      name === 'two-servers'
        ? await twoServers(opts.seconds)
        : name === 'corrupt-db'
          ? await corruptDb()
          : await standardAttack(name, opts.seconds, fresh!, startNext);
    rows.push(row);
    process.stderr.write(
      ` ${row.durationS} s${row.error ? ` (error: ${row.error.split('\n')[0]})` : ''}\n`,
    );
  }
  const table = renderTable(rows);
  process.stdout.write(`${table}\n`);
  if (opts.out) {
    const out = resolve(opts.out);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(
      out,
      JSON.stringify(
        {
          startedAt,
          finishedAt: new Date().toISOString(),
          node: process.version,
          cpus: cpus().length,
          loadAvgStart: load0,
          loadAvgEnd: loadavg(),
          seconds: opts.seconds,
          rows,
          table,
        },
        null,
        2,
      ) + '\n',
    );
    process.stderr.write(`wrote ${out}\n`);
  }
  process.exit(rows.some((r) => r.error) ? 1 : 0);
}

await main();
