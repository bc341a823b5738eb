import { execFile } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { childEnv } from '../../helpers/server-process.js';

/**
 * README §The client SDK as a developer meets it: the marked code blocks are
 * taken out of README.md as they are and run, unchanged, by node in a project
 * of their own that has zapwire installed (node_modules/zapwire, a link to
 * this repository, as `npm install /path/to/zapwire` makes), so
 * `import ... from 'zapwire'` resolves through package.json like anywhere else.
 */

const repo = fileURLToPath(new URL('../../../', import.meta.url));
const readme = readFileSync(join(repo, 'README.md'), 'utf8');
const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as {
  name: string;
  bin: Record<string, string>;
};

/** The ```js block right after `<!-- example: name -->`. */
function example(name: string): string {
  const match = new RegExp(`<!-- example: ${name} -->\\n\`\`\`js\\n([\\s\\S]*?)\\n\`\`\`\\n`).exec(
    readme,
  );
  if (!match) throw new Error(`README.md has no example ${name}`);
  return match[1]!;
}

let t: TestServer;
let project: string;

beforeAll(async () => {
  t = await startTestServer();
  project = mkdtempSync(join(tmpdir(), 'zapwire-readme-'));
  mkdirSync(join(project, 'node_modules', '.bin'), { recursive: true });
  symlinkSync(repo, join(project, 'node_modules', pkg.name), 'dir');
  writeFileSync(join(project, 'package.json'), '{ "type": "module", "private": true }\n');
});
afterAll(async () => {
  await t.stop();
  rmSync(project, { recursive: true, force: true });
});

function run(
  command: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: project, env: childEnv(env), timeout: 30_000 },
      (err, stdout, stderr) => {
        const code = err ? ((err as { code?: number }).code ?? null) : 0;
        resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
      },
    );
  });
}

describe('README examples', () => {
  it('the complete program runs as written: registers two users, sends, gets the receipt, exits', async () => {
    writeFileSync(join(project, 'hello.mjs'), example('sdk-hello'));
    const result = await run(process.execPath, ['hello.mjs'], {
      ZAPWIRE_HOST: '127.0.0.1',
      ZAPWIRE_PORT: String(t.port),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^stored by the server as message \d+$/));
    expect(lines).toContainEqual(expect.stringMatching(/^Bob got "olá Bob 👋" from \d{13}$/));
    // Not always last: when the 07 and the receipts reach Alice in one read, the
    // receipt events fire before send()'s promise resumes the program (seen once).
    expect(lines).toContainEqual(expect.stringMatching(/^Alice: read by \d{13}$/));
  }, 40_000);

  it('the embedding example starts a server in the process, uses it and stops it', async () => {
    writeFileSync(join(project, 'embedded.mjs'), example('sdk-embedded'));
    const result = await run(process.execPath, ['embedded.mjs'], {
      ZAPWIRE_DB: join(project, 'embedded.db'),
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^serving on 127\.0\.0\.1:\d+\n\d{13} is valid: true\n$/);
  }, 40_000);

  it('installs the zapwire command: the bin file is the CLI, run by its shebang (npx zapwire)', async () => {
    expect(Object.keys(pkg.bin)).toEqual(['zapwire']);
    const bin = join(repo, pkg.bin.zapwire!);
    expect(readFileSync(bin, 'utf8').split('\n')[0]).toMatch(/^#!\/usr\/bin\/env -S node\b/);
    // What npm does on install: the file made executable, linked into node_modules/.bin.
    chmodSync(bin, 0o755);
    const link = join(project, 'node_modules', '.bin', 'zapwire');
    symlinkSync(bin, link);
    const result = await run(link, ['--help'], {});
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: zapwire \[options\] \[command\]/);
  });
});
