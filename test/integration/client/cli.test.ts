import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChatStore, chatDbPath } from '../../../src/cli/chat/chat-store.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import {
  CLI,
  type CliRun,
  childEnv,
  killAllServers,
  runCli,
} from '../../helpers/server-process.js';

/**
 * The client commands as users run them: `node dist/src/cli/main.js ...` in
 * processes of their own, against a server in this process, with profiles in
 * a temporary --config-dir. Failures are one line on stderr, never a stack
 * trace, starting with `zapwire <command>:`; the exit code says which kind
 * (src/cli/exit-codes.ts): 1 the server said no, 2 bad usage, 3 no server.
 */

let t: TestServer;
let dir: string;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  t = await startTestServer();
  dir = mkdtempSync(join(tmpdir(), 'zapwire-cli-client-'));
  env = childEnv({ ZAPWIRE_CONFIG_DIR: join(dir, 'config'), ZAPWIRE_PORT: String(t.port) });
});
afterEach(async () => {
  await killAllServers();
});
afterAll(async () => {
  await t.stop();
  rmSync(dir, { recursive: true, force: true });
});

const STACK_FRAME = /^\s+at /m;
const NUMBER_LINE = /^[0-9]{13}\n$/;

function zw(args: string[], extraEnv: Record<string, string> = {}): Promise<CliRun> {
  return runCli(args, { env: { ...env, ...extraEnv } });
}

/** Asserts a failure reported as exactly one line on stderr, with no stack trace. */
function expectOneLine(result: CliRun, code: number, pattern: RegExp): void {
  expect(result.code, `stderr: ${result.stderr}`).toBe(code);
  expect(result.stderr).not.toMatch(STACK_FRAME);
  const lines = result.stderr.split('\n').filter((l) => l.trim().length > 0);
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

let profiles = 0;
/** Registers a new profile and returns its name and number. */
async function registered(): Promise<{ profile: string; number: string }> {
  const profile = `user${++profiles}`;
  const result = await zw(['register', '--profile', profile]);
  expect(result.code, result.stderr).toBe(0);
  return { profile, number: result.stdout.trim() };
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('register and whoami', () => {
  it('saves the profile with mode 0600 in a 0700 folder and prints the number', async () => {
    const configDir = join(dir, 'fresh');
    const result = await runCli(
      ['register', '--name', 'Alice', '--config-dir', configDir, '--port', String(t.port)],
      { env: childEnv() },
    );
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(NUMBER_LINE);
    const number = result.stdout.trim();

    const file = join(configDir, 'profiles', 'default.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(configDir, 'profiles')).mode & 0o777).toBe(0o700);
    const saved = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    expect(saved).toEqual({
      number,
      token: expect.any(String),
      host: '127.0.0.1',
      port: t.port,
      name: 'Alice',
    });

    // Later commands find the server through the profile alone.
    const whoami = await runCli(['whoami', '--config-dir', configDir], { env: childEnv() });
    expect(whoami).toMatchObject({ code: 0, stdout: `${number}\n` });
    const check = await runCli(['check', number, '--config-dir', configDir], { env: childEnv() });
    expect(check).toMatchObject({ code: 0, stdout: 'valid\n' });
  });

  it('refuses to overwrite a profile unless --force', async () => {
    const { profile, number } = await registered();
    const again = await zw(['register', '--profile', profile]);
    expectOneLine(again, 1, /already exists.*--force/);
    expect(again.stdout).toBe('');
    expect((await zw(['whoami', '--profile', profile])).stdout).toBe(`${number}\n`);

    const forced = await zw(['register', '--profile', profile, '--force']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toMatch(NUMBER_LINE);
    expect(forced.stdout.trim()).not.toBe(number);
    expect((await zw(['whoami', '--profile', profile])).stdout).toBe(forced.stdout);
    expect(statSync(join(dir, 'config', 'profiles', `${profile}.json`)).mode & 0o777).toBe(0o600);
  });

  it('reports a missing profile in one line', async () => {
    for (const args of [
      ['whoami'],
      ['send', '1234567890123', 'hi'],
      ['listen'],
      ['poll'],
      ['group', 'create', '1234567890123'],
    ]) {
      const result = await zw([...args, '--profile', 'ghost']);
      expectOneLine(result, 1, /no profile "ghost".*register/);
    }
  });

  it("exits 2 on bad usage, in one line that starts with the command, commander's own errors too", async () => {
    const { profile } = await registered();
    const cases: [string[], RegExp][] = [
      [['send', '--profile', profile], /^zapwire send: missing required argument 'to' /],
      [
        ['send', '--profile', profile, '123', 'not a number'],
        /^zapwire send: <to>: "123" is not a 13-digit number \(zapwire send --help for usage\)$/,
      ],
      [
        ['send', '--profile', profile, '--port', 'abc', '1234567890123', 'x'],
        /^zapwire send: --port: "abc" is not an integer /,
      ],
      [['send', '--bogus'], /^zapwire send: unknown option '--bogus' /],
      [
        ['group', 'create', '--profile', profile, '12'],
        /^zapwire group create: <numbers>: "12" is not a 13-digit number /,
      ],
      [
        ['group'],
        /^zapwire group: a subcommand is needed: zapwire group create <numbers...> or zapwire group rename <group> <name>$/,
      ],
      [
        ['register', '--profile', '../escape'],
        /^zapwire register: --profile '\.\.\/escape': use letters/,
      ],
      [['check'], /^zapwire check: missing required argument 'number' /],
      [['check', '12345'], /^zapwire check: <number>: "12345" is not a 13-digit number /],
      [['check', 'abc'], /^zapwire check: <number>: "abc" is not a 13-digit number /],
      [
        ['check', '--timeout', '0', '1234567890123'],
        /^zapwire check: --timeout: "0" is not a number of seconds/,
      ],
      [['bogus'], /^zapwire: unknown command 'bogus' /],
    ];
    for (const [args, message] of cases) expectOneLine(await zw(args), 2, message);
    // Without a command: the usage, and exit 2.
    const bare = await zw([]);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/^Usage: zapwire /);
  }, 60_000);

  it('refuses an empty text and one over 4,096 bytes (exit 2, nothing sent), and sends one of exactly 4,096', async () => {
    const alice = await registered();
    const bob = await registered();
    expectOneLine(
      await zw(['send', '--profile', alice.profile, bob.number, '']),
      2,
      /^zapwire send: empty text: nothing to send$/,
    );
    expectOneLine(
      await zw(['send', '--profile', alice.profile, bob.number, '  ']),
      2,
      /^zapwire send: empty text/,
    );
    const tooLong = await zw([
      'send',
      '--profile',
      alice.profile,
      bob.number,
      'é'.repeat(2_048) + 'x',
    ]);
    expectOneLine(tooLong, 2, /^zapwire send: text too long: 4,097 bytes, at most 4,096$/);
    expect((await zw(['poll', '--profile', bob.profile])).stdout).toBe('');

    // 4,096 bytes of two-byte characters: 217-byte frames hold 108 of them, so 19 messages.
    const longest = await zw(['send', '--profile', alice.profile, bob.number, 'é'.repeat(2_048)]);
    expect(longest.code, longest.stderr).toBe(0);
    expect(longest.stdout.trimEnd().split('\n')).toHaveLength(19);
    const polled = (await zw(['poll', '--profile', bob.profile, '--json'])).stdout
      .trimEnd()
      .split('\n');
    expect(polled.map((l) => (JSON.parse(l) as { text: string }).text).join('')).toBe(
      'é'.repeat(2_048),
    );
  });

  it('prints help for each command', async () => {
    for (const args of [
      ['register'],
      ['send'],
      ['listen'],
      ['poll'],
      ['group', 'create'],
      ['check'],
      ['whoami'],
    ]) {
      const result = await zw([...args, '--help']);
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^Usage: zapwire /);
      expect(result.stdout).toMatch(/--config-dir/);
    }
  });
});

describe('send, poll, check, group create', () => {
  it('sends (exit 0, the id) and fails on an unknown number with one line (exit 1)', async () => {
    const alice = await registered();
    const bob = await registered();
    const ok = await zw(['send', '--profile', alice.profile, bob.number, 'hello bob']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/^[0-9]+\n$/);
    expect(ok.stderr).toBe('');

    const unknown = await zw(['send', '--profile', alice.profile, '9999999999999', 'anyone?']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('zapwire send: 404 unknown destination\n');
    expect(unknown.stdout).toBe('');
  });

  it('polls: prints the pending messages, acknowledges them, and a second poll prints nothing', async () => {
    const alice = await registered();
    const bob = await registered();
    expect((await zw(['send', '--profile', alice.profile, bob.number, 'first'])).code).toBe(0);
    expect(
      (await zw(['send', '--profile', alice.profile, '--no-receipts', bob.number, 'second'])).code,
    ).toBe(0);

    const polled = await zw(['poll', '--profile', bob.profile]);
    expect(polled.code, polled.stderr).toBe(0);
    const lines = polled.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] ${alice.number} -> ${bob.number}: first$`),
    );
    expect(lines[1]).toMatch(
      new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] ${alice.number} -> ${bob.number}: second$`),
    );

    const again = await zw(['poll', '--profile', bob.profile]);
    expect(again).toMatchObject({ code: 0, stdout: '' });

    // Only the first asked for receipts: alice gets exactly one recebida.
    const receipts = await zw(['poll', '--profile', alice.profile, '--json']);
    expect(receipts.code, receipts.stderr).toBe(0);
    const parsed = receipts.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(parsed).toEqual([
      {
        type: 'receipt',
        kind: 'recebida',
        from: bob.number,
        chat: { kind: 'user', number: bob.number },
        ts: expect.any(Number),
        at: expect.any(Number),
      },
    ]);
  });

  it('creates a group, prints its number, and checks numbers (valid: exit 0, invalid: exit 1)', async () => {
    const alice = await registered();
    const bob = await registered();
    const carol = await registered();
    const created = await zw([
      'group',
      'create',
      '--profile',
      alice.profile,
      bob.number,
      carol.number,
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(NUMBER_LINE);
    const group = created.stdout.trim();

    expect(await zw(['check', group])).toMatchObject({ code: 0, stdout: 'valid\n' });
    expect(await zw(['check', bob.number])).toMatchObject({ code: 0, stdout: 'valid\n' });
    expect(await zw(['check', '9999999999999'])).toMatchObject({
      code: 1,
      stdout: 'invalid\n',
      stderr: '',
    });

    const notice = await zw(['poll', '--profile', bob.profile]);
    expect(notice.stdout).toMatch(new RegExp(`${alice.number} created group ${group}\\n$`));

    const toGroup = await zw(['send', '--profile', carol.profile, group, 'hi group']);
    expect(toGroup.code, toGroup.stderr).toBe(0);
    const groupMessage = await zw(['poll', '--profile', bob.profile]);
    expect(groupMessage.stdout).toMatch(
      new RegExp(`\\] ${carol.number} -> ${group}: hi group\\n$`),
    );

    const unknownMember = await zw([
      'group',
      'create',
      '--profile',
      alice.profile,
      '9999999999999',
    ]);
    expectOneLine(unknownMember, 1, /^zapwire group create: 404 /);
  });
});

describe('names (docs/protocol.md §Names)', () => {
  /** Registers a profile with a display name. */
  async function named(name: string): Promise<{ profile: string; number: string }> {
    const profile = `user${++profiles}`;
    const result = await zw(['register', '--profile', profile, '--name', name]);
    expect(result.code, result.stderr).toBe(0);
    return { profile, number: result.stdout.trim() };
  }

  it("name prints a user's registered name to anyone, as text or JSON; 404 is exit 1, not 13 digits exit 2", async () => {
    const alice = await named('Alice');
    const bob = await registered();
    expect(await zw(['name', '--profile', bob.profile, alice.number])).toMatchObject({
      code: 0,
      stdout: 'user Alice\n',
      stderr: '',
    });
    const json = await zw(['name', '--profile', bob.profile, '--json', alice.number]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ number: alice.number, kind: 'user', name: 'Alice' });
    // Registered without a name: the kind alone.
    expect(await zw(['name', '--profile', alice.profile, bob.number])).toMatchObject({
      code: 0,
      stdout: 'user\n',
    });
    const unknown = await zw(['name', '--profile', bob.profile, '9999999999999']);
    expectOneLine(unknown, 1, /^zapwire name: 404 /);
    expect(unknown.stdout).toBe('');
    expectOneLine(
      await zw(['name', '--profile', bob.profile, '12345']),
      2,
      /^zapwire name: <number>: "12345" is not a 13-digit number/,
    );
  });

  it('group create --name names the group for every member; group rename renames it; a non-member gets 403 (exit 1)', async () => {
    const alice = await named('Alice');
    const bob = await named('Bob');
    const carol = await registered();
    const created = await zw([
      'group',
      'create',
      '--profile',
      alice.profile,
      '--name',
      'Família',
      bob.number,
    ]);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(NUMBER_LINE);
    const group = created.stdout.trim();
    expect((await zw(['name', '--profile', bob.profile, group])).stdout).toBe('group Família\n');

    const renamed = await zw(['group', 'rename', '--profile', bob.profile, group, 'Churrasco 🍖']);
    expect(renamed).toMatchObject({ code: 0, stdout: `group ${group} named Churrasco 🍖\n` });
    // Bob's chat shows the name at once: the answer is kept in his history.
    const bobs = new ChatStore(chatDbPath(join(dir, 'config'), bob.profile));
    try {
      expect(bobs.cachedName(group)).toMatchObject({ kind: 'group', name: 'Churrasco 🍖' });
    } finally {
      bobs.close();
    }
    expect((await zw(['name', '--profile', alice.profile, group])).stdout).toBe(
      'group Churrasco 🍖\n',
    );

    // Carol is not a member: she may neither ask nor rename.
    const asked = await zw(['name', '--profile', carol.profile, group]);
    expectOneLine(asked, 1, /^zapwire name: 403 /);
    expect(asked.stdout).toBe('');
    expectOneLine(
      await zw(['group', 'rename', '--profile', carol.profile, group, 'Mine']),
      1,
      /^zapwire group rename: 403 /,
    );
    // A user is no group.
    expectOneLine(
      await zw(['group', 'rename', '--profile', alice.profile, bob.number, 'Bob']),
      1,
      /^zapwire group rename: 404 /,
    );
  });

  it('refuses an empty name or one over 64 bytes as bad usage (exit 2) before anything is sent', async () => {
    const alice = await registered();
    const bob = await registered();
    const long = 'é'.repeat(33);
    for (const [args, pattern] of [
      [
        ['group', 'rename', '--profile', alice.profile, '1234567890123', ''],
        /^zapwire group rename: <name>: empty name \(zapwire group rename --help for usage\)$/,
      ],
      [
        ['group', 'rename', '--profile', alice.profile, '1234567890123', long],
        /^zapwire group rename: <name> '(é)+': name too long: 66 bytes, at most 64 /,
      ],
      [
        ['group', 'create', '--profile', alice.profile, '--name', '  ', bob.number],
        /^zapwire group create: --name ' {2}': empty name /,
      ],
    ] as const) {
      const result = await zw([...args]);
      expectOneLine(result, 2, pattern);
      expect(result.stdout).toBe('');
    }
    // No group was created by the refused create: Bob was told of none.
    expect((await zw(['poll', '--profile', bob.profile])).stdout).toBe('');
  });

  it('poll lines name people, the nickname first; receipts by name alone', async () => {
    const alice = await named('Alice');
    const bob = await named('Bob');
    expect((await zw(['send', '--profile', alice.profile, bob.number, 'oi'])).code).toBe(0);
    const polled = await zw(['poll', '--profile', bob.profile]);
    expect(polled.stdout).toMatch(
      new RegExp(
        `^\\[\\d\\d:\\d\\d:\\d\\d\\] Alice \\(${alice.number}\\) -> ${bob.number}: oi\\n$`,
      ),
    );
    const receipt = await zw(['poll', '--profile', alice.profile]);
    expect(receipt.stdout).toMatch(/^\[\d\d:\d\d:\d\d\] ✓✓ delivered to Bob \(your message of /);

    // A nickname in Alice's history comes first; --json keeps the numbers only.
    const store = new ChatStore(chatDbPath(join(dir, 'config'), alice.profile));
    store.saveContact({ number: bob.number, nickname: 'Bobby', kind: 'user' });
    store.close();
    expect((await zw(['send', '--profile', bob.profile, alice.number, 'de volta'])).code).toBe(0);
    const back = await zw(['poll', '--profile', alice.profile]);
    expect(back.stdout).toMatch(
      new RegExp(`\\] Bobby \\(Bob\\) \\(${bob.number}\\) -> ${alice.number}: de volta\\n$`),
    );
    const json = await zw(['poll', '--profile', bob.profile, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ type: 'receipt', from: alice.number });
  });
});

/** `zapwire listen` running in the background; `out` fills as it prints. */
function listen(args: string[]) {
  const child = spawn(process.execPath, [CLI, 'listen', ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out.stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out.stderr += chunk));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, out, exited };
}

describe('listen', () => {
  it('prints a message sent by another profile as a JSON line, and exits 0 on SIGINT', async () => {
    const alice = await registered();
    const bob = await registered();
    const { child, out, exited } = listen(['--json', '--profile', bob.profile]);
    try {
      await until(
        () => out.stderr.includes('listening as'),
        () => `listen to start; stderr: ${out.stderr}`,
      );
      const sent = await zw(['send', '--profile', alice.profile, bob.number, 'live ✓']);
      expect(sent.code, sent.stderr).toBe(0);
      await until(
        () => out.stdout.includes('\n'),
        () => `the message; stderr: ${out.stderr}`,
      );
      const line = JSON.parse(out.stdout.split('\n')[0]!) as Record<string, unknown>;
      expect(line).toEqual({
        type: 'message',
        sender: alice.number,
        chat: { kind: 'user', number: alice.number },
        ts: expect.any(Number),
        text: 'live ✓',
        wantsReceipt: true,
      });
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(out.stderr).not.toMatch(STACK_FRAME);
    } finally {
      child.kill('SIGKILL');
    }
    // listen acknowledged it: nothing left to poll, and alice got her receipt.
    expect((await zw(['poll', '--profile', bob.profile])).stdout).toBe('');
    expect((await zw(['poll', '--profile', alice.profile])).stdout).toMatch(
      new RegExp(
        `^\\[\\d\\d:\\d\\d:\\d\\d\\] ✓✓ delivered to ${bob.number} \\(your message of \\d\\d:\\d\\d:\\d\\d\\)\\n$`,
      ),
    );
  });

  it('prints text lines and exits 0 on SIGTERM', async () => {
    const alice = await registered();
    const bob = await registered();
    await zw(['send', '--profile', alice.profile, bob.number, 'sent before listening']);
    const { child, out, exited } = listen(['--profile', bob.profile]);
    try {
      await until(
        () => out.stdout.includes('\n'),
        () => 'the pending message',
      );
      expect(out.stdout).toMatch(
        new RegExp(
          `^\\[\\d\\d:\\d\\d:\\d\\d\\] ${alice.number} -> ${bob.number}: sent before listening\\n$`,
        ),
      );
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
  });
});

describe('what the terminal shows', () => {
  // The reported attack (window title, clear screen, a forged line), with a C1 CSI and bidi controls added.
  const ATTACK =
    'hi\x1b]0;PWNED\x07\x1b[2J\r\n[12:00:00] 1000000000001 -> 2000000000002: forged \x9b2J \u202eevil\u2066 end';
  const SHOWN = String.raw`hi\x1b]0;PWNED\x07\x1b[2J\r\n[12:00:00] 1000000000001 -> 2000000000002: forged \x9b2J \u202eevil\u2066 end`;
  /** A terminal control or bidi control anywhere but as the line ends our printer writes. */
  const CONTROL = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

  function expectOneSafeLine(stdout: string): string {
    expect(stdout).not.toMatch(CONTROL);
    expect(stdout.endsWith('\n')).toBe(true);
    expect(stdout.split('\n')).toHaveLength(2);
    return stdout.slice(0, -1);
  }

  it('poll prints a message with its controls escaped, as text and as JSON that parses back to the text', async () => {
    const alice = await registered();
    const bob = await registered();
    expect((await zw(['send', '--profile', alice.profile, bob.number, ATTACK])).code).toBe(0);
    const text = await zw(['poll', '--profile', bob.profile]);
    expect(text.code, text.stderr).toBe(0);
    expect(expectOneSafeLine(text.stdout)).toMatch(
      new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] ${alice.number} -> ${bob.number}: `),
    );
    expect(text.stdout.endsWith(`: ${SHOWN}\n`)).toBe(true);

    expect((await zw(['send', '--profile', alice.profile, bob.number, ATTACK])).code).toBe(0);
    const json = await zw(['poll', '--profile', bob.profile, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const parsed = JSON.parse(expectOneSafeLine(json.stdout)) as { text: string };
    expect(parsed.text).toBe(ATTACK);
  });

  it('listen prints a message with its controls escaped, on one line', async () => {
    const alice = await registered();
    const bob = await registered();
    const { child, out, exited } = listen(['--profile', bob.profile]);
    try {
      await until(
        () => out.stderr.includes('listening as'),
        () => `listen to start; stderr: ${out.stderr}`,
      );
      expect((await zw(['send', '--profile', alice.profile, bob.number, ATTACK])).code).toBe(0);
      await until(
        () => out.stdout.endsWith('\n'),
        () => `the message; stderr: ${out.stderr}`,
      );
      child.kill('SIGINT');
      expect(await exited).toBe(0);
    } finally {
      child.kill('SIGKILL');
    }
    expect(expectOneSafeLine(out.stdout)).toMatch(
      new RegExp(`^\\[\\d\\d:\\d\\d:\\d\\d\\] ${alice.number} -> ${bob.number}: `),
    );
    expect(out.stdout.endsWith(`: ${SHOWN}\n`)).toBe(true);
  });
});

describe("the profile's local history (the chat's)", () => {
  it('records sends, and what poll takes, so the chat shows them with their checks; receipts name the nickname', async () => {
    const alice = await registered();
    const bob = await registered();
    const sent = await zw(['send', '--profile', alice.profile, bob.number, 'from the shell ✓']);
    expect(sent.code, sent.stderr).toBe(0);
    const path = chatDbPath(join(dir, 'config'), alice.profile);
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const read = () => {
      const store = new ChatStore(path);
      try {
        return { contacts: store.contacts(), messages: store.messages(bob.number) };
      } finally {
        store.close();
      }
    };
    expect(read().contacts).toEqual([{ number: bob.number, nickname: '', kind: 'user', name: '' }]);
    expect(read().messages).toMatchObject([
      { direction: 'out', text: 'from the shell ✓', status: 'stored' },
    ]);

    // Alice names Bob in her chat; Bob's poll takes the message, Alice's poll the receipt.
    const store = new ChatStore(path);
    store.saveContact({ number: bob.number, nickname: 'Bob', kind: 'user' });
    store.close();
    expect((await zw(['poll', '--profile', bob.profile])).code).toBe(0);
    const receipt = await zw(['poll', '--profile', alice.profile]);
    expect(receipt.stdout).toMatch(
      /^\[\d\d:\d\d:\d\d\] ✓✓ delivered to Bob \(your message of \d\d:\d\d:\d\d\)\n$/,
    );
    expect(read().messages).toMatchObject([{ text: 'from the shell ✓', status: 'delivered' }]);
    // Bob's poll recorded the message it took, unread, for Bob's chat.
    const bobs = new ChatStore(chatDbPath(join(dir, 'config'), bob.profile));
    try {
      expect(bobs.messages(alice.number)).toMatchObject([
        { direction: 'in', text: 'from the shell ✓', status: 'unread' },
      ]);
    } finally {
      bobs.close();
    }
  });
});

describe('a server that is down', () => {
  it('fails with one line and exit 3, no stack trace', async () => {
    const alice = await registered();
    const port = String(await closedPort());
    for (const args of [
      ['send', '--profile', alice.profile, '--port', port, '1234567890123', 'hi'],
      ['listen', '--profile', alice.profile, '--port', port],
      ['poll', '--profile', alice.profile, '--port', port],
      ['group', 'create', '--profile', alice.profile, '--port', port, '1234567890123'],
      ['group', 'rename', '--profile', alice.profile, '--port', port, '1234567890123', 'x'],
      ['name', '--profile', alice.profile, '--port', port, '1234567890123'],
      ['check', '--port', port, '1234567890123'],
      ['register', '--profile', 'never', '--port', port],
    ]) {
      const result = await zw(args);
      expectOneLine(
        result,
        3,
        new RegExp(
          `^zapwire ${args[0] === 'group' ? `group ${args[1]}` : args[0]}: cannot reach 127\\.0\\.0\\.1:${port} \\(connection refused: ECONNREFUSED\\)$`,
        ),
      );
      expect(result.stdout).toBe('');
    }
    // A refused register saves no profile.
    expect(await zw(['whoami', '--profile', 'never'])).toMatchObject({ code: 1 });
  });

  it('gives up on a server that accepts but never answers after --timeout seconds (exit 3)', async () => {
    const alice = await registered();
    const accepted: Socket[] = [];
    const silent = createServer((socket) => {
      accepted.push(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = String((silent.address() as { port: number }).port);
    try {
      for (const args of [
        ['check', '--port', port, '--timeout', '1', '1234567890123'],
        [
          'send',
          '--profile',
          alice.profile,
          '--port',
          port,
          '--timeout',
          '0.5',
          '1234567890123',
          'hi',
        ],
        ['register', '--profile', 'silent', '--port', port, '--timeout', '1'],
      ]) {
        const limit = args[args.indexOf('--timeout') + 1] === '0.5' ? '500 ms' : '1 s';
        expectOneLine(
          await zw(args),
          3,
          new RegExp(
            `^zapwire ${args[0]}: cannot reach 127\\.0\\.0\\.1:${port} \\(no answer in ${limit}\\)$`,
          ),
        );
      }
    } finally {
      for (const socket of accepted) socket.destroy();
      await new Promise((r) => silent.close(r));
    }
  });
});

async function until(check: () => boolean, what: () => string, timeoutMs = 8_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
