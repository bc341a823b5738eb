import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { availableDrivers, type Pty, spawnPty, waitForScreen } from '../../helpers/pty.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { CLI, childEnv, runCli } from '../../helpers/server-process.js';

/**
 * `zapwire chat` as people use it: two chats in pseudo-terminals of 80x24
 * (tmux, else util-linux `script`: see test/helpers/pty.ts), against a server
 * in this process, with profiles in a temporary --config-dir.
 */

let t: TestServer;
let dir: string;
let env: NodeJS.ProcessEnv;
const ptys: Pty[] = [];

beforeAll(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'zapwire-chat-e2e-'));
  env = childEnv({ ZAPWIRE_CONFIG_DIR: join(dir, 'config'), ZAPWIRE_PORT: String(t.port) });
});
afterEach(() => {
  for (const p of ptys.splice(0)) p.kill();
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function register(profile: string, name: string): Promise<string> {
  const result = await runCli(['register', '--profile', profile, '--name', name], { env });
  expect(result.code, result.stderr).toBe(0);
  return result.stdout.trim();
}

function chat(profile: string, driver: 'tmux' | 'script'): Pty {
  const pty = spawnPty([process.execPath, CLI, 'chat', '--profile', profile], { env, driver });
  ptys.push(pty);
  return pty;
}

/** The row of the screen showing this text. */
function rowWith(pty: Pty, text: string): { plain: string; styled: string } {
  const plain = pty.screen();
  const index = plain.findIndex((l) => l.includes(text));
  return { plain: plain[index] ?? '', styled: pty.styledScreen()[index] ?? '' };
}

const BLUE_CHECKS = /\x1b\[[0-9;]*34m✓✓/;
const KEYS = { enter: '\r', ctrlN: '\x0e', ctrlQ: '\x11' };

const drivers = availableDrivers();

describe('zapwire chat', () => {
  it('has a pseudo-terminal to run in (util-linux script at least)', () => {
    expect(drivers).toContain('script');
  });

  it('refuses to run without a terminal, in one line (exit 1), and has --help', async () => {
    await register('noterm', 'No Term');
    const result = await runCli(['chat', '--profile', 'noterm'], { env });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('zapwire chat: chat needs a terminal (stdin and stdout a TTY)\n');
    const help = await runCli(['chat', '--help'], { env });
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: zapwire chat .*--config-dir/s);
  });

  it.each(drivers)(
    '(%s) A adds B, sends; B sees it; A sees ✓ then ✓✓ (recebida) then blue ✓✓ (lida); history survives a restart',
    async (driver) => {
      const alice = await register(`alice-${driver}`, 'Alice');
      const bob = await register(`bob-${driver}`, 'Bob');

      const a = chat(`alice-${driver}`, driver);
      await waitForScreen(a, /Alice \(\d{13}\) · online/);
      expect(a.screen()).toHaveLength(24);
      expect(a.screen()[23]).toMatch(/Tab pane .*\^N contact .*\^G group .*quit/);

      // Ctrl-N: the number is checked with the server (19), then a nickname.
      a.type(KEYS.ctrlN);
      await waitForScreen(a, /New contact number/);
      a.type('9999999999999\r');
      await waitForScreen(a, /9999999999999 is not a zapwire number/);
      // Esc cancels (a lone Esc is told from an escape sequence after a short pause).
      a.type('\x1b');
      await waitForScreen(a, (s) => s[22] === '>');
      a.type(KEYS.ctrlN);
      await waitForScreen(a, /New contact number/);
      a.type(`${bob}\r`);
      await waitForScreen(a, /Nickname:/);
      a.type('Bob\r');
      await waitForScreen(a, /contact Bob added/);
      await waitForScreen(a, /Bob \(\d{13}\)/);

      // Bob is not running: the message is stored (one check) and waits.
      a.type('hello bob\r');
      await waitForScreen(a, (s) => s.some((l) => /you: hello bob ✓$/.test(l)));

      // Bob starts: the message is pushed (unread count), Alice gets recebida (two checks, not blue).
      const b = chat(`bob-${driver}`, driver);
      await waitForScreen(b, /Bob \(\d{13}\) · online/);
      await waitForScreen(b, new RegExp(`> ${alice} +\\(1\\)`));
      await waitForScreen(a, (s) => s.some((l) => /you: hello bob ✓✓$/.test(l)));
      expect(rowWith(a, 'hello bob').styled).not.toMatch(BLUE_CHECKS);

      // Bob opens the conversation: lida, and Alice's checks turn blue.
      b.type(KEYS.enter);
      await waitForScreen(b, /\d\d:\d\d \d{13}: hello bob/);
      await waitForScreen(a, () => BLUE_CHECKS.test(rowWith(a, 'hello bob').styled));
      expect(b.screen().join('\n')).not.toMatch(/\(1\)/);

      // With the conversation open, a new message shows at once and is read at once.
      a.type('second one\r');
      await waitForScreen(b, /\d{13}: second one/);
      await waitForScreen(a, () => BLUE_CHECKS.test(rowWith(a, 'second one').styled));

      // And back: Bob answers, Alice sees it under Bob's nickname.
      b.type('hi alice\r');
      await waitForScreen(a, /Bob: hi alice/);

      // Ctrl-Q quits with 0 and gives the terminal back.
      a.type(KEYS.ctrlQ);
      expect(await a.exited()).toBe(0);
      if (a.driver === 'script') expect(a.output()).toMatch(/\x1b\[\?1049l[\s\S]*$/);

      // History and contacts survive in <config-dir>/profiles/alice.db.
      const again = chat(`alice-${driver}`, driver);
      await waitForScreen(again, /> ?Bob/);
      again.type(KEYS.enter);
      await waitForScreen(again, /you: hello bob ✓✓[\s\S]*you: second one ✓✓[\s\S]*Bob: hi alice/);
      expect(rowWith(again, 'hello bob').styled).toMatch(BLUE_CHECKS);

      // A resized terminal is redrawn to its new size (SIGWINCH).
      if (again.resize) {
        again.resize(100, 30);
        await waitForScreen(again, (s) => s.length === 30 && /Tab pane/.test(s[29]!));
      }
    },
    30_000,
  );
});
