import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import stringWidth from 'string-width';

/**
 * A program running in a pseudo-terminal, driven like a person at a keyboard:
 * `type` sends bytes as keys, `screen` reads what is shown. Two drivers:
 *
 * - tmux (when installed): a detached session of the given size;
 *   `capture-pane -e` is the screen, styles included.
 * - `script` (util-linux, on every Debian, so on a clean CI machine): the
 *   program runs in script's pty, sized with stty; the screen is a small
 *   model of a terminal (ScreenModel) fed its output, complete frames only.
 *   This reads full-screen programs that position what they draw and redraw
 *   between synchronized-output brackets (the chat does), not arbitrary ones.
 *
 * ZAPWIRE_TEST_PTY=tmux|script forces one. Neither found: the test fails, it
 * does not skip.
 */
export interface Pty {
  readonly driver: 'tmux' | 'script';
  /** Sends these bytes as typed keys (`\r` Enter, `\x0e` Ctrl-N, `\x1b[B` Down...). */
  type(keys: string): void;
  /** The screen's rows, plain text. */
  screen(): string[];
  /** The screen's rows with their SGR styles (colours), as the driver gives them. */
  styledScreen(): string[];
  /** Everything written to the terminal (script only; '' under tmux). */
  output(): string;
  /** Resizes the terminal (tmux only: script's pty keeps its size). */
  resize?(cols: number, rows: number): void;
  /** Resolves with the exit code once the program has ended. */
  exited(): Promise<number | null>;
  kill(): void;
}

const commands = new Map<string, boolean>();
function has(command: string): boolean {
  if (!commands.has(command))
    commands.set(command, spawnSync('sh', ['-c', `command -v ${command}`]).status === 0);
  return commands.get(command)!;
}

/** The drivers installed here: script always runs (the one CI is sure to have), tmux too when installed. */
export function availableDrivers(): ('tmux' | 'script')[] {
  const forced = process.env.ZAPWIRE_TEST_PTY;
  if (forced === 'tmux' || forced === 'script') return [forced];
  return (['script', 'tmux'] as const).filter((d) => has(d));
}

export function ptyDriver(): 'tmux' | 'script' {
  const forced = process.env.ZAPWIRE_TEST_PTY;
  if (forced === 'tmux' || forced === 'script') return forced;
  if (has('tmux')) return 'tmux';
  if (has('script')) return 'script';
  throw new Error(
    'neither tmux nor script (util-linux) is installed: cannot run the terminal test',
  );
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function spawnPty(
  argv: readonly string[],
  options: { env: NodeJS.ProcessEnv; cols?: number; rows?: number; driver?: 'tmux' | 'script' },
): Pty {
  const cols = options.cols ?? 80;
  const rows = options.rows ?? 24;
  const command = argv.map(shellQuote).join(' ');
  return (options.driver ?? ptyDriver()) === 'tmux'
    ? tmuxPty(command, options.env, cols, rows)
    : scriptPty(command, options.env, cols, rows);
}

function tmuxPty(command: string, env: NodeJS.ProcessEnv, cols: number, rows: number): Pty {
  const socket = `zw-${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmux = (...args: string[]) =>
    execFileSync('tmux', ['-L', socket, '-f', '/dev/null', ...args], { env, encoding: 'utf8' });
  const statusFile = join(tmpdir(), `${socket}.status`);
  // The exit code is written where the test can read it; the pane stays until killed.
  tmux(
    'new-session',
    '-d',
    '-s',
    'main',
    '-x',
    String(cols),
    '-y',
    String(rows),
    `${command}; echo $? > ${statusFile}; sleep 600`,
  );
  tmux('set-option', '-t', 'main', 'status', 'off');
  let killed = false;
  const capture = (styled: boolean) =>
    tmux('capture-pane', '-p', ...(styled ? ['-e'] : []), '-t', 'main')
      .replace(/\n$/, '')
      .split('\n');
  return {
    driver: 'tmux',
    type: (keys) =>
      void tmux(
        'send-keys',
        '-t',
        'main',
        '-H',
        ...[...Buffer.from(keys, 'utf8')].map((b) => b.toString(16).padStart(2, '0')),
      ),
    screen: () => capture(false),
    styledScreen: () => capture(true),
    resize: (c, r) => void tmux('resize-window', '-t', 'main', '-x', String(c), '-y', String(r)),
    output: () => '',
    exited: async () => {
      for (;;) {
        const text = existsSync(statusFile) ? readFileSync(statusFile, 'utf8').trim() : '';
        if (text !== '') return Number(text);
        if (killed) return null;
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    kill: () => {
      if (killed) return;
      killed = true;
      spawnSync('tmux', ['-L', socket, 'kill-server']);
      rmSync(statusFile, { force: true });
    },
  };
}

/**
 * The screen as a terminal would show it, from what the program wrote: the
 * cursor moves (CUP `ESC[r;cH`, CHA `ESC[cG`), SGR styles, clearing (`ESC[2J`),
 * and text placed by grapheme cluster, each taking the cells string-width
 * gives it, clipped at the right edge (the chat draws with autowrap off).
 * Enough for the chat's frames; tmux is the real terminal check.
 */
class ScreenModel {
  private cells: { g: string; sgr: string }[][];
  private row = 0;
  private col = 0;
  private sgr = '';
  private readonly segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

  constructor(
    private readonly cols: number,
    private readonly rows: number,
  ) {
    this.cells = this.blank();
  }

  private blank() {
    return Array.from({ length: this.rows }, () =>
      Array.from({ length: this.cols }, () => ({ g: ' ', sgr: '' })),
    );
  }

  feed(data: string): void {
    const TOKEN = /\x1b\[([?0-9;]*)([A-Za-z])|\x1b[^[]|([^\x1b]+)/g;
    for (const m of data.matchAll(TOKEN)) {
      if (m[3] !== undefined) this.text(m[3]);
      else if (m[2] !== undefined) this.csi(m[1]!, m[2]);
    }
  }

  private csi(params: string, final: string): void {
    if (params.startsWith('?')) return;
    const n = params.split(';').map((p) => (p === '' ? undefined : Number(p)));
    switch (final) {
      case 'H':
      case 'f':
        this.row = Math.min(this.rows - 1, (n[0] ?? 1) - 1);
        this.col = Math.min(this.cols - 1, (n[1] ?? 1) - 1);
        return;
      case 'G':
        this.col = Math.min(this.cols - 1, (n[0] ?? 1) - 1);
        return;
      case 'J':
        if (n[0] === 2) this.cells = this.blank();
        return;
      case 'm':
        this.sgr = params === '' || params === '0' ? '' : `\x1b[${params}m`;
        return;
    }
  }

  private text(text: string): void {
    for (const { segment: g } of this.segmenter.segment(text)) {
      if (g === '\r') this.col = 0;
      else if (g === '\n' || g === '\r\n') this.row = Math.min(this.rows - 1, this.row + 1);
      else {
        const w = stringWidth(g);
        const line = this.cells[this.row]!;
        if (w === 0) {
          const previous = line[Math.max(0, this.col - 1)]!;
          previous.g += g;
          continue;
        }
        if (this.col + w > this.cols) continue; // clipped: autowrap is off
        line[this.col] = { g, sgr: this.sgr };
        for (let i = 1; i < w; i++) line[this.col + i] = { g: '', sgr: this.sgr };
        this.col += w;
      }
    }
  }

  plain(): string[] {
    return this.cells.map((line) =>
      line
        .map((c) => c.g)
        .join('')
        .trimEnd(),
    );
  }

  styled(): string[] {
    return this.cells.map((line) => {
      let out = '';
      let current = '';
      for (const c of line) {
        if (c.sgr !== current) out += c.sgr === '' ? '\x1b[0m' : c.sgr;
        current = c.sgr;
        out += c.g;
      }
      return out;
    });
  }
}

function scriptPty(command: string, env: NodeJS.ProcessEnv, cols: number, rows: number): Pty {
  const child: ChildProcess = spawn(
    'script',
    ['-qfec', `stty rows ${rows} cols ${cols}; exec ${command}`, '/dev/null'],
    {
      env: { ...env, TERM: 'xterm-256color' },
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    },
  );
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
  child.stderr!.resume();
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Fed complete frames only (up to the last end of synchronized output), so a read never sees half a redraw.
  const model = new ScreenModel(cols, rows);
  let fed = 0;
  const screenModel = () => {
    const end = out.lastIndexOf('\x1b[?2026l');
    if (end >= fed) {
      model.feed(out.slice(fed, end));
      fed = end;
    }
    return model;
  };
  return {
    driver: 'script',
    type: (keys) => void child.stdin!.write(keys),
    screen: () => screenModel().plain(),
    styledScreen: () => screenModel().styled(),
    output: () => out,
    exited: () => exit,
    kill: () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    },
  };
}

/** Waits until the screen matches (a regexp on the whole screen, rows joined by \n); fails with the screen. */
export async function waitForScreen(
  pty: Pty,
  pattern: RegExp | ((screen: string[]) => boolean),
  timeoutMs = 8_000,
): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const ok = typeof pattern === 'function' ? pattern : (s: string[]) => pattern.test(s.join('\n'));
  for (;;) {
    const screen = pty.screen();
    if (ok(screen)) return screen;
    if (Date.now() > deadline)
      throw new Error(`screen never matched ${String(pattern)}; it shows:\n${screen.join('\n')}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
