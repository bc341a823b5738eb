/**
 * Global setup of the integration project: compiles src/ (and bench/) into
 * dist/, and bundles the web chat into dist/web (the server serves it, the
 * browser tests load it), before any test starts a server. Worker threads load their code from
 * dist/ (src/server/threads/worker-files.ts) and the CLI tests spawn
 * dist/src/cli/main.js, so without this a test run after an edit of src/
 * would test the code of the last build, silently. The build is incremental
 * (tsconfig.build.json): when nothing changed it only reads the sources.
 * A source that does not compile stops the run here, before any test. In
 * watch mode it builds again before every rerun.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export default function setup(project: TestProject): void {
  build();
  project.onTestsRerun(build);
}

function build(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // package.json's build:web is the one definition of the bundle.
    execFileSync('npm', ['run', '--silent', 'build:web'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const { stdout, stderr } = err as { stdout?: Buffer; stderr?: Buffer };
    const output = `${stdout?.toString() ?? ''}${stderr?.toString() ?? ''}`.trim();
    throw new Error(`the build before the integration tests failed:\n${output}`);
  }
}
