import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The built command line (npm run build); tests run the real program, as users do. */
export const CLI = fileURLToPath(new URL('../../dist/src/cli/main.js', import.meta.url));

const live = new Set<ChildProcess>();

/** The environment of a child, without ZAPWIRE_* variables leaking in from the caller unless given. */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env))
    if (!key.startsWith('ZAPWIRE_')) env[key] = value;
  return { ...env, ...extra };
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ServerProcess {
  child: ChildProcess;
  /** The protocol v1 port, from the "zapwire listening on" log line. */
  port: number;
  /** That log line, parsed. */
  listening: Record<string, unknown>;
  /** Every stdout line so far (JSON log lines). */
  readonly lines: string[];
  stderr(): string;
  /** Resolves when the process has exited. */
  exited: Promise<Exit>;
}

function trackExit(child: ChildProcess): Promise<Exit> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null)
      resolve({ code: child.exitCode, signal: child.signalCode });
    else child.once('exit', (code, signal) => resolve({ code, signal }));
  });
}

/**
 * Spawns `node dist/src/cli/main.js <args>` and resolves once it logs
 * "zapwire listening on ..." (JSON on stdout: stdout is a pipe, so not pretty).
 * Rejects with its stderr if it exits or stays silent first.
 */
export function spawnServer(
  args: readonly string[],
  { env = childEnv(), timeoutMs = 10_000 } = {},
): Promise<ServerProcess> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = trackExit(child);
  void exited.then(() => live.delete(child));
  const lines: string[] = [];
  let stderr = '';
  let partial = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));

  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(
      () => finish(new Error(`no listening line within ${timeoutMs} ms; stderr: ${stderr}`)),
      timeoutMs,
    );
    const finish = (err: Error | undefined, listening?: Record<string, unknown>) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill('SIGKILL');
        reject(err);
        return;
      }
      const address = listening!.address as { port: number };
      resolve({
        child,
        port: address.port,
        listening: listening!,
        lines,
        stderr: () => stderr,
        exited,
      });
    };
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      partial += chunk;
      const complete = partial.split('\n');
      partial = complete.pop()!;
      for (const line of complete) {
        lines.push(line);
        let parsed: Record<string, unknown>;
        try {
          parsed = JSON.parse(line) as Record<string, unknown>;
        } catch {
          continue;
        }
        if (typeof parsed.msg === 'string' && parsed.msg.startsWith('zapwire listening on'))
          finish(undefined, parsed);
      }
    });
    void exited.then((exit) =>
      finish(
        new Error(
          `server exited (${exit.code ?? exit.signal}) before listening; stderr: ${stderr}`,
        ),
      ),
    );
  });
}

export interface CliRun extends Exit {
  stdout: string;
  stderr: string;
}

/** Runs the command line to its end (a usage error, say); kills it after `timeoutMs`. */
export function runCli(
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliRun> {
  return runScript(CLI, args, options);
}

/** Runs a built script (the CLI, a benchmark tool) with node to its end; kills it after `timeoutMs`. */
export function runScript(
  file: string,
  args: readonly string[],
  { env = childEnv(), timeoutMs = 10_000 } = {},
): Promise<CliRun> {
  const child = spawn(process.execPath, [file, ...args], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  live.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  return new Promise((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** SIGKILLs every child still running and waits for them: for afterEach/afterAll. */
export async function killAllServers(): Promise<void> {
  const children = [...live];
  await Promise.all(
    children.map((child) => {
      const exited = trackExit(child);
      child.kill('SIGKILL');
      return exited;
    }),
  );
  for (const child of children) live.delete(child);
}
