/** Turns a result file into bench/results/<name>.md with SVG charts and the targets table. */
import { writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { type ChatResult, chatSection, chatTargets } from './chat-report.js';
import { type ClusterResult, clusterHeadline, clusterSection } from './cluster-report.js';
import type { LatencySummary } from './harness.js';
import type {
  http,
  idleCost,
  pushVsPoll,
  saturation,
  sessionScale,
  threadModels,
} from './scenarios.js';
import { type SeedResult, seedSection, seedTargets } from './seed-report.js';
import { lineChart } from './svg.js';

export interface BenchResult {
  name: string;
  mode: string;
  startedAt: string;
  finishedAt: string;
  durationSec: number;
  commit: string;
  machine: {
    cpus: number;
    cpuModel: string;
    totalMemGB: number;
    platform: string;
    release: string;
    openFilesLimit: string;
    loadAvgStart: number[];
    loadAvgEnd: number[];
  };
  node: string;
  parameters: unknown;
  scenarios: {
    chat?: ChatResult;
    'push-vs-poll'?: Awaited<ReturnType<typeof pushVsPoll>>;
    idle?: Awaited<ReturnType<typeof idleCost>>;
    'thread-models'?: Awaited<ReturnType<typeof threadModels>>;
    saturation?: Awaited<ReturnType<typeof saturation>>;
    'session-scale'?: Awaited<ReturnType<typeof sessionScale>>;
    http?: Awaited<ReturnType<typeof http>>;
    seed?: SeedResult;
    cluster?: ClusterResult;
  };
  errors: Record<string, string>;
  targets: Target[];
  /** Flat figures for bench/compare.ts. */
  headline: Record<string, number>;
}

export interface Target {
  target: string;
  figure: string;
  met: boolean | null;
  /** Which targets table it belongs to: the chat scenario's (issue #10), the batched scenarios', or the seed workload's (issue #10 §4). */
  scenario?: 'chat' | 'batched' | 'seed';
}

const lat = (l: LatencySummary) => `${l.p50} / ${l.p95} / ${l.p99} / ${l.max}`;

export function computeTargets(r: BenchResult): {
  targets: Target[];
  headline: Record<string, number>;
} {
  const t: Target[] = [];
  const h: Record<string, number> = {};
  const s = r.scenarios;
  const chat: Target[] = chatTargets(s.chat, h).map((x) => ({ ...x, scenario: 'chat' }));

  const sat = s.saturation;
  const normal = sat?.runs.find((x) => x.synchronous === 'normal');
  const full = sat?.runs.find((x) => x.synchronous === 'full');
  if (normal) h['saturation.normal.msgsPerSec'] = normal.best;
  if (full) h['saturation.full.msgsPerSec'] = full.best;
  t.push(
    normal
      ? {
          target: 'durable e2e throughput >= 50,000 msgs/s',
          figure: `${Math.round(normal.best)} msgs/s (NORMAL)${full ? `, ${Math.round(full.best)} (FULL)` : ''}, ${sat!.params.sessions} push sessions`,
          met: sat!.params.sessions >= 1_000 ? normal.best >= 50_000 : null,
        }
      : { target: 'durable e2e throughput >= 50,000 msgs/s', figure: 'not measured', met: null },
  );

  const pvp = s['push-vs-poll'];
  const atRate = pvp?.runs.filter((x) => x.rate === pvp.params.rate) ?? [];
  const push = atRate.find((x) => x.mode === 'push');
  const poll1 = atRate.find((x) => x.mode === 'poll-1s');
  for (const run of pvp?.runs.filter((x) => x.rate !== pvp.params.rate) ?? []) {
    h[`push-vs-poll.push@${run.rate}.p50ms`] = run.latency0506.p50;
    h[`push-vs-poll.push@${run.rate}.p99ms`] = run.latency0506.p99;
  }
  for (const run of atRate) {
    h[`push-vs-poll.${run.mode}.p50ms`] = run.latency0506.p50;
    h[`push-vs-poll.${run.mode}.p99ms`] = run.latency0506.p99;
    h[`push-vs-poll.${run.mode}.sqlPerSec`] = run.server.sqlPerSec;
    h[`push-vs-poll.${run.mode}.cpuPercent`] = run.server.cpuPercent;
  }
  if (push) {
    const at = `at ${pvp!.params.rate} msgs/s over ${pvp!.params.recipients} sessions`;
    t.push({
      target: 'push latency at 10,000 msgs/s over 1,000 sessions: p50 <= 0.5 ms',
      figure: `p50 ${push.latency0506.p50} ms ${at}`,
      met:
        pvp!.params.rate >= 10_000 && pvp!.params.recipients >= 1_000
          ? push.latency0506.p50 <= 0.5
          : null,
    });
    t.push({
      target: 'push latency at 10,000 msgs/s over 1,000 sessions: p99 <= 2 ms',
      figure: `p99 ${push.latency0506.p99} ms ${at}`,
      met:
        pvp!.params.rate >= 10_000 && pvp!.params.recipients >= 1_000
          ? push.latency0506.p99 <= 2
          : null,
    });
  } else
    t.push({
      target: 'push latency at 10,000 msgs/s over 1,000 sessions',
      figure: 'not measured',
      met: null,
    });

  const sc = s['session-scale'];
  if (sc) {
    h['session-scale.rssMB'] = sc.rssMB;
    h['session-scale.rssPerSessionKB'] = sc.rssPerSessionKB;
    h['session-scale.probe.p50ms'] = sc.probes.latency0506.p50;
    t.push({
      target: '18,000 push sessions with server RSS <= 200 MB',
      figure: `${sc.rssMB} MB with ${sc.opened} sessions held (${sc.rssPerSessionKB} KB/session; ${sc.rssOpenedMB} MB 2 s after opening them all)`,
      met: sc.opened >= 18_000 ? sc.rssMB <= 200 : null,
    });
  } else
    t.push({
      target: '18,000 push sessions with server RSS <= 200 MB',
      figure: 'not measured',
      met: null,
    });

  const idle = s.idle;
  const idlePush = idle?.runs.find((x) => x.mode === 'push');
  for (const run of idle?.runs ?? []) {
    h[`idle.${run.mode}.sqlPerSec`] = run.server.sqlPerSec;
    h[`idle.${run.mode}.cpuPercent`] = run.server.cpuPercent;
    h[`idle.${run.mode}.rssMB`] = run.server.rssMB;
  }
  if (idlePush) {
    const full10k = idlePush.opened >= 10_000;
    t.push({
      target: '10,000 idle push sessions: 0 SQL statements/s',
      figure: `${idlePush.server.sqlPerSec} SQL/s with ${idlePush.opened} sessions`,
      met: full10k ? idlePush.server.sqlPerSec === 0 : null,
    });
    t.push({
      target: '10,000 idle push sessions: < 2% of a core',
      figure: `${idlePush.server.cpuPercent}% of a core with ${idlePush.opened} sessions`,
      met: full10k ? idlePush.server.cpuPercent < 2 : null,
    });
  } else
    t.push({
      target: '10,000 idle push sessions: 0 SQL/s and < 2% of a core',
      figure: 'not measured',
      met: null,
    });

  if (push && poll1) {
    const ratio = poll1.latency0506.p50 / push.latency0506.p50;
    h['push-vs-poll.ratio.poll1s/push.p50'] = Math.round(ratio);
    t.push({
      target: 'p50(poll every 1 s) / p50(push) >= 500',
      figure: `${Math.round(ratio)} (${poll1.latency0506.p50} ms / ${push.latency0506.p50} ms)`,
      met: ratio >= 500,
    });
  } else
    t.push({ target: 'p50(poll every 1 s) / p50(push) >= 500', figure: 'not measured', met: null });

  for (const run of s['thread-models']?.runs ?? []) {
    h[`thread-models.${run.model}.${run.clients}.rssPerSessionKB`] = run.rssPerSessionKB;
    h[`thread-models.${run.model}.${run.clients}.connectP50ms`] = run.connect.p50;
    h[`thread-models.${run.model}.${run.clients}.p50ms`] = run.latency0506.p50;
  }

  const hp = s.http;
  const httpTarget = 'HTTP send >= 20,000 req/s, p99 <= 10 ms, every message stored and pushed';
  if (hp && hp.runs.length > 0) {
    const complete = (r: (typeof hp.runs)[number]) =>
      r.non2xx === 0 && r.errors === 0 && r.stored >= r.created && r.allPushed;
    // The level reported: the highest rate with p99 within 10 ms, else the highest rate.
    const within = hp.runs.filter((r) => r.latency.p99 <= 10 && complete(r));
    const best = [...(within.length > 0 ? within : hp.runs)].sort(
      (x, y) => y.reqPerSec - x.reqPerSec,
    )[0]!;
    for (const r of hp.runs) {
      h[`http.${r.inFlight}.reqPerSec`] = r.reqPerSec;
      h[`http.${r.inFlight}.p99ms`] = r.latency.p99;
    }
    h['http.reqPerSec'] = best.reqPerSec;
    h['http.p99ms'] = best.latency.p99;
    t.push({
      target: httpTarget,
      figure: `${best.reqPerSec} req/s at p99 ${best.latency.p99} ms (p50 ${best.latency.p50}, ${best.inFlight} in flight: ${best.connections} connections × pipelining ${best.pipelining}, ${hp.params.durationMs / 1000} s; ${best.created} × 201, ${best.non2xx} non-2xx, ${best.stored} stored, ${best.pushed} pushed${best.allPushed ? '' : ' (not all pushed)'}; server ${best.server.cpuPercent}% CPU, autocannon ${best.harnessCpuPercent}%); every level: ${hp.runs.map((r) => `${r.inFlight} in flight ${r.reqPerSec} req/s p99 ${r.latency.p99} ms`).join(', ')}`,
      met:
        hp.params.durationMs >= 5_000
          ? best.reqPerSec >= 20_000 && best.latency.p99 <= 10 && complete(best)
          : null,
    });
  } else t.push({ target: httpTarget, figure: 'not measured', met: null });
  const seed: Target[] = seedTargets(s.seed, h).map((x) => ({ ...x, scenario: 'seed' }));
  clusterHeadline(s.cluster, h);
  return {
    targets: [...chat, ...t.map((x) => ({ ...x, scenario: 'batched' as const })), ...seed],
    headline: h,
  };
}

const verdict = (met: boolean | null) => (met === null ? 'n/a' : met ? 'met' : '**missed**');

/** Writes <jsonPath minus .json>.md and its SVG files next to it; returns the .md path. */
export function writeReport(r: BenchResult, jsonPath: string): string {
  const dir = dirname(jsonPath);
  const stem = basename(jsonPath).replace(/\.json$/, '');
  const md: string[] = [];
  const svg = (suffix: string, content: string) => {
    const file = `${stem}-${suffix}.svg`;
    writeFileSync(join(dir, file), content);
    return file;
  };
  md.push(`# zapwire benchmark: ${r.name}`, '');
  md.push(
    `Mode **${r.mode}**, commit \`${r.commit}\`, ${r.startedAt} (${r.durationSec} s). Node ${r.node}; ${r.machine.cpus} × ${r.machine.cpuModel}, ${r.machine.totalMemGB} GiB, ${r.machine.platform} ${r.machine.release}, open files ${r.machine.openFilesLimit}; load average (1/5/15 min) ${r.machine.loadAvgStart.join(' / ')} at the start, ${r.machine.loadAvgEnd.join(' / ')} at the end (anything above ~2 means other work shared the cores).`,
    '',
  );
  md.push(
    'Server and load generators are separate processes on the same machine (they share its cores). Latency is measured by the clients: 05→06 from the sender writing the 05 to the recipient reading the 06; 05→07 from writing the 05 to reading its 07 (the chat scenario: from the time the 05 was due, see §1). SQL/s, CPU (% of one core, all threads of the server process) and RSS are read from the server process. Raw data: [`' +
      basename(jsonPath) +
      '`](' +
      basename(jsonPath) +
      ').',
    '',
  );
  md.push('## Targets', '');
  const chatTargetRows = r.targets.filter((t) => t.scenario === 'chat');
  if (chatTargetRows.length) {
    md.push(
      "Chat scenario (issue #10 §5), zapwire's figure with aedes's and mosquitto's from the same run in brackets:",
      '',
      '| target | figure reached | verdict |',
      '|---|---|---|',
    );
    for (const t of chatTargetRows) md.push(`| ${t.target} | ${t.figure} | ${verdict(t.met)} |`);
    md.push('', 'Batched scenarios (10 sender connections carry all the load):', '');
  }
  md.push('| target | figure reached | verdict |', '|---|---|---|');
  for (const t of r.targets.filter((x) => x.scenario !== 'chat' && x.scenario !== 'seed'))
    md.push(`| ${t.target} | ${t.figure} | ${verdict(t.met)} |`);
  const seedTargetRows = r.targets.filter((t) => t.scenario === 'seed');
  if (seedTargetRows.length) {
    md.push(
      '',
      "The seed's workload on the legacy listener (issue #10 §4, §8 below):",
      '',
      '| target | figure reached | verdict |',
      '|---|---|---|',
    );
    for (const t of seedTargetRows) md.push(`| ${t.target} | ${t.figure} | ${verdict(t.met)} |`);
  }
  md.push(
    '',
    '"n/a": not measured at the size the target names (see the figure), or not measured at all.',
    '',
  );
  if (r.targets.some((t) => t.met === false)) {
    md.push(
      'What bounds the missed targets on the 2-vCPU reference machine, with the profiles and experiments behind it: [README §What bounds the misses](../../README.md#what-bounds-the-misses).',
      '',
    );
  }
  for (const [name, message] of Object.entries(r.errors))
    md.push(`> Scenario **${name}** failed: ${message}`, '');

  const s = r.scenarios;
  if (s.chat) md.push(...chatSection(s.chat, svg));
  const pvp = s['push-vs-poll'];
  if (pvp) {
    md.push(
      '## 2. Push vs poll (batched: 10 senders)',
      '',
      `${pvp.params.rate} msgs/s for ${pvp.params.durationMs / 1000} s from ${pvp.params.senders} senders to ${pvp.params.recipients} recipients, per delivery model; a fresh server per model. Latency in ms (p50 / p95 / p99 / max).`,
      '',
    );
    md.push(
      '| model | delivered | dup | 05→06 latency | 05→07 latency | SQL/s | commits/s | server CPU % | RSS MB |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    const atRate = pvp.runs.filter((x) => x.rate === pvp.params.rate);
    for (const x of atRate)
      md.push(
        `| ${x.mode} | ${x.received}/${x.stored} | ${x.duplicates} | ${lat(x.latency0506)} | ${lat(x.latency0507)} | ${x.server.sqlPerSec} | ${x.server.commitsPerSec} | ${x.server.cpuPercent} | ${x.server.rssMB} |`,
      );
    const file = svg(
      'latency-cdf',
      lineChart(
        atRate.map((x) => ({ name: x.mode, points: x.latency0506.cdf })),
        {
          title: 'Latency 05→06: push vs poll',
          xLabel: 'latency (ms, log scale)',
          yLabel: 'fraction of messages',
          logX: true,
        },
      ),
    );
    md.push('', `![latency CDF](${file})`, '');
    const pushes = pvp.runs.filter((x) => x.mode === 'push').sort((a, b) => a.rate - b.rate);
    if (pushes.length > 1) {
      md.push(
        '### Push latency vs offered rate',
        '',
        `Push alone, the same ${pvp.params.recipients} recipients and ${pvp.params.senders} senders, at each rate: how the 05→06 tail grows with the load on the shared cores (server CPU in the last column).`,
        '',
      );
      md.push(
        '| msgs/s | delivered | 05→06 latency | 05→07 latency | SQL/s | commits/s | server CPU % |',
        '|---|---|---|---|---|---|---|',
      );
      for (const x of pushes)
        md.push(
          `| ${x.rate} | ${x.received}/${x.stored} | ${lat(x.latency0506)} | ${lat(x.latency0507)} | ${x.server.sqlPerSec} | ${x.server.commitsPerSec} | ${x.server.cpuPercent} |`,
        );
      const rates = svg(
        'push-latency-rate',
        lineChart(
          [
            {
              name: 'p50',
              points: pushes.map((x) => [x.rate, x.latency0506.p50] as [number, number]),
            },
            {
              name: 'p95',
              points: pushes.map((x) => [x.rate, x.latency0506.p95] as [number, number]),
            },
            {
              name: 'p99',
              points: pushes.map((x) => [x.rate, x.latency0506.p99] as [number, number]),
            },
          ],
          { title: 'Push 05→06 latency vs offered rate', xLabel: 'msgs/s', yLabel: 'ms' },
        ),
      );
      md.push('', `![push latency vs rate](${rates})`, '');
    }
  }
  const idle = s.idle;
  if (idle) {
    md.push(
      '## 3. Idle cost',
      '',
      `${idle.params.clients} connected clients, no messages, measured over ${idle.params.durationMs / 1000} s, ${idle.params.settleMs / 1000} s after opening them (and the RSS before them ${idle.params.settleMs / 1000} s after registering them), so that what the bursts of registering and connecting left behind has been collected.`,
      '',
    );
    md.push(
      '| model | sessions | open all (ms) | SQL/s | server CPU % | RSS MB | RSS per session KB |',
      '|---|---|---|---|---|---|---|',
    );
    for (const x of idle.runs)
      md.push(
        `| ${x.mode} | ${x.opened}${x.failed ? ` (${x.failed} failed)` : ''} | ${x.openMs} | ${x.server.sqlPerSec} | ${x.server.cpuPercent} | ${x.server.rssMB} | ${x.rssPerSessionKB} |`,
      );
    md.push('');
  }
  const tm = s['thread-models'];
  if (tm) {
    md.push(
      '## 4. Thread models (batched)',
      '',
      `pooled: default sessions-per-thread (10,000, threads = cores); dedicated: sessions-per-thread 1 (a thread per client). Load: ${tm.params.rate} msgs/s for ${tm.params.durationMs / 1000} s. Connect: TCP connect to \`04 ok\`, 50 at a time.`,
      '',
    );
    md.push(
      '| model | clients | connect p50 / p99 (ms) | open all (ms) | RSS before → after (MB) | RSS per session KB | 05→06 latency | server CPU % |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const x of tm.runs)
      md.push(
        `| ${x.model} | ${x.opened}/${x.clients} | ${x.connect.p50} / ${x.connect.p99} | ${x.openAllMs} | ${x.rssBeforeMB} → ${x.rssAfterMB} | ${x.rssPerSessionKB} | ${lat(x.latency0506)} | ${x.server.cpuPercent} |`,
      );
    for (const f of tm.failures ?? [])
      md.push(`| ${f.model} | ${f.clients}: **not completed**: ${f.error} | | | | | | |`);
    const models = [...new Set(tm.runs.map((x) => x.model))];
    const file = svg(
      'memory-threads',
      lineChart(
        models.map((m) => ({
          name: m,
          points: tm.runs
            .filter((x) => x.model === m)
            .map((x) => [x.clients, x.rssAfterMB] as [number, number]),
        })),
        {
          title: 'Server RSS vs sessions, per thread model',
          xLabel: 'push sessions',
          yLabel: 'server RSS (MB)',
        },
      ),
    );
    md.push('', `![memory per thread model](${file})`, '');
  }
  const sat = s.saturation;
  if (sat) {
    md.push(
      '## 5. Saturation (batched)',
      '',
      `${sat.params.sessions} push sessions, ${sat.params.senders} senders each keeping \`window\` 05 unanswered; ${sat.params.stepMs / 1000} s per step; throughput = rows deleted after the recipient's 08 per second (stored, 07, pushed, acknowledged, deleted), read from the server's counters. The sweep stops when two steps in a row fail to beat the best by 3%, not before a window of 1,024 (throughput flattens between ~100 and ~500 in flight before group commit lifts it again).`,
      '',
    );
    md.push(
      '| sync | window/sender | in flight | e2e msgs/s | stored/s | SQL/s | commits/s | 05→07 latency | 05→06 latency | server CPU % |',
      '|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const run of sat.runs)
      for (const x of run.steps)
        md.push(
          `| ${run.synchronous} | ${x.window} | ${x.inFlight} | ${Math.round(x.throughput)} | ${Math.round(x.storedPerSec)} | ${x.server.sqlPerSec} | ${x.server.commitsPerSec} | ${lat(x.latency0507)} | ${lat(x.latency0506)} | ${x.server.cpuPercent} |`,
        );
    for (const run of sat.runs) {
      const [prev, last] = run.steps.slice(-2);
      if (
        prev &&
        last &&
        last.window === sat.params.windows.at(-1) &&
        last.throughput >= prev.throughput * 1.03
      ) {
        md.push(
          '',
          `synchronous ${run.synchronous}: the sweep reached its largest window while throughput was still rising; the plateau is beyond it.`,
        );
      }
    }
    const file = svg(
      'throughput-window',
      lineChart(
        sat.runs.map((run) => ({
          name: `synchronous ${run.synchronous}`,
          points: run.steps.map((x) => [x.inFlight, x.throughput] as [number, number]),
        })),
        {
          title: 'Durable e2e throughput vs sender window',
          xLabel: '05 in flight (all senders, log scale)',
          yLabel: 'msgs/s',
          logX: true,
        },
      ),
    );
    md.push('', `![throughput vs window](${file})`, '');
  }
  const sc = s['session-scale'];
  if (sc) {
    md.push(
      '## 6. Scale of sessions',
      '',
      `${sc.params.sessions} push sessions from ${Math.max(1, Math.ceil((sc.params.sessions + 1) / 8000))} generator processes; probe: ${sc.params.probeRate} msgs/s for ${sc.params.probeMs / 1000} s while they are held. Server RSS in MB: right after registering every number at once; before the sessions, ${sc.params.settleMs / 1000} s later (the registration burst's garbage returned); 2 s after opening them all; held, after the same ${sc.params.settleMs / 1000} s. Per session: (held − before) / sessions.`,
      '',
    );
    md.push(
      '| sessions held | open all (ms) | connect p50 / p99 (ms) | RSS registered → before → opened → held (MB) | RSS per session KB | probe 05→06 latency | probe 05→07 latency |',
      '|---|---|---|---|---|---|---|',
    );
    md.push(
      `| ${sc.opened}${sc.failed ? ` (${sc.failed} failed)` : ''} | ${sc.openMs} | ${sc.connect.p50} / ${sc.connect.p99} | ${sc.rssRegisteredMB} → ${sc.rssBeforeMB} → ${sc.rssOpenedMB} → ${sc.rssMB} | ${sc.rssPerSessionKB} | ${lat(sc.probes.latency0506)} | ${lat(sc.probes.latency0507)} |`,
      '',
    );
  }
  const hp = s.http;
  if (hp) {
    md.push(
      '## 7. HTTP',
      '',
      `autocannon (in the harness process) POSTs /v1/messages for ${hp.params.durationMs / 1000} s at each concurrency level (connections × pipelining = requests in flight), bodies cycling over ${hp.params.senders} senders × ${hp.params.recipients} recipients holding push sessions (a load generator reads and acknowledges the 06). Request latency (ms) is autocannon's; stored is the server's counter over the level; pushed counts the 06 read, waited for up to ${hp.params.drainMs / 1000} s after it; delivered = rows deleted after the 08. CPU and RSS are the server process's; autocannon's CPU (the harness process) shares the same 2 cores.`,
      '',
    );
    md.push(
      '| in flight | req/s | latency p50 / p90 / p99 / max | 201 | non-2xx | errors | stored | pushed | delivered (acked) | push drain ms | 06 latency (send → 06) | server CPU % | autocannon CPU % | RSS MB |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of hp.runs) {
      md.push(
        `| ${r.inFlight} (${r.connections} × ${r.pipelining}) | ${r.reqPerSec} | ${r.latency.p50} / ${r.latency.p90} / ${r.latency.p99} / ${r.latency.max} | ${r.created} | ${r.non2xx}${
          Object.keys(r.statusCodes).length
            ? ` (${Object.entries(r.statusCodes)
                .map(([k, v]) => `${k}: ${v}`)
                .join(', ')})`
            : ''
        } | ${r.errors} | ${r.stored} | ${r.pushed}${r.allPushed ? '' : ' (not all)'} | ${r.deliveredAcked} | ${r.drainMs} | ${lat(r.latencyPush)} | ${r.server.cpuPercent} | ${r.harnessCpuPercent} | ${r.server.rssMB} |`,
      );
    }
    md.push('');
  }
  if (s.seed) md.push(...seedSection(s.seed));
  if (s.cluster) md.push(...clusterSection(s.cluster));
  const path = join(dir, `${stem}.md`);
  writeFileSync(path, md.join('\n'));
  return path;
}
