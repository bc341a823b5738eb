/**
 * The cluster scenario's part of the report (bench/report.ts): one node on
 * SQLite, one on PostgreSQL and two on PostgreSQL + Redis from the same run,
 * their figures side by side and as ratios to SQLite, and what bounds each.
 */
import {
  type Bound,
  type ClusterConfig,
  type ClusterRun,
  type ClusterStep,
  CONFIGS,
  type cluster,
} from './cluster.js';
import type { LatencySummary } from './harness.js';

export type ClusterResult = Awaited<ReturnType<typeof cluster>>;

const lat = (l: LatencySummary) => `${l.p50} / ${l.p95} / ${l.p99} / ${l.max}`;
const orDash = (x: number | undefined) => (x === undefined ? '–' : `${x}`);
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;
const delivered = (s: ClusterStep) =>
  `${s.received}/${s.offered}${s.duplicates ? ` (+${s.duplicates} dup)` : ''}${s.errors ? `, ${s.errors} errors` : ''}`;
const at = (r: ClusterRun | undefined, rate: number) => r?.rates.find((s) => s.rate === rate);
/** The closed-loop step that delivered most. */
const bestStep = (r: ClusterRun) =>
  r.saturation.reduce<ClusterStep | undefined>(
    (a, s) => (a === undefined || s.deliveredPerSec > a.deliveredPerSec ? s : a),
    undefined,
  );

/** Each process's CPU µs per message and % of a core. */
const perProcess = (s: ClusterStep) =>
  s.processes
    .map((p) => `${p.process} ${orDash(p.cpuUsPerMsg)} (${p.cpu?.cpuPercent ?? '–'}%)`)
    .join('; ');

/** The busiest threads of every process together (engines: per process), busiest first. */
function busiest(s: ClusterStep, n = 4): string {
  const all = s.processes.flatMap((p) =>
    (p.cpu?.threads ?? [])
      .filter((t) => t.thread !== 'others')
      .map((t) => ({ name: `${p.process} ${t.thread}`, pct: t.cpuPercent })),
  );
  all.sort((a, b) => b.pct - a.pct);
  return all.length
    ? all
        .slice(0, n)
        .map((t) => `${t.name} ${t.pct}`)
        .join(', ')
    : '–';
}

const commits = (s: ClusterStep) =>
  s.processes
    .filter((p) => p.commitsPerSec !== undefined)
    .map((p) => `${p.commitsPerSec}`)
    .join(' / ') || '–';

/** The verdict and the machine's CPU beside it (other work on the cores shows there). */
const boundCell = (b: Bound) =>
  b.machinePercent === undefined ? b.by : `${b.by} (machine ${b.machinePercent}%)`;

export function boundText(b: Bound): string {
  const all = `all processes ${b.totalPercent}% of ${b.cores * 100}%`;
  switch (b.by) {
    case 'thread':
      return `one thread: **${b.busiest}** at ${b.busiestPercent}% of a core (${all})`;
    case 'cores':
      return `the cores: ${all} (busiest ${b.busiest} ${b.busiestPercent}%)`;
    case 'shared':
      return `the cores, shared with other work: the machine ${b.machinePercent}% of ${b.cores * 100}%, ${all} (busiest ${b.busiest} ${b.busiestPercent}%); not a figure of zapwire's bound`;
    case 'waits':
      return `neither a thread nor the cores (busiest ${b.busiest} ${b.busiestPercent}%, ${all}): waits, the commits' fsync and round trips`;
    case 'unknown':
      return 'CPU not measured';
  }
}

export function clusterHeadline(c: ClusterResult | undefined, headline: Record<string, number>) {
  for (const r of c?.runs ?? []) {
    for (const s of r.rates) {
      headline[`cluster.${r.config}@${s.rate}.p50ms`] = s.latency0506.p50;
      headline[`cluster.${r.config}@${s.rate}.p99ms`] = s.latency0506.p99;
      if (s.cpuUsPerMsg !== undefined)
        headline[`cluster.${r.config}@${s.rate}.cpuUsPerMsg`] = s.cpuUsPerMsg;
    }
    headline[`cluster.${r.config}.saturation.msgsPerSec`] = r.best;
  }
}

export function clusterSection(c: ClusterResult): string[] {
  const p = c.params;
  const md: string[] = [];
  md.push('## 9. Cluster: SQLite, PostgreSQL, two nodes with Redis (issue #11)', '');
  md.push(
    `The chat shape of §1 (${p.pairs.toLocaleString('en')} pairs, each sender its own connection sending only to its receiver, each receiver a push session; ${p.generators} load generator processes) on three configurations one after the other in the same run: **1 node on SQLite** (the default), **1 node on PostgreSQL** (\`--db postgres://\`), and **2 nodes on PostgreSQL + Redis** (\`--redis\`) with every sender connected to node A and every receiver's push session on node B, so that every message crosses nodes (A stores it and answers 07, B pushes the 06): its 05→06 latency is the cross-node latency. ` +
      `PostgreSQL (fsync on) and Redis (no persistence) are started by the benchmark in temporary folders on free ports, a fresh engine per configuration. Open loop at ${p.rates.join(', ')} msgs/s for ${p.durationMs / 1000} s each (latency from the intended send time, as in §1), then closed loop with ${p.windows.join(', ')} unanswered per sender for ${p.stepMs / 1000} s (latency from the write). ` +
      `CPU as in §1, from /proc: each node per thread (js1 its broker, then its session hosts), each engine as its process tree summed (PostgreSQL: "main" is the postmaster, "backend :port" a connection's process, by the client port), so that **CPU µs/msg** counts every node and engine process from the start of the load to the last delivery per message delivered. ` +
      `"Bound by": the busiest thread (or engine process) of the step, against a core (≥ 85%: that thread is the bound), and every node, engine and generator process together against the machine's cores; when the machine's cores were near full with other work than these processes (read from /proc/stat), "shared": the step measured the machine's other load, not zapwire; when none is near full, what the step waits on (PostgreSQL's commit fsync, the round trips between the processes) bounds it.`,
    '',
  );
  for (const s of c.skipped) md.push(`> ${label(s.config)}: ${s.reason}`, '');
  for (const f of c.failed) md.push(`> ${label(f.config)} failed: ${f.error}`, '');
  if (c.runs.length === 0) return md;
  md.push(
    `The machine's 1-minute load average at the start and end of each configuration: ${c.runs.map((r) => `${r.config} ${r.loadAvg[0]} → ${r.loadAvg[1]}`).join(', ')}.`,
    '',
  );

  md.push(
    '### Open loop',
    '',
    'Latency in ms (p50 / p95 / p99 / max); per process: CPU µs per delivered message (% of one core over the load window); commits/s per node; bound by: see below, with the CPU of the whole machine (every process, % of one core).',
    '',
  );
  md.push(
    '| configuration | offered msgs/s | delivered / offered | 05→06 latency | 05→07 latency | CPU µs/msg, all | per process | busiest threads (% of a core) | commits/s | bound by |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of c.runs)
    for (const s of r.rates)
      md.push(
        `| ${r.config} | ${s.rate} | ${delivered(s)} | ${lat(s.latency0506)} | ${lat(s.latency0507)} | ${orDash(s.cpuUsPerMsg)} | ${perProcess(s)} | ${busiest(s)} | ${commits(s)} | ${boundCell(s.bound)} |`,
      );
  md.push('');

  md.push(
    '### Saturation (closed loop)',
    '',
    '| configuration | in flight per sender | in flight | delivered msgs/s | 05→06 latency | 05→07 latency | CPU µs/msg, all | per process | busiest threads | commits/s | bound by |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of c.runs)
    for (const s of r.saturation)
      md.push(
        `| ${r.config} | ${s.window} | ${s.inFlight} | ${s.deliveredPerSec} | ${lat(s.latency0506)} | ${lat(s.latency0507)} | ${orDash(s.cpuUsPerMsg)} | ${perProcess(s)} | ${busiest(s)} | ${commits(s)} | ${boundCell(s.bound)} |`,
      );
  md.push('');

  const base = c.runs.find((r) => r.config === 'sqlite');
  if (base && c.runs.length > 1) {
    md.push(
      '### Beside one node on SQLite (same run)',
      '',
      'Ratios are configuration / SQLite: above 1× it costs more, waits longer or (throughput) delivers more.',
      '',
    );
    const head = [
      'configuration',
      'closed loop, best msgs/s',
      '÷ SQLite',
      ...p.rates.flatMap((rate) => [`p50 ÷ SQLite at ${rate}`, `µs/msg ÷ SQLite at ${rate}`]),
    ];
    md.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const r of c.runs) {
      const row = [r.config, String(r.best), ratio(r.best, base.best)];
      for (const rate of p.rates) {
        row.push(ratio(at(r, rate)?.latency0506.p50, at(base, rate)?.latency0506.p50));
        row.push(ratio(at(r, rate)?.cpuUsPerMsg, at(base, rate)?.cpuUsPerMsg));
      }
      md.push(`| ${row.join(' | ')} |`);
    }
    md.push('');
  }

  md.push('### What bounds each configuration', '');
  for (const r of c.runs) {
    const s = bestStep(r) ?? r.rates.at(-1);
    if (!s) continue;
    const where =
      s.window !== undefined ? `closed loop, ${s.window} per sender` : `${s.rate} msgs/s`;
    md.push(`- **${r.label}** (${where}, ${s.deliveredPerSec} msgs/s): ${boundText(s.bound)}.`);
  }
  md.push('');
  return md;
}

const label = (config: ClusterConfig) => CONFIGS.find((x) => x.config === config)!.label;
