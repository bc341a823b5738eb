/**
 * A root logger whose JSON lines are kept in memory, so a test can assert on
 * what the server logged (pino's habit: the destination is chosen at the edge,
 * tests pass a sink). Worker threads forward their lines to the root logger's
 * destination, so every thread's lines end up here.
 */
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { LogLevel } from '../../src/server/config.js';
import { createLogger } from '../../src/server/logger.js';

export interface LogLine {
  level: number;
  msg?: string;
  sid?: number;
  number?: string;
  err?: { message?: string; stack?: string };
  [key: string]: unknown;
}

/** pino's numeric levels, for filtering `lines()`. */
export const LEVEL = { debug: 20, info: 30, warn: 40, error: 50 } as const;

export interface LogCapture {
  readonly logger: Logger;
  /** Every line written so far, parsed. */
  lines(): LogLine[];
  /** Everything written so far, as written. */
  text(): string;
  /** Forgets what was written so far. */
  clear(): void;
}

export function captureLogs(level: LogLevel = 'debug'): LogCapture {
  let captured = '';
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      captured += chunk.toString();
      done();
    },
  });
  return {
    logger: createLogger({ level, destination: sink }),
    lines: () =>
      captured
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as LogLine),
    text: () => captured,
    clear: () => {
      captured = '';
    },
  };
}
