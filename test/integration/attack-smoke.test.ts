import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript } from '../helpers/server-process.js';

// The built attack tool (npm test builds first), run as its users run it.
const ATTACK = fileURLToPath(new URL('../../dist/bench/attack.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'zapwire-attack-smoke-'));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[], timeoutMs: number) => runScript(ATTACK, args, { timeoutMs });

describe('attack tool (bench/attack.ts), one short attack', () => {
  it('prints the table and writes the JSON: the attacker, the server RSS, the normal client and the loss check', {
    timeout: 60_000,
  }, async () => {
    const out = join(dir, 'attack.json');
    const r = await run(['--only', 'wrong-token-04', '--seconds', '1', '--out', out], 55_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^\| attack \| what the attacker got \| server RSS peak\/end \|/);
    expect(r.stdout).toMatch(/\n\| wrong-token-04 \| .*09:401/);

    const result = JSON.parse(readFileSync(out, 'utf8'));
    const [row] = result.rows;
    expect(row.attack).toBe('wrong-token-04');
    expect(row.error).toBeUndefined();
    expect(row.report.counters['09:401']).toBeGreaterThan(0);
    expect(row.rss.peak).toBeGreaterThan(0);
    expect(row.rss.peak).toBeGreaterThanOrEqual(row.rss.before);
    // The normal client probed during the attack, and what got a 07 reached its recipient.
    expect(row.normal.ticks).toBeGreaterThan(0);
    expect(row.normal.acknowledged).toBeGreaterThan(0);
    expect(row.normal.lost).toBe(0);
    expect(row.normal.latency0507.p50).toBeGreaterThan(0);
  });

  it('refuses an attack it does not know', async () => {
    const r = await run(['--only', 'no-such-attack'], 15_000);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('unknown attack no-such-attack');
  });
});
