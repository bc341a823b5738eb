import { createRequire } from 'node:module';
import { type DestinationStream, type Logger, pino } from 'pino';
import type PinoPretty from 'pino-pretty';
import type { LogLevel } from './config.js';

/** Paths never written to logs: tokens and credentials (README §Logs). */
export const REDACTED_PATHS = [
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  'req.headers.authorization',
];

export interface LoggerOptions {
  level: LogLevel;
  /** Human-readable lines; defaults to whether stdout is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go (tests pass a sink, worker threads a LogForwarder); defaults to stdout. */
  destination?: DestinationStream;
}

/**
 * The one root logger of a thread. Made at the edge of the program and passed
 * down; sessions log through `child()` loggers (pino's habit).
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = { level: options.level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
  if (options.destination) return pino(base, options.destination);
  const wantPretty = options.pretty ?? Boolean(process.stdout.isTTY);
  if (wantPretty)
    return pino(
      base,
      loadPretty()({
        colorize: true,
        translateTime: 'SYS:HH:MM:ss.l',
        ignore: 'pid,hostname',
        sync: true,
      }),
    );
  return pino(base, pino.destination({ fd: 1, sync: false }));
}

/**
 * Writes JSON lines that came from a worker thread into the destination of
 * `root` (its sink, stdout, or the pretty printer), so every thread's lines
 * end up where the root logger's own do.
 */
export function writeForwarded(root: Logger, lines: readonly string[]): void {
  const stream = (root as unknown as Record<symbol, DestinationStream | undefined>)[
    pino.symbols.streamSym
  ];
  if (!stream) return;
  for (const line of lines) stream.write(line);
}

/**
 * pino-pretty is loaded only where it is used (the main thread, on a
 * terminal): every worker thread imports this module, and in thread-per-client
 * mode each of hundreds of threads would otherwise pay for it in memory.
 */
function loadPretty(): typeof PinoPretty {
  const required = createRequire(import.meta.url)('pino-pretty') as
    | typeof PinoPretty
    | { default: typeof PinoPretty };
  return 'default' in required ? required.default : required;
}
