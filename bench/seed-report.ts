/**
 * The seed workload's part of the report (bench/report.ts): zapwire's legacy
 * listener beside the original Python server's figure, the pacing's cost, and
 * its target (issue #10 §4).
 */
import type { LatencySummary } from './harness.js';
import type { ThreadShare } from './proc-cpu.js';
import { ORIGINAL_SENDS_PER_SEC, type SeedRun, type seed, TARGET_RATIO } from './seed.js';

export type SeedResult = Awaited<ReturnType<typeof seed>>;

export interface SeedTarget {
  target: string;
  figure: string;
  met: boolean | null;
}

/** The original's shape: judged only with its 16 clients and a run of at least 5 s. */
const TARGET_CLIENTS = 16;
const TARGET_DURATION_MS = 5_000;
const DEFAULT_PACE_MS = 30;

const lat = (l: LatencySummary) => `${l.p50} / ${l.p95} / ${l.p99} / ${l.max}`;
const times = (x: number) => `${(x / ORIGINAL_SENDS_PER_SEC).toFixed(1)}×`;
const threads = (t: ThreadShare[] | undefined) =>
  t
    ? t
        .slice(0, 4)
        .map((x) => `${x.thread} ${x.cpuPercent}`)
        .join(', ')
    : '–';
const yesNo = (x: boolean) => (x ? 'yes' : '**no**');

/** The run with the server's default pace, else the first. */
function defaultRun(s: SeedResult): SeedRun | undefined {
  return s.runs.find((r) => r.legacyPaceMs === DEFAULT_PACE_MS) ?? s.runs[0];
}

export function seedTargets(
  s: SeedResult | undefined,
  headline: Record<string, number>,
): SeedTarget[] {
  const goal = ORIGINAL_SENDS_PER_SEC * TARGET_RATIO;
  const target = `legacy listener, the seed's workload (${TARGET_CLIENTS} clients, a connection per 05): sends/s >= ${TARGET_RATIO}× the original's ${ORIGINAL_SENDS_PER_SEC} (${goal.toLocaleString('en')})`;
  const r = s && defaultRun(s);
  if (!s || !r) return [{ target, figure: 'not measured', met: null }];
  for (const x of s.runs) {
    headline[`seed.pace${x.legacyPaceMs}.sendsPerSec`] = x.sends.perSec;
    headline[`seed.pace${x.legacyPaceMs}.sendP50ms`] = x.sends.latency.p50;
    headline[`seed.pace${x.legacyPaceMs}.sendP99ms`] = x.sends.latency.p99;
    headline[`seed.pace${x.legacyPaceMs}.drainedPerSec`] = x.polls.drainedPerSec;
  }
  const judged = s.params.clients === TARGET_CLIENTS && s.params.durationMs >= TARGET_DURATION_MS;
  const others = s.runs
    .filter((x) => x !== r)
    .map((x) => `${x.sends.perSec} with pace ${x.legacyPaceMs} ms`);
  return [
    {
      target,
      figure: `${r.sends.perSec} sends/s = ${times(r.sends.perSec)} the original (p50 ${r.sends.latency.p50} ms, p99 ${r.sends.latency.p99} ms connect → close; ${r.sends.stored}/${r.sends.count} stored${r.sends.verified ? '' : ', **not all stored**'}${others.length ? `; ${others.join(', ')}` : ''})`,
      met: judged ? r.sends.verified && r.sends.perSec >= goal : null,
    },
  ];
}

/** The seed section's Markdown. */
export function seedSection(s: SeedResult): string[] {
  const p = s.params;
  const md: string[] = [];
  md.push("## 8. The seed's workload: the legacy listener (issue #10 §4)", '');
  md.push(
    `The legacy listener (docs/protocol.md §Legacy listener) driven the way the original client drove the original Python server: ${p.clients} client loops side by side in a process of their own, each request a TCP connection of its own (connect, write the request, read until the server closes), each loop starting its next request when the last has closed. ` +
      `${p.users.toLocaleString('en')} legacy users registered with legacy \`01\`; the first half send, each to one user of the second half. ` +
      `**Sends**: for ${p.durationMs / 1000} s each loop connects, writes one \`05\` (32 bytes of text), shuts down its writing side as the original client did, and waits for the close (the listener closes once the row is committed); latency is connect → close. The server's stored-rows counter over the phase must equal the sends counted ("stored"). ` +
      `**Polls**: then each loop polls a recipient (\`03\` + number), reads every \`06\` until the close, and polls it again later until it answers a bare \`06\`, for at most ${p.pollMs / 1000} s; the server's deleted-rows counter must equal the rows read. ` +
      `A fresh server per \`--legacy-pace-ms\`; its options are the benchmark's (the quotas lifted, as for every scenario: the workload stays within the defaults anyway) with the legacy listener on (\`--legacy-port\`), and \`--legacy-pace-ms\` as the table says (30 ms is the default).`,
    '',
  );
  md.push(
    `**The pacing's cost**: the listener writes each pending row as its own \`06\` and waits \`--legacy-pace-ms\` before the next (the original client takes each read for one frame, so two rows in one read would be garbled), so a connection drains at most 1000 / pace rows/s, whatever the server could do: ${p.clients} connections at ${DEFAULT_PACE_MS} ms bound the drain at ${p.clients} × 1000 / ${DEFAULT_PACE_MS} ≈ ${Math.round((p.clients * 1000) / DEFAULT_PACE_MS)} rows/s. The unpaced run (pace 0) shows what the listener drains without it; its rows arrive several to a read, which this client splits because every text has the same length, and the original client could not.`,
    '',
  );
  md.push(
    `The original Python server's figure is the one stated in issue #10 for the 2-vCPU reference machine with the same ${TARGET_CLIENTS}-client shape (${ORIGINAL_SENDS_PER_SEC} sends/s); it is not re-measured by this run. The original's polls drained/s is not stated there.`,
    '',
  );
  md.push(
    '| server | legacy pace ms | sends/s | ÷ original | send latency p50 / p95 / p99 / max (ms) | stored / sends | server CPU % (sends) | busiest server threads (sends) | client CPU % (sends) | polls drained rows/s | pace bound rows/s | rows read / deleted | polls (bare `06`) | poll latency p50 / p99 (ms) | all drained | load avg |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  md.push(
    `| original (Python), issue #10 | – | ${ORIGINAL_SENDS_PER_SEC} | 1× | – | – | – | – | – | – | – | – | – | – | – | – |`,
  );
  for (const r of s.runs) {
    const x = r.sends;
    const y = r.polls;
    md.push(
      `| zapwire legacy listener | ${r.legacyPaceMs} | ${x.perSec} | ${times(x.perSec)} | ${lat(x.latency)} | ${x.stored} / ${x.count}${x.verified ? '' : ' **(differ)**'}${x.errors ? `, ${x.errors} errors` : ''} | ${x.server.cpuPercent} | ${threads(x.serverThreads)} | ${x.clientCpuPercent ?? '–'} | ${y.drainedPerSec} | ${y.paceBoundPerSec ?? 'none'} | ${y.rows} / ${y.deleted}${y.verified ? '' : ' **(differ)**'}${y.malformed ? `, ${y.malformed} malformed` : ''}${y.errors ? `, ${y.errors} errors` : ''} | ${y.count} (${y.empty}) | ${y.latency.p50} / ${y.latency.p99} | ${yesNo(y.drainedAll)}${y.drainedAll ? '' : ` (${x.stored - y.rows} left after ${p.pollMs / 1000} s)`} | ${r.loadAvg[0]} → ${r.loadAvg[1]} |`,
    );
  }
  md.push(
    '',
    `Target: sends/s >= ${TARGET_RATIO}× the original's, i.e. >= ${(ORIGINAL_SENDS_PER_SEC * TARGET_RATIO).toLocaleString('en')} sends/s, judged on the run with the default pace (see §Targets). CPU in % of one core (threads: "main" is the server's main thread, which runs the legacy listener; js1 the broker, which runs SQL; js2 … the session hosts); the client process shares the machine's cores with the server.`,
    '',
  );
  return md;
}
