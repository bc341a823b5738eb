import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { clusterOptionKeys, NO_REDIS, NOT_INSTALLED } from '../../bench/cluster.js';
import { engineMissing } from '../helpers/engines.js';
import { runScript } from '../helpers/server-process.js';

// The built harness (npm test builds first), run as `npm run bench` runs it.
const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'zapwire-bench-cluster-smoke-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Step {
  offered: number;
  sent: number;
  acked: number;
  received: number;
  errors: number;
  deliveredPerSec: number;
  latency0506: { count: number; p50: number; p99: number };
  processes: { process: string; cpuUsPerMsg?: number }[];
  cpuUsPerMsg?: number;
  bound: { by: string; busiest: string; machinePercent?: number };
}

interface Run {
  config: string;
  nodes: number;
  sessions: number;
  rates: Step[];
  saturation: Step[];
  best: number;
}

const installed = engineMissing('postgres') === undefined && engineMissing('redis') === undefined;
/** What each configuration is expected to do here: run with these processes, or be skipped for this reason. */
const expected: Record<string, string[] | string> = {
  sqlite: ['node'],
  postgres: engineMissing('postgres') === undefined ? ['node', 'PostgreSQL'] : NOT_INSTALLED,
  'postgres+redis': !installed
    ? NOT_INSTALLED
    : clusterOptionKeys() === undefined
      ? NO_REDIS
      : ['node A', 'node B', 'PostgreSQL', 'Redis'],
};

describe('cluster benchmark scenario (tiny parameters): SQLite, PostgreSQL, two nodes with Redis in one run', () => {
  it('delivers every open-loop message on each configuration it can run, says why it skips the others, and reports them side by side', {
    timeout: 90_000,
  }, async () => {
    const out = join(dir, 'cluster.json');
    const r = await runScript(RUN, ['--tiny', '--only', 'cluster', '--out', out], {
      timeoutMs: 85_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(readFileSync(out, 'utf8')).scenarios.cluster;
    expect(c.failed).toEqual([]);
    const ran = Object.entries(expected).filter(([, e]) => Array.isArray(e));
    expect(c.runs.map((x: Run) => x.config)).toEqual(ran.map(([config]) => config));
    expect(c.skipped).toEqual(
      Object.entries(expected)
        .filter(([, e]) => typeof e === 'string')
        .map(([config, reason]) => ({ config, reason })),
    );
    for (const x of c.runs as Run[]) {
      expect(x.sessions, x.config).toBe(2 * c.params.pairs);
      expect(x.nodes).toBe(x.config === 'postgres+redis' ? 2 : 1);
      for (const s of x.rates) {
        // Every message due was written, stored (07) and pushed (06) once, across nodes in the cluster.
        expect(s.sent, x.config).toBe(s.offered);
        expect(s.acked, x.config).toBe(s.sent);
        expect(s.received, x.config).toBe(s.sent);
        expect(s.errors, x.config).toBe(0);
        expect(s.latency0506.count).toBe(s.received);
      }
      expect(x.saturation.map((s: Step) => s.deliveredPerSec).length).toBe(c.params.windows.length);
      expect(x.best, x.config).toBeGreaterThan(0);
      for (const s of [...x.rates, ...x.saturation]) {
        expect(s.processes.map((p) => p.process)).toEqual(expected[x.config]);
        if (process.platform === 'linux') {
          for (const p of s.processes)
            expect(p.cpuUsPerMsg, `${x.config} ${p.process}`).toBeGreaterThan(0);
          expect(s.cpuUsPerMsg).toBeCloseTo(
            s.processes.reduce((a, p) => a + p.cpuUsPerMsg!, 0),
            -1,
          );
          expect(['thread', 'cores', 'shared', 'waits']).toContain(s.bound.by);
          // The whole machine's CPU (/proc/stat) counts these processes too.
          expect(s.bound.machinePercent).toBeGreaterThan(0);
        }
      }
    }
    const md = readFileSync(join(dir, 'cluster.md'), 'utf8');
    expect(md).toContain('## 9. Cluster');
    expect(md).toContain('### What bounds each configuration');
    for (const s of c.skipped) expect(md).toContain(s.reason);
  });
});
