import { CommanderError } from 'commander';
import { ConnectionError, UnavailableError } from '../errors.js';

/**
 * What a script can tell apart by `$?` (README §The command-line client):
 * each client command exits with one of these, whatever failed.
 */
export const ExitCode = {
  /** Done (check: the number is valid). */
  Ok: 0,
  /** The server said no (invalid number, 404, 403, 429, 401...), or a local failure such as a missing profile. */
  Refused: 1,
  /** Bad usage: unknown option, missing or malformed argument, empty or too long text. Nothing was sent. */
  Usage: 2,
  /** The server could not be reached, did not answer in time, or is shutting down (503): worth retrying. */
  Unreachable: 3,
} as const;

export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The one table from a failure to the exit code. */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof CommanderError) return ExitCode.Usage;
  // CliError (and whatever else says so) carries its own code: usage problems found after parsing.
  const own = (err as { exitCode?: unknown } | null)?.exitCode;
  if (typeof own === 'number' && (Object.values(ExitCode) as number[]).includes(own))
    return own as ExitCodeValue;
  if (err instanceof ConnectionError || err instanceof UnavailableError)
    return ExitCode.Unreachable;
  // A ZapwireError is the server's refusal; anything else failed here (it is reported in one line too).
  return ExitCode.Refused;
}

/** Commander ended the parse: 0 for --help and --version, else bad usage (help shown because a subcommand is missing included). */
export function exitCodeForCommander(err: CommanderError): ExitCodeValue {
  const asked = err.code === 'commander.helpDisplayed' || err.code === 'commander.version';
  const help = err.code === 'commander.help' && err.exitCode === 0;
  return asked || help ? ExitCode.Ok : ExitCode.Usage;
}
