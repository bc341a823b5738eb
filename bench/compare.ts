/**
 * node dist/bench/compare.js a.json b.json
 * Prints a Markdown table of the two runs' headline figures side by side.
 */
import { readFileSync } from 'node:fs';
import type { BenchResult } from './report.js';

const [a, b] = process.argv.slice(2);
if (!a || !b) {
  process.stderr.write('usage: node dist/bench/compare.js <a.json> <b.json>\n');
  process.exit(2);
}
const ra = JSON.parse(readFileSync(a, 'utf8')) as BenchResult;
const rb = JSON.parse(readFileSync(b, 'utf8')) as BenchResult;
const out: string[] = [];
out.push(`| | ${ra.name} | ${rb.name} | b/a |`, '|---|---|---|---|');
out.push(`| commit | \`${ra.commit.slice(0, 10)}\` | \`${rb.commit.slice(0, 10)}\` | |`);
out.push(
  `| machine | ${ra.machine.cpus} cpu, Node ${ra.node} | ${rb.machine.cpus} cpu, Node ${rb.node} | |`,
);
out.push(`| mode | ${ra.mode} | ${rb.mode} | |`);
const keys = [...new Set([...Object.keys(ra.headline), ...Object.keys(rb.headline)])];
for (const k of keys) {
  const x = ra.headline[k];
  const y = rb.headline[k];
  const ratio = x !== undefined && y !== undefined && x !== 0 ? (y / x).toFixed(2) : '';
  out.push(`| ${k} | ${x ?? '–'} | ${y ?? '–'} | ${ratio} |`);
}
out.push('', '| target | ' + ra.name + ' | ' + rb.name + ' |', '|---|---|---|');
const targets = [
  ...new Set([...ra.targets.map((t) => t.target), ...rb.targets.map((t) => t.target)]),
];
const cell = (r: BenchResult, target: string) => {
  const t = r.targets.find((x) => x.target === target);
  return t ? `${t.figure} (${t.met === null ? 'n/a' : t.met ? 'met' : 'missed'})` : '–';
};
for (const t of targets) out.push(`| ${t} | ${cell(ra, t)} | ${cell(rb, t)} |`);
process.stdout.write(out.join('\n') + '\n');
