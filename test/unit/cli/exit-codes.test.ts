import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { ExitCode, exitCodeFor, exitCodeForCommander } from '../../../src/cli/exit-codes.js';
import { plainUsageMessage } from '../../../src/cli/usage.js';
import {
  CliError,
  ConnectionError,
  ForbiddenError,
  NotFoundError,
  RateLimitError,
  UnauthorizedError,
  UnavailableError,
} from '../../../src/errors.js';

describe('exit codes', () => {
  it('tells the server saying no (1) from bad usage (2) and no server (3)', () => {
    expect(
      [
        new NotFoundError(),
        new ForbiddenError(),
        new UnauthorizedError(),
        new RateLimitError(),
      ].map(exitCodeFor),
    ).toEqual([1, 1, 1, 1]);
    expect(exitCodeFor(new CliError('no profile "x"'))).toBe(ExitCode.Refused);
    expect(exitCodeFor(new CliError('empty text', { exitCode: ExitCode.Usage }))).toBe(2);
    expect(exitCodeFor(new CommanderError(1, 'commander.unknownOption', 'x'))).toBe(2);
    expect(exitCodeFor(new ConnectionError('cannot reach h:1 (no answer in 5 s)'))).toBe(3);
    expect(exitCodeFor(new UnavailableError('shutting down'))).toBe(3);
    expect(exitCodeFor(new Error('a bug'))).toBe(1);
  });

  it('exits 0 for --help and --version only', () => {
    const ended = (code: string, exitCode: number) =>
      exitCodeForCommander(new CommanderError(exitCode, code, ''));
    expect(ended('commander.helpDisplayed', 0)).toBe(0);
    expect(ended('commander.version', 0)).toBe(0);
    expect(ended('commander.help', 0)).toBe(0);
    // Help shown because no subcommand was given is an error.
    expect(ended('commander.help', 1)).toBe(2);
    expect(ended('commander.missingArgument', 1)).toBe(2);
  });

  it("puts commander's messages in the CLI's words", () => {
    expect(
      plainUsageMessage(
        `error: command-argument value '12345' is invalid for argument 'number'. "12345" is not a 13-digit number.\n`,
      ),
    ).toBe('<number>: "12345" is not a 13-digit number');
    expect(
      plainUsageMessage(
        `error: option '--port <n>' argument 'abc' is invalid. "abc" is not an integer.`,
      ),
    ).toBe('--port: "abc" is not an integer');
    expect(
      plainUsageMessage(
        `error: option '--synchronous <mode>' argument 'fast' is invalid. Allowed choices are normal, full.`,
      ),
    ).toBe(`--synchronous 'fast': Allowed choices are normal, full`);
    expect(plainUsageMessage(`error: unknown option '--bogus'`)).toBe(`unknown option '--bogus'`);
  });
});
