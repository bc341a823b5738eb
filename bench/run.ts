/**
 * npm run bench [-- --full] [--only a,b] [--out bench/results/x.json]
 *
 * Runs the scenarios (quick mode by default), shows live progress on stderr,
 * writes the result JSON (commit, machine, Node, parameters) and a Markdown
 * report with SVG charts next to it.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import type { Progress } from './harness.js';
import { type BenchResult, computeTargets, writeReport } from './report.js';
import { type Context, type Mode, PARAMS, SCENARIOS, type ScenarioName } from './scenarios.js';

const program = new Command('bench')
  .description(
    'zapwire benchmark: chat (many pairs of users, with aedes and mosquitto), then the batched scenarios: push vs poll, idle cost, thread models, saturation, scale of sessions, HTTP; then the seed workload on the legacy listener; then the cluster scenario (the chat shape on SQLite, on PostgreSQL, and on two nodes with PostgreSQL and Redis)',
  )
  .option('--full', 'full mode (longer runs, wider sweeps); quick mode otherwise')
  .option('--tiny', 'tiny parameters (the smoke test)')
  .option('--only <names>', `comma-separated scenarios: ${Object.keys(SCENARIOS).join(', ')}`)
  .option('--out <file>', 'result JSON path (the report goes next to it)')
  .option('--name <name>', 'a name for this run')
  .option('--cpu-prof <dir>', 'run the server processes with --cpu-prof into this folder')
  .option(
    '--node-flags <flags>',
    'extra node flags for the server processes, space-separated (e.g. "--trace-gc")',
  )
  .option(
    '--chat-rates <list>',
    "chat scenario: comma-separated open-loop rates, msgs/s (default: the mode's)",
  )
  .option(
    '--chat-windows <list>',
    'chat scenario: comma-separated closed-loop windows; "none" for no closed loop (default: the mode\'s)',
  )
  .option(
    '--peers <list>',
    'chat scenario: peers to run beside zapwire, comma-separated (aedes, mosquitto) or "none" (default: both)',
  )
  .option(
    '--chat-transport <list>',
    'chat scenario: zapwire transports, comma-separated: tcp, ws (WebSockets at /v1/ws), each a run of its own (default: tcp)',
  )
  .option(
    '--cluster-rates <list>',
    "cluster scenario: comma-separated open-loop rates, msgs/s (default: the mode's)",
  )
  .option(
    '--cluster-windows <list>',
    'cluster scenario: comma-separated closed-loop windows; "none" for no closed loop (default: the mode\'s)',
  )
  .option(
    '--threads <n>',
    'session host threads of the servers under test; 0: sessions on the broker thread (default: the server default)',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('an integer, 0 or more');
      return n;
    },
  )
  .parse();

const opts = program.opts<{
  full?: boolean;
  tiny?: boolean;
  only?: string;
  out?: string;
  name?: string;
  cpuProf?: string;
  threads?: number;
  nodeFlags?: string;
  chatRates?: string;
  chatWindows?: string;
  peers?: string;
  chatTransport?: string;
  clusterRates?: string;
  clusterWindows?: string;
}>();
const mode: Mode = opts.tiny ? 'tiny' : opts.full ? 'full' : 'quick';
const params = {
  ...PARAMS[mode],
  chat: { ...PARAMS[mode].chat },
  cluster: { ...PARAMS[mode].cluster },
};
function numberList(flag: string, text: string): number[] {
  if (text === 'none') return [];
  const list = text.split(',').map((v) => Number(v.trim()));
  if (list.some((n) => !Number.isInteger(n) || n < 1))
    program.error(
      `${flag}: a comma-separated list of positive integers, got ${JSON.stringify(text)}`,
    );
  return list;
}
if (opts.chatRates !== undefined) params.chat.rates = numberList('--chat-rates', opts.chatRates);
if (opts.chatWindows !== undefined)
  params.chat.windows = numberList('--chat-windows', opts.chatWindows);
if (opts.clusterRates !== undefined)
  params.cluster.rates = numberList('--cluster-rates', opts.clusterRates);
if (opts.clusterWindows !== undefined)
  params.cluster.windows = numberList('--cluster-windows', opts.clusterWindows);
if (opts.peers !== undefined) {
  const peers = opts.peers === 'none' ? [] : opts.peers.split(',').map((v) => v.trim());
  for (const p of peers)
    if (p !== 'aedes' && p !== 'mosquitto')
      program.error(`--peers: aedes, mosquitto or none, got ${JSON.stringify(p)}`);
  params.chat.peers = peers as ('aedes' | 'mosquitto')[];
}
if (opts.chatTransport !== undefined) {
  const transports = opts.chatTransport.split(',').map((v) => v.trim());
  for (const t of transports)
    if (t !== 'tcp' && t !== 'ws')
      program.error(`--chat-transport: tcp, ws or both, got ${JSON.stringify(t)}`);
  params.chat.transports = transports as ('tcp' | 'ws')[];
}
const names = (
  opts.only ? opts.only.split(',').map((s) => s.trim()) : Object.keys(SCENARIOS)
) as ScenarioName[];
for (const n of names)
  if (!(n in SCENARIOS))
    program.error(`unknown scenario ${n}; known: ${Object.keys(SCENARIOS).join(', ')}`);
const name = opts.name ?? `${mode}-${cpus().length}cpu`;
const out = resolve(opts.out ?? join('bench', 'results', `${name}.json`));

// ---- live progress ----------------------------------------------------------------------
const tty = process.stderr.isTTY === true;
const t0 = Date.now();
let phase = 'starting';
let watched: { progress: Progress }[] = [];
let lastLine = 0;
function line(): string {
  const p = watched.reduce(
    (a, g) => ({
      open: a.open + g.progress.open,
      sent: a.sent + g.progress.sent,
      stored: a.stored + g.progress.stored,
      received: a.received + g.progress.received,
    }),
    { open: 0, sent: 0, stored: 0, received: 0 },
  );
  return `[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${phase} | sockets ${p.open} | 05 sent ${p.sent} | 07 ${p.stored} | 06 read ${p.received}`;
}
const ticker = setInterval(() => {
  if (tty) process.stderr.write(`\r\x1b[K${line()}`);
  else if (Date.now() - lastLine >= 5_000) {
    lastLine = Date.now();
    process.stderr.write(`${line()}\n`);
  }
}, 250);
const ctx: Context = {
  params,
  phase(text) {
    phase = text;
    if (!tty) {
      lastLine = Date.now();
      process.stderr.write(`${line()}\n`);
    }
  },
  watch(gens) {
    watched = gens;
  },
  serverOptions: opts.threads === undefined ? {} : { threads: opts.threads },
  serverExecArgv: [
    ...(opts.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${resolve(opts.cpuProf)}`] : []),
    ...(opts.nodeFlags?.split(/\s+/).filter(Boolean) ?? []),
  ],
};

function commit(): string {
  // Read .git directly: the benchmark must not depend on a git binary. In a
  // worktree .git is a file naming the worktree's git dir, whose refs live in
  // the common dir.
  try {
    let gitDir = '.git';
    if (!statSync(gitDir).isDirectory())
      gitDir = resolve(
        readFileSync(gitDir, 'utf8')
          .trim()
          .replace(/^gitdir: /, ''),
      );
    const common = existsSync(join(gitDir, 'commondir'))
      ? resolve(gitDir, readFileSync(join(gitDir, 'commondir'), 'utf8').trim())
      : gitDir;
    const head = readFileSync(join(gitDir, 'HEAD'), 'utf8').trim();
    if (!head.startsWith('ref: ')) return head;
    const ref = head.slice(5);
    for (const dir of [gitDir, common])
      if (existsSync(join(dir, ref))) return readFileSync(join(dir, ref), 'utf8').trim();
    const packed = readFileSync(join(common, 'packed-refs'), 'utf8')
      .split('\n')
      .find((l) => l.endsWith(` ${ref}`));
    return packed?.split(' ')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function openFilesLimit(): string {
  try {
    return execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const result: BenchResult = {
  name,
  mode,
  startedAt: new Date().toISOString(),
  finishedAt: '',
  durationSec: 0,
  commit: commit(),
  machine: {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemGB: Math.round(totalmem() / 2 ** 30),
    platform: platform(),
    release: release(),
    openFilesLimit: openFilesLimit(),
    loadAvgStart: loadavg().map((x) => Math.round(x * 100) / 100),
    loadAvgEnd: [],
  },
  node: process.version,
  parameters: { mode, scenarios: names, server: ctx.serverOptions, ...params },
  scenarios: {},
  errors: {},
  targets: [],
  headline: {},
};

for (const n of names) {
  ctx.phase(n);
  try {
    (result.scenarios as Record<string, unknown>)[n] = await SCENARIOS[n](ctx);
  } catch (err) {
    result.errors[n] = err instanceof Error ? err.message : String(err);
    process.stderr.write(`\nscenario ${n} failed: ${result.errors[n]}\n`);
  }
}
clearInterval(ticker);
if (tty) process.stderr.write('\n');
result.finishedAt = new Date().toISOString();
result.durationSec = Math.round((Date.now() - t0) / 1000);
result.machine.loadAvgEnd = loadavg().map((x) => Math.round(x * 100) / 100);
Object.assign(result, computeTargets(result));
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
const md = writeReport(result, out);
process.stderr.write(`wrote ${out}\nwrote ${md}\n`);
for (const t of result.targets)
  process.stderr.write(
    `  ${t.met === null ? 'n/a   ' : t.met ? 'met   ' : 'MISSED'} ${t.target}: ${t.figure}\n`,
  );
process.exit(Object.keys(result.errors).length ? 1 : 0);
