/**
 * The chat scenario's part of the report (bench/report.ts): its targets
 * (issue #10 §5) with zapwire's figure beside aedes's and mosquitto's from
 * the same run, the tables, the side-by-side ratios, and the charts.
 */
import type { ChatRun, ChatStep, ChatSystem, chat } from './chat.js';
import type { LatencySummary } from './harness.js';
import { lineChart } from './svg.js';

export type ChatResult = Awaited<ReturnType<typeof chat>>;

export interface ChatTarget {
  target: string;
  figure: string;
  met: boolean | null;
}

const TARGET_RATE = 10_000;
const LOW_RATE = 2_000;
/** Targets are judged only at the size they name. */
const TARGET_PAIRS = 1_000;

const lat = (l: LatencySummary) => `${l.p50} / ${l.p95} / ${l.p99} / ${l.max}`;
const us = (x: number | undefined) => (x === undefined ? '–' : `${x}`);
const ratio = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}×`;
const run = (c: ChatResult, system: ChatSystem) => c.runs.find((r) => r.system === system);
const at = (r: ChatRun | undefined, rate: number) => r?.rates.find((s) => s.rate === rate);
const allDelivered = (s: ChatStep) => s.received >= s.offered && s.errors === 0;
const delivered = (s: ChatStep) =>
  `${s.received}/${s.offered}${s.duplicates ? ` (+${s.duplicates} dup)` : ''}${s.errors ? `, ${s.errors} errors` : ''}`;

/** "aedes X, mosquitto Y" for a figure, from the same run. */
function peers(c: ChatResult, figure: (r: ChatRun) => string | undefined): string {
  const parts = (['aedes', 'mosquitto'] as const).map((p) => {
    const r = run(c, p);
    const f = r && figure(r);
    return f === undefined
      ? `${p} ${c.skipped.find((s) => s.system === p) ? 'skipped' : 'not measured'}`
      : `${p} ${f}`;
  });
  return ` (${parts.join(', ')})`;
}

export function chatTargets(
  c: ChatResult | undefined,
  headline: Record<string, number>,
): ChatTarget[] {
  const prefix = `chat, ${TARGET_PAIRS.toLocaleString('en')} pairs`;
  if (!c)
    return [
      { target: `${prefix}: every target of issue #10 §5`, figure: 'not measured', met: null },
    ];
  for (const r of c.runs) {
    for (const s of r.rates) {
      headline[`chat.${r.system}@${s.rate}.p50ms`] = s.latency0506.p50;
      headline[`chat.${r.system}@${s.rate}.p99ms`] = s.latency0506.p99;
      if (s.cpuUsPerMsg !== undefined)
        headline[`chat.${r.system}@${s.rate}.cpuUsPerMsg`] = s.cpuUsPerMsg;
      if (s.cpu) headline[`chat.${r.system}@${s.rate}.cpuPercent`] = s.cpu.cpuPercent;
    }
    headline[`chat.${r.system}.saturation.msgsPerSec`] = r.best;
  }
  const judged = c.params.pairs >= TARGET_PAIRS;
  const z = run(c, 'zapwire');
  const z10 = at(z, TARGET_RATE);
  const z2 = at(z, LOW_RATE);
  const a10 = at(run(c, 'aedes'), TARGET_RATE);
  const out: ChatTarget[] = [];
  const p50 = (r: ChatRun) => at(r, TARGET_RATE) && `${at(r, TARGET_RATE)!.latency0506.p50} ms`;
  const p99 = (r: ChatRun) => at(r, TARGET_RATE) && `${at(r, TARGET_RATE)!.latency0506.p99} ms`;
  const cpuMsg = (r: ChatRun) =>
    at(r, TARGET_RATE)?.cpuUsPerMsg !== undefined
      ? `${at(r, TARGET_RATE)!.cpuUsPerMsg} µs`
      : undefined;
  const notMeasured = (target: string) => out.push({ target, figure: 'not measured', met: null });

  const t1 = `${prefix}, 10,000 msgs/s: every message delivered`;
  if (z10)
    out.push({
      target: t1,
      figure: `${delivered(z10)} delivered${peers(c, (r) => at(r, TARGET_RATE) && delivered(at(r, TARGET_RATE)!))}`,
      met: judged ? allDelivered(z10) : null,
    });
  else notMeasured(t1);
  const t2 = `${prefix}, 10,000 msgs/s: 05→06 p50 <= 1 ms`;
  if (z10)
    out.push({
      target: t2,
      figure: `${z10.latency0506.p50} ms${peers(c, p50)}`,
      met: judged ? z10.latency0506.p50 <= 1 : null,
    });
  else notMeasured(t2);
  const t3 = `${prefix}, 10,000 msgs/s: 05→06 p99 <= 5 ms`;
  if (z10)
    out.push({
      target: t3,
      figure: `${z10.latency0506.p99} ms${peers(c, p99)}`,
      met: judged ? z10.latency0506.p99 <= 5 : null,
    });
  else notMeasured(t3);
  const t4 = `${prefix}, 10,000 msgs/s: server CPU per message <= aedes's in the same run`;
  if (z10?.cpuUsPerMsg !== undefined)
    out.push({
      target: t4,
      figure: `${z10.cpuUsPerMsg} µs per delivered message${peers(c, cpuMsg)}`,
      met: judged && a10?.cpuUsPerMsg !== undefined ? z10.cpuUsPerMsg <= a10.cpuUsPerMsg : null,
    });
  else notMeasured(t4);
  const t5 = `${prefix}, 2,000 msgs/s: server CPU <= 25% of a core`;
  const cpu2 = (r: ChatRun) => at(r, LOW_RATE)?.cpu && `${at(r, LOW_RATE)!.cpu!.cpuPercent}%`;
  if (z2?.cpu)
    out.push({
      target: t5,
      figure: `${z2.cpu.cpuPercent}% of a core (${z2.cpuUsPerMsg} µs per message)${peers(c, cpu2)}`,
      met: judged ? z2.cpu.cpuPercent <= 25 : null,
    });
  else notMeasured(t5);
  const t6 = `${prefix}: saturation >= 50,000 durable msgs/s`;
  const sat = (r: ChatRun) => (r.saturation.length ? `${r.best} msgs/s` : undefined);
  if (z?.saturation.length) {
    const best = z.saturation.reduce((a, s) => (s.deliveredPerSec > a.deliveredPerSec ? s : a));
    out.push({
      target: t6,
      figure: `${z.best} msgs/s at ${best.window} in flight per sender (p99 ${best.latency0506.p99} ms)${peers(c, sat)}; the peers do not write to disk`,
      met: judged ? z.best >= 50_000 : null,
    });
  } else notMeasured(t6);
  return out;
}

const SYSTEMS: ChatSystem[] = ['zapwire', 'zapwire-ws', 'aedes', 'mosquitto'];

function threads(s: ChatStep): string {
  return s.cpu
    ? s.cpu.threads
        .slice(0, 5)
        .map((t) => `${t.thread} ${t.cpuPercent}`)
        .join(', ')
    : '–';
}

/** The chat section's Markdown; `svg` writes a chart file and returns its name. */
export function chatSection(
  c: ChatResult,
  svg: (suffix: string, content: string) => string,
): string[] {
  const p = c.params;
  const md: string[] = [];
  md.push('## 1. Chat: many users, each sending a little (the headline)', '');
  md.push(
    `${p.pairs.toLocaleString('en')} pairs of users (${(2 * p.pairs).toLocaleString('en')} sessions), split over ${p.generators} load generator processes. Each sender is a connection and a user of its own and sends only to its receiver; each receiver holds a session of its own (zapwire: a push session, acknowledging with a cumulative 08 per read; MQTT: a subscriber to a topic of its own, QoS 1, PUBACK per message). ` +
      `Open loop at each total rate for ${p.durationMs / 1000} s, split evenly over the senders and spread evenly in time: the run's messages are numbered, message j is due at start + j / rate, and every 1 ms tick each generator writes the messages that have come due, each on its sender's connection. ` +
      `**Latency is measured from the intended send time** (coordinated omission included: a server that falls behind shows as latency, not as a slower offered rate); "send lag" is how late the generators actually wrote, to show when they were the ones late. ` +
      `Then a closed-loop sweep with the same pairs (${p.windows.join(', ')} messages unanswered per sender, ${p.stepMs / 1000} s each; latency from the write). ` +
      `zapwire frames are 256 bytes; the MQTT PUBLISH payload is 256 bytes (the peers driven by a hand-written MQTT 3.1.1 client, bench/mqtt-codec.ts, as cheap per message as the zapwire driver). ` +
      `CPU: the broker process's utime + stime from /proc/<pid>/stat, % of one core over the load window; per thread from /proc/<pid>/task/<tid>/schedstat (busiest first; "main" is the process's main thread; for zapwire js1, js2, … are its Workers in the order the server created them (on the code measured here: js1 the broker, then the session hosts); other threads under 2% summed as "others"); **CPU µs per message** = broker CPU from the start of the load to the last delivery / messages delivered. The generators' CPU is read the same way.`,
    '',
  );
  md.push(
    "**Durability differs: zapwire commits every message to its SQLite pending table before it answers 07 (and deletes it after the 08); aedes (its default in-memory persistence) and mosquitto (persistence off) keep messages in memory only and commit nothing to disk.** The peers' figures are what a broker that does not write costs, not what zapwire could cost with the same guarantee.",
    '',
  );
  for (const s of c.skipped) md.push(`> ${s.system} skipped: ${s.reason}`, '');
  for (const f of c.failed) md.push(`> ${f.system} failed: ${f.error}`, '');
  md.push(
    `Versions: ${c.runs.map((r) => `${r.system} ${r.version}${r.durable ? ' (durable)' : ' (in memory)'}`).join(', ')}. The systems run one after the other; the machine's 1-minute load average at the start and end of each (above the core count, other work shared the cores and latency measures the queue for a core more than the broker): ${c.runs.map((r) => `${r.system} ${r.loadAvg[0]} → ${r.loadAvg[1]}`).join(', ')}.`,
    '',
  );

  md.push('### Open loop', '', 'Latency in ms (p50 / p95 / p99 / max). CPU in % of one core.', '');
  md.push(
    '| system | offered msgs/s | delivered / offered | 05→06 latency | 05→07 latency | CPU % | CPU µs/msg | busiest threads (% of a core) | SQL/s | generators CPU % (µs/msg) | send lag p99 / max |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of c.runs)
    for (const s of r.rates)
      md.push(
        `| ${r.system} | ${s.rate} | ${delivered(s)} | ${lat(s.latency0506)} | ${lat(s.latency0507)} | ${s.cpu?.cpuPercent ?? '–'} | ${us(s.cpuUsPerMsg)} | ${threads(s)} | ${s.sqlPerSec ?? '–'} | ${s.generators ? `${s.generators.cpuPercent} (${s.generators.cpuUsPerMsg})` : '–'} | ${s.sendLag.p99} / ${s.sendLag.max} |`,
      );
  md.push('');

  const z = run(c, 'zapwire');
  const present = SYSTEMS.filter((s) => run(c, s));
  const peerNames = present.filter((s) => s !== 'zapwire');
  if (z && peerNames.length) {
    md.push(
      '### zapwire beside the peers (same run)',
      '',
      'Ratios are zapwire / peer: above 1× zapwire costs more (or waits longer) than the peer.',
      '',
    );
    const head = [
      'offered msgs/s',
      ...present.map((s) => `${s} µs/msg`),
      ...peerNames.map((s) => `µs/msg ÷ ${s}`),
      ...present.map((s) => `${s} p50 / p99 ms`),
      ...peerNames.map((s) => `p50 ÷ ${s}`),
      ...peerNames.map((s) => `p99 ÷ ${s}`),
    ];
    md.push(`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`);
    for (const rate of p.rates) {
      const zs = at(z, rate);
      const row = [String(rate)];
      for (const s of present) row.push(us(at(run(c, s), rate)?.cpuUsPerMsg));
      for (const s of peerNames) row.push(ratio(zs?.cpuUsPerMsg, at(run(c, s), rate)?.cpuUsPerMsg));
      for (const s of present) {
        const x = at(run(c, s), rate);
        row.push(x ? `${x.latency0506.p50} / ${x.latency0506.p99}` : '–');
      }
      for (const s of peerNames)
        row.push(ratio(zs?.latency0506.p50, at(run(c, s), rate)?.latency0506.p50));
      for (const s of peerNames)
        row.push(ratio(zs?.latency0506.p99, at(run(c, s), rate)?.latency0506.p99));
      md.push(`| ${row.join(' | ')} |`);
    }
    const best = [
      'closed loop, best msgs/s',
      ...present.map((s) => String(run(c, s)!.best)),
      ...peerNames.map((s) => ratio(z.best, run(c, s)!.best)),
    ];
    md.push(
      '',
      `| ${['', ...present, ...peerNames.map((s) => `÷ ${s}`)].join(' | ')} |`,
      `|${['', ...present, ...peerNames].map(() => '---').join('|')}|`,
      `| ${best.join(' | ')} |`,
      '',
    );
  }

  const cpuChart = svg(
    'chat-cpu-per-message',
    lineChart(
      c.runs.map((r) => ({
        name: r.system,
        points: r.rates
          .filter((s) => s.cpuUsPerMsg !== undefined)
          .map((s) => [s.rate!, s.cpuUsPerMsg!] as [number, number]),
      })),
      {
        title: 'Chat: broker CPU per delivered message',
        xLabel: 'offered msgs/s',
        yLabel: 'CPU µs per message',
      },
    ),
  );
  const latChart = svg(
    'chat-latency',
    lineChart(
      c.runs.flatMap((r) => [
        {
          name: `${r.system} p50`,
          points: r.rates.map((s) => [s.rate!, s.latency0506.p50] as [number, number]),
        },
        {
          name: `${r.system} p99`,
          points: r.rates.map((s) => [s.rate!, s.latency0506.p99] as [number, number]),
        },
      ]),
      {
        title: 'Chat: latency 05→06 (from the intended send time)',
        xLabel: 'offered msgs/s',
        yLabel: 'ms (log scale)',
        logY: true,
      },
    ),
  );
  md.push(`![chat CPU per message](${cpuChart})`, '', `![chat latency](${latChart})`, '');

  md.push(
    '### Saturation (closed loop, the same pairs)',
    '',
    'Delivered msgs/s = new messages read by the receivers per second of the step; latency from the write (ms).',
    '',
  );
  md.push(
    '| system | in flight per sender | in flight | delivered msgs/s | 05→06 latency | 05→07 latency | CPU % | CPU µs/msg | busiest threads | SQL/s | generators CPU % |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const r of c.runs)
    for (const s of r.saturation)
      md.push(
        `| ${r.system} | ${s.window} | ${s.inFlight} | ${s.deliveredPerSec} | ${lat(s.latency0506)} | ${lat(s.latency0507)} | ${s.cpu?.cpuPercent ?? '–'} | ${us(s.cpuUsPerMsg)} | ${threads(s)} | ${s.sqlPerSec ?? '–'} | ${s.generators?.cpuPercent ?? '–'} |`,
      );
  const satChart = svg(
    'chat-saturation',
    lineChart(
      c.runs.map((r) => ({
        name: r.system,
        points: r.saturation.map((s) => [s.window!, s.deliveredPerSec] as [number, number]),
      })),
      {
        title: 'Chat: delivered msgs/s vs messages in flight per sender',
        xLabel: 'in flight per sender (log scale)',
        yLabel: 'msgs/s',
        logX: true,
      },
    ),
  );
  md.push('', `![chat saturation](${satChart})`, '');
  return md;
}
