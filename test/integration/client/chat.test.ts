import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ZapwireClient } from '../../../src/client/zapwire-client.js';
import {
  availableDrivers,
  type Pty,
  ptyDriver,
  spawnPty,
  waitForScreen,
} from '../../helpers/pty.js';
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
const KEYS = {
  enter: '\r',
  ctrlN: '\x0e',
  ctrlG: '\x07',
  tab: '\t',
  ctrlQ: '\x11',
  pageUp: '\x1b[5~',
  pageDown: '\x1b[6~',
};

/** Ctrl-N, the number (checked with the server), the nickname. */
async function addContact(pty: Pty, number: string, nickname: string): Promise<void> {
  pty.type(KEYS.ctrlN);
  await waitForScreen(pty, /New contact number/);
  pty.type(`${number}\r`);
  await waitForScreen(pty, /Nickname \(Enter for none\):/);
  pty.type(`${nickname}\r`);
  await waitForScreen(pty, new RegExp(`contact ${nickname} added`));
}

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
      await waitForScreen(a, /online · Alice \(\d{13}\)/);
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
      await addContact(a, bob, 'Bob');
      await waitForScreen(a, /Bob · \d{13}/);

      // Bob is not running: the message is stored (one check) and waits.
      a.type('hello bob\r');
      await waitForScreen(a, (s) => s.some((l) => /you: hello bob ✓$/.test(l)));

      // Bob starts: the message is pushed (unread count), Alice gets recebida (two checks, not blue).
      // Bob gave Alice no nickname: she shows by the name she registered.
      const b = chat(`bob-${driver}`, driver);
      await waitForScreen(b, /online · Bob \(\d{13}\)/);
      await waitForScreen(b, /> Alice +\(1\)/);
      await waitForScreen(a, (s) => s.some((l) => /you: hello bob ✓✓$/.test(l)));
      expect(rowWith(a, 'hello bob').styled).not.toMatch(BLUE_CHECKS);

      // Bob opens the conversation: lida, and Alice's checks turn blue.
      b.type(KEYS.enter);
      await waitForScreen(b, /\d\d:\d\d Alice: hello bob/);
      await waitForScreen(b, new RegExp(`Alice · ${alice}`));
      await waitForScreen(a, () => BLUE_CHECKS.test(rowWith(a, 'hello bob').styled));
      expect(b.screen().join('\n')).not.toMatch(/\(1\)/);

      // With the conversation open, a new message shows at once and is read at once.
      a.type('second one\r');
      await waitForScreen(b, /Alice: second one/);
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

  it('shows names: Bob sees Alice by her registered name, the members see a group by its name, /name renames it', async () => {
    const driver = ptyDriver();
    const bob = await register('nb', 'Bob');
    await register('na', 'Alice');
    const a = chat('na', driver);
    const b = chat('nb', driver);
    await waitForScreen(a, /online · Alice/);
    await waitForScreen(b, /online · Bob/);

    // Alice adds Bob without a nickname: the list and the header show his registered name.
    a.type(KEYS.ctrlN);
    await waitForScreen(a, /New contact number/);
    a.type(`${bob}\r`);
    await waitForScreen(a, /Nickname \(Enter for none\):/);
    a.type(KEYS.enter);
    await waitForScreen(a, /contact added/);
    await waitForScreen(a, new RegExp(`Bob · ${bob}`));

    // Ctrl-G: the group's name is the group's own (10 then 14); Bob is taken by his name.
    a.type(KEYS.ctrlG);
    await waitForScreen(a, /Group name/);
    a.type('Família\r');
    await waitForScreen(a, /Members/);
    a.type('Bob\r');
    await waitForScreen(a, /group Família created/);
    await waitForScreen(a, /# Família · \d{13}/);
    a.type('olá grupo\r');

    // Bob, a member, sees the group by its name (asked again at its message if the 12 came before the 14).
    await waitForScreen(b, /># Família +\(1\)/);
    b.type(KEYS.enter);
    await waitForScreen(b, /\d\d:\d\d Alice: olá grupo/);
    b.type('/name Churrasco 🍖\r');
    await waitForScreen(b, /# Churrasco 🍖 · \d{13}/);
    expect(b.screen().join('\n')).not.toMatch(/you: \/name/);

    // Alice learns the new name when she opens the conversation again (nobody is told of a 14).
    a.type(KEYS.tab);
    a.type(KEYS.enter);
    await waitForScreen(a, /# Churrasco 🍖 · \d{13}/);
  }, 30_000);

  /** The texts of issue #13: emoji wider than a cell, a greeting that lost its 👋, CJK, combining marks. */
  const HARD = [
    `${'😀'.repeat(30)} END`,
    'oi Alice 👋 ça va?',
    '中文字幕很长的一句话，没有空格也要换行显示完整',
    'cafe\u0301 A\u030a n\u0303 한국어 👍 👨\u200d👩\u200d👧 🇧🇷 ❤️ done',
  ];
  const squeeze = (s: string) => s.replace(/ /g, '');
  /** The conversation pane as one string without spaces: every cluster of a message shows in it, in order. */
  const pane = (screen: string[]) =>
    squeeze(
      screen
        .slice(2, -2)
        .map((l) => l.slice(l.indexOf('│') + 1))
        .join(''),
    );

  it.each(drivers)(
    '(%s) shows every character of emoji, CJK and combining text at 80, 34 and 30 columns, and scrolls back with PgUp/PgDn',
    async (driver) => {
      await register(`wa-${driver}`, 'Alice');
      const bob = await register(`wb-${driver}`, 'Bob');
      const profile = JSON.parse(
        readFileSync(join(dir, 'config', 'profiles', `wa-${driver}.json`), 'utf8'),
      ) as { number: string; token: string };

      // Alice types the emoji line at 80x24; Bob's chat receives it.
      const a = chat(`wa-${driver}`, driver);
      await waitForScreen(a, /online · Alice \(\d{13}\)/);
      await addContact(a, bob, 'Bob');
      let b = chat(`wb-${driver}`, driver);
      await waitForScreen(b, /online · Bob \(\d{13}\)/);
      a.type(`${HARD[0]}\r`);
      await waitForScreen(b, /> Alice +\(1\)/);
      b.type(KEYS.enter);
      await waitForScreen(b, (s) => pane(s).includes(squeeze(HARD[0]!)));
      // The sender sees all of it too, with its two checks at the end.
      await waitForScreen(a, (s) => pane(s).includes(`${squeeze(HARD[0]!)}✓✓`));

      // The others come from Alice's SDK client into Bob's open chat, at each width.
      const sender = new ZapwireClient({ port: t.port, identity: profile, reconnect: false });
      await sender.connect({ mode: 'poll' });
      try {
        for (const cols of [80, 34, 30]) {
          if (cols !== 80) {
            if (b.resize) b.resize(cols, 24);
            else {
              b.type(KEYS.ctrlQ);
              await b.exited();
              b = spawnPty([process.execPath, CLI, 'chat', '--profile', `wb-${driver}`], {
                env,
                driver,
                cols,
              });
              ptys.push(b);
              await waitForScreen(b, /online/);
              b.type(KEYS.enter);
            }
            await waitForScreen(b, (s) => s[0]!.length <= cols && /Tab/.test(s.at(-1)!));
          }
          for (const text of HARD.slice(1)) {
            await sender.send(bob, text);
            await waitForScreen(b, (s) => pane(s).includes(squeeze(text)), 8_000).catch(
              (err: Error) => {
                throw new Error(`${cols} columns, ${JSON.stringify(text)}: ${err.message}`);
              },
            );
          }
        }

        // More than a screen holds: the newest show, PgUp reaches the oldest, PgDn comes back.
        for (let i = 1; i <= 30; i++) await sender.send(bob, `line ${String(i).padStart(2, '0')}`);
        await waitForScreen(b, /line 30/);
        expect(b.screen().join('\n')).not.toContain('line 01');
        for (let i = 0; i < 20 && !b.screen().join('\n').includes('line 01'); i++) {
          b.type(KEYS.pageUp);
          await new Promise((r) => setTimeout(r, 150));
        }
        await waitForScreen(b, /line 01/);
        expect(b.screen()[1]).toMatch(/PgDn ↓\d+/);
        for (let i = 0; i < 20 && !b.screen().join('\n').includes('line 30'); i++) {
          b.type(KEYS.pageDown);
          await new Promise((r) => setTimeout(r, 150));
        }
        await waitForScreen(b, /line 30/);
        expect(b.screen()[1]).not.toMatch(/PgDn/);
      } finally {
        await sender.close();
      }
    },
    120_000,
  );
});
