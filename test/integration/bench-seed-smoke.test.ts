import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript } from '../helpers/server-process.js';

// The built harness (npm test builds first), run as `npm run bench` runs it.
const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'zapwire-bench-seed-smoke-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  legacyPaceMs: number;
  sends: {
    count: number;
    errors: number;
    perSec: number;
    stored: number;
    verified: boolean;
    latency: { count: number; p50: number; p99: number };
  };
  polls: {
    count: number;
    rows: number;
    malformed: number;
    deleted: number;
    verified: boolean;
    drainedPerSec: number;
    paceBoundPerSec?: number;
    latency: { count: number };
  };
}

describe('seed workload benchmark scenario (tiny parameters): the legacy listener driven like the original client', () => {
  it('stores every send counted, drains the rows by polling, and reports them beside the original', {
    timeout: 40_000,
  }, async () => {
    const out = join(dir, 'seed.json');
    const r = await runScript(RUN, ['--tiny', '--only', 'seed', '--out', out, '--name', 'seed'], {
      timeoutMs: 35_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    const s = result.scenarios.seed;
    expect(s.runs.map((x: Run) => x.legacyPaceMs)).toEqual(s.params.paces);

    for (const x of s.runs as Run[]) {
      // Sends: every one counted is a row the server stored, and nothing else was.
      expect(x.sends.count, `pace ${x.legacyPaceMs}`).toBeGreaterThan(0);
      expect(x.sends.errors).toBe(0);
      expect(x.sends.stored).toBe(x.sends.count);
      expect(x.sends.verified).toBe(true);
      expect(x.sends.perSec).toBeGreaterThan(0);
      expect(x.sends.latency.count).toBe(x.sends.count);
      expect(x.sends.latency.p99).toBeGreaterThanOrEqual(x.sends.latency.p50);
      // Polls: the rows read are the rows the server deleted once written, all of this workload's messages.
      expect(x.polls.rows, `pace ${x.legacyPaceMs}`).toBeGreaterThan(0);
      expect(x.polls.rows).toBeLessThanOrEqual(x.sends.stored);
      expect(x.polls.malformed).toBe(0);
      expect(x.polls.deleted).toBe(x.polls.rows);
      expect(x.polls.verified).toBe(true);
      expect(x.polls.drainedPerSec).toBeGreaterThan(0);
      expect(x.polls.latency.count).toBe(x.polls.count);
      if (x.legacyPaceMs > 0)
        expect(x.polls.paceBoundPerSec).toBe(
          Math.round((s.params.clients * 1000) / x.legacyPaceMs),
        );
      else expect(x.polls.paceBoundPerSec).toBeUndefined();
    }
    const target = result.targets.filter((t: { scenario: string }) => t.scenario === 'seed');
    expect(target.length).toBe(1);
    expect(target[0].met).toBeNull(); // tiny parameters are not the shape the target names
    for (const x of s.runs as Run[])
      expect(result.headline[`seed.pace${x.legacyPaceMs}.sendsPerSec`]).toBe(x.sends.perSec);

    const md = readFileSync(join(dir, 'seed.md'), 'utf8');
    expect(md).toContain("## 8. The seed's workload");
    expect(md).toContain('| original (Python), issue #10 | – | 574 |');
    expect(md).toContain("sends/s >= 20× the original's 574 (11,480)");
  });
});
