import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runScript } from '../helpers/server-process.js';

// The built harness (npm test builds first), run as `npm run bench` runs it.
const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'zapwire-bench-chat-smoke-'));
const mosquittoOnPath = (process.env.PATH ?? '')
  .split(delimiter)
  .some((d) => d && existsSync(join(d, 'mosquitto')));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

const run = (args: string[], timeoutMs: number) => runScript(RUN, args, { timeoutMs });

interface Step {
  rate?: number;
  window?: number;
  offered: number;
  sent: number;
  acked: number;
  received: number;
  errors: number;
  deliveredPerSec: number;
  latency0506: { count: number; p50: number; p99: number };
  latency0507: { count: number; p50: number };
  cpu?: { cpuPercent: number; threads: { thread: string }[] };
  cpuUsPerMsg?: number;
  sqlPerSec?: number;
  generators?: { cpuPercent: number };
}

describe('chat benchmark scenario (tiny parameters): zapwire and the MQTT peers driven alike', () => {
  it('delivers every open-loop message on zapwire, aedes and (when installed) mosquitto, and reports them side by side', {
    timeout: 60_000,
  }, async () => {
    const out = join(dir, 'chat.json');
    const r = await run(['--tiny', '--only', 'chat', '--out', out, '--name', 'chat'], 55_000);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(readFileSync(out, 'utf8'));
    const c = result.scenarios.chat;
    expect(c.failed).toEqual([]);
    const systems = c.runs.map((x: { system: string }) => x.system);
    expect(systems).toEqual(
      mosquittoOnPath ? ['zapwire', 'aedes', 'mosquitto'] : ['zapwire', 'aedes'],
    );
    if (!mosquittoOnPath)
      expect(c.skipped.map((s: { system: string }) => s.system)).toEqual(['mosquitto']);

    for (const x of c.runs as {
      system: string;
      durable: boolean;
      sessions: number;
      rates: Step[];
      saturation: Step[];
      best: number;
    }[]) {
      expect(x.durable, x.system).toBe(x.system === 'zapwire');
      expect(x.sessions, x.system).toBe(2 * c.params.pairs);
      expect(x.rates.map((s) => s.rate)).toEqual(c.params.rates);
      for (const s of x.rates) {
        // Open loop: every message due was written, answered and delivered once.
        expect(s.offered).toBe((c.params.rates[0] * c.params.durationMs) / 1000);
        expect(s.sent, x.system).toBe(s.offered);
        expect(s.acked, x.system).toBe(s.sent);
        expect(s.received, x.system).toBe(s.sent);
        expect(s.errors).toBe(0);
        expect(s.latency0506.count).toBe(s.received);
        expect(s.latency0507.count).toBe(s.acked);
        expect(s.latency0506.p99).toBeGreaterThanOrEqual(s.latency0506.p50);
      }
      expect(x.saturation.map((s) => s.window)).toEqual(c.params.windows);
      expect(x.best, x.system).toBeGreaterThan(0);
      if (process.platform === 'linux') {
        for (const s of [...x.rates, ...x.saturation]) {
          expect(s.cpuUsPerMsg, x.system).toBeGreaterThan(0);
          expect(s.cpu!.threads.map((t) => t.thread)).toContain('main');
          expect(s.generators!.cpuPercent).toBeGreaterThan(0);
        }
      }
      if (x.system === 'zapwire') {
        expect(x.rates[0]!.sqlPerSec).toBeGreaterThan(0);
        // The server's Workers are named by creation order (js1 …), the other threads by tid.
        if (process.platform === 'linux')
          expect(x.rates[0]!.cpu!.threads.map((t) => t.thread)).toContain('js1');
      }
    }
    expect(result.targets.filter((t: { scenario: string }) => t.scenario === 'chat').length).toBe(
      6,
    );

    const md = readFileSync(join(dir, 'chat.md'), 'utf8');
    expect(md).toContain('## 1. Chat');
    expect(md).toContain('commit nothing to disk');
    expect(md).toContain('µs/msg ÷ aedes');
    for (const svg of [
      'chat-chat-cpu-per-message.svg',
      'chat-chat-latency.svg',
      'chat-chat-saturation.svg',
    ]) {
      expect(readFileSync(join(dir, svg), 'utf8')).toMatch(
        /^<svg[\s\S]*<polyline[\s\S]*<\/svg>\n$/,
      );
    }
  });
});

describe('chat benchmark scenario over WebSockets (--chat-transport)', () => {
  it('runs zapwire over TCP and over WebSockets at /v1/ws, each delivering every open-loop message, side by side', {
    timeout: 60_000,
  }, async () => {
    const out = join(dir, 'chat-ws.json');
    const r = await run(
      ['--tiny', '--only', 'chat', '--chat-transport', 'tcp,ws', '--peers', 'none', '--out', out],
      55_000,
    );
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(readFileSync(out, 'utf8')).scenarios.chat;
    expect(c.failed).toEqual([]);
    expect(c.runs.map((x: { system: string }) => x.system)).toEqual(['zapwire', 'zapwire-ws']);
    for (const x of c.runs as {
      system: string;
      durable: boolean;
      sessions: number;
      rates: Step[];
    }[]) {
      expect(x.durable, x.system).toBe(true);
      expect(x.sessions, x.system).toBe(2 * c.params.pairs);
      for (const s of x.rates) {
        expect(s.sent, x.system).toBe(s.offered);
        expect(s.acked, x.system).toBe(s.sent);
        expect(s.received, x.system).toBe(s.sent);
        expect(s.errors, x.system).toBe(0);
      }
    }
    expect(readFileSync(join(dir, 'chat-ws.md'), 'utf8')).toContain('µs/msg ÷ zapwire-ws');
  });
});
