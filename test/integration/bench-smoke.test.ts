import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript } from '../helpers/server-process.js';

// The built harness (npm test builds first), run as `npm run bench` runs it.
const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));
const COMPARE = fileURLToPath(new URL('../../dist/bench/compare.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'zapwire-bench-smoke-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (file: string, args: string[], timeoutMs: number) =>
  runScript(file, args, { timeoutMs });

describe('benchmark harness (tiny parameters)', () => {
  it('writes the result JSON and a Markdown report with charts', { timeout: 40_000 }, async () => {
    const out = join(dir, 'smoke.json');
    const r = await run(
      RUN,
      ['--tiny', '--only', 'push-vs-poll,saturation,http', '--out', out, '--name', 'smoke'],
      35_000,
    );
    expect(r.code, r.stderr).toBe(0);

    const result = JSON.parse(readFileSync(out, 'utf8'));
    expect(result.mode).toBe('tiny');
    expect(result.node).toBe(process.version);
    expect(result.machine.cpus).toBeGreaterThan(0);
    expect(typeof result.commit).toBe('string');
    expect(result.parameters.pushVsPoll.recipients).toBe(4);

    const pvp = result.scenarios['push-vs-poll'];
    // The models at the scenario's rate, then push at the other rates of the sweep.
    expect(pvp.runs.map((x: { mode: string; rate: number }) => `${x.mode}@${x.rate}`)).toEqual([
      'push@200',
      'poll-100ms@200',
      'push@100',
    ]);
    for (const x of pvp.runs) {
      expect(x.received).toBeGreaterThan(0);
      expect(x.received).toBe(x.stored);
      expect(x.latency0506.count).toBe(x.received);
      expect(x.latency0506.p50).toBeGreaterThan(0);
      expect(x.latency0506.p99).toBeGreaterThanOrEqual(x.latency0506.p50);
      expect(x.server.sqlPerSec).toBeGreaterThan(0);
    }
    // Polling every 100 ms is slower than push, by construction.
    expect(pvp.runs[1].latency0506.p50).toBeGreaterThan(pvp.runs[0].latency0506.p50);

    const sat = result.scenarios.saturation;
    expect(sat.runs[0].steps.length).toBeGreaterThan(0);
    expect(sat.runs[0].best).toBeGreaterThan(0);
    expect(result.targets.length).toBeGreaterThan(5);

    const http = result.scenarios.http.runs[0];
    expect(http.created).toBeGreaterThan(0);
    expect(http.non2xx).toBe(0);
    expect(http.stored).toBeGreaterThanOrEqual(http.created);
    expect(http.allPushed).toBe(true);
    expect(http.pushed).toBeGreaterThanOrEqual(http.created);
    expect(http.latency.p99).toBeGreaterThanOrEqual(http.latency.p50);
    expect(http.harnessCpuPercent).toBeGreaterThan(0);

    const md = readFileSync(join(dir, 'smoke.md'), 'utf8');
    expect(md).toContain('## Targets');
    expect(md).toContain('## 7. HTTP');
    expect(md).toContain('![latency CDF](smoke-latency-cdf.svg)');
    for (const svg of [
      'smoke-latency-cdf.svg',
      'smoke-throughput-window.svg',
      'smoke-push-latency-rate.svg',
    ]) {
      expect(existsSync(join(dir, svg))).toBe(true);
      expect(readFileSync(join(dir, svg), 'utf8')).toMatch(
        /^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/,
      );
    }

    const cmp = await run(COMPARE, [out, out], 5_000);
    expect(cmp.code).toBe(0);
    expect(cmp.stdout).toContain('| push-vs-poll.push.p50ms |');
  });
});
