import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { ExitCode } from './exit-codes.js';

/** Bad usage found once the arguments are parsed (an empty text): one line, exit 2. */
export function usageError(message: string): CliError {
  return new CliError(message, { exitCode: ExitCode.Usage });
}

/** `zapwire group create` for the group create command: what every error line starts with. */
export function commandPath(command: Command): string {
  const names: string[] = [];
  for (let c: Command | null = command; c; c = c.parent) names.unshift(c.name());
  return names.join(' ');
}

/**
 * Commander's message in the words of the rest of the CLI: without its
 * `error: ` and with the argument or option named the way it is typed.
 */
export function plainUsageMessage(message: string): string {
  const text = message.trim().replace(/^error: /, '');
  // The value is named once: our parsers quote it in their reason, commander's choices do not.
  const named = (what: string, value: string, reason: string) =>
    `${what}${reason.includes(value) ? '' : ` '${value}'`}: ${reason.replace(/\.$/, '')}`;
  const argument = /^command-argument value '(.*)' is invalid for argument '(.+?)'\. (.*)$/s.exec(
    text,
  );
  if (argument) return named(`<${argument[2]}>`, argument[1]!, argument[3]!);
  const option = /^option '(--?[\w-]+)[^']*' argument '(.*)' is invalid\. (.*)$/s.exec(text);
  if (option) return named(option[1]!, option[2]!, option[3]!);
  return text;
}

/**
 * Every level of the program (commands added with addCommand do not inherit
 * these): commander throws instead of exiting (main picks the exit code,
 * exit-codes.ts), and its errors are one line that starts, like every other
 * error line, with `zapwire <command>:`, ending with where help is.
 */
export function reportUsageErrors(command: Command): void {
  const path = commandPath(command);
  command.exitOverride().configureOutput({
    outputError: (message, write) =>
      write(`${path}: ${plainUsageMessage(message)} (${path} --help for usage)\n`),
  });
  for (const sub of command.commands) reportUsageErrors(sub);
}
