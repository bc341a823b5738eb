/**
 * node dist/bench/profile-summary.js <dir> [--top n]
 *
 * Summarises the .cpuprofile files `npm run bench -- --cpu-prof <dir>` wrote
 * (one per thread of each server process: main, broker, session hosts): for
 * each, the time the thread was busy and the functions with the most self
 * time. It is how README §Benchmarks reads where the server's CPU goes.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';

/** The parts of V8's .cpuprofile format used here. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

const opts = new Command('profile-summary')
  .argument('<dir>', 'folder of .cpuprofile files')
  .option(
    '--top <n>',
    'functions listed per thread',
    (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
      return n;
    },
    12,
  )
  .parse();
const dir = opts.args[0]!;
const top = opts.opts<{ top: number }>().top;

for (const file of readdirSync(dir)
  .filter((f) => f.endsWith('.cpuprofile'))
  .sort()) {
  const profile = JSON.parse(readFileSync(join(dir, file), 'utf8')) as CpuProfile;
  const frames = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  // Self time per node: each sample's delta belongs to the node it landed in.
  const selfUs = new Map<string, number>();
  let totalUs = 0;
  let idleUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const frame = frames.get(id);
    if (!frame) return;
    totalUs += dt;
    if (frame.functionName === '(idle)') {
      idleUs += dt;
      return;
    }
    const where = frame.url
      ? ` ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`
      : '';
    const key = `${frame.functionName || '(anonymous)'}${where}`;
    selfUs.set(key, (selfUs.get(key) ?? 0) + dt);
  });
  const busyUs = totalUs - idleUs;
  console.log(
    `== ${file}: busy ${(busyUs / 1e6).toFixed(2)} s of ${(totalUs / 1e6).toFixed(2)} s (${((busyUs / Math.max(1, totalUs)) * 100).toFixed(0)}%)`,
  );
  for (const [key, us] of [...selfUs].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    console.log(
      `  ${(us / 1e3).toFixed(0).padStart(7)} ms  ${((us / Math.max(1, busyUs)) * 100).toFixed(1).padStart(5)}%  ${key}`,
    );
  }
}
