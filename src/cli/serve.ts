import { Command, Option } from 'commander';
import { OptionError } from '../errors.js';
import {
  type OptionSpec,
  optionEntries,
  optionEnv,
  resolveServerOptions,
  SERVER_OPTIONS,
  type ServerOptions,
} from '../server/config.js';
import { ZapwireServer } from '../server/server.js';
import { parseInteger, parseList } from './options.js';

/** A row of the server's option table as a commander option: its flag, help, environment variable, default and parser. */
function cliOption(spec: OptionSpec<unknown>): Option {
  const computedOrOff = typeof spec.default === 'function' || spec.default === undefined;
  const help =
    computedOrOff && spec.defaultHelp ? `${spec.help} (default: ${spec.defaultHelp})` : spec.help;
  const option = new Option(spec.flag, help).env(optionEnv(spec));
  // Computed defaults are left to resolveServerOptions: commander only shows the fixed ones.
  if (!computedOrOff) option.default(spec.default);
  const { text } = spec.parse;
  if (text === 'integer') option.argParser(parseInteger);
  else if (text === 'list') option.argParser(parseList);
  else if (text !== 'string') option.choices(text);
  return option;
}

/** Where commander keeps an option's value (`--db <path>` -> `db`). */
function attributeOf(spec: OptionSpec<unknown>): string {
  return new Option(spec.flag).attributeName();
}

/**
 * The server options a parsed `serve` command says (a flag over its
 * environment variable over the default), checked: an OptionError otherwise.
 */
export function serverOptionsOf(command: Command): Readonly<ServerOptions> {
  const input: Record<string, unknown> = {};
  for (const [key, spec] of optionEntries()) input[key] = command.getOptionValue(attributeOf(spec));
  return resolveServerOptions(input as Partial<ServerOptions>);
}

export function serveCommand(): Command {
  const command = new Command('serve').description(
    'run the zapwire server (protocol v1; legacy listener when --legacy-port is given)',
  );
  for (const [, spec] of optionEntries()) command.addOption(cliOption(spec));
  return command.action(async (_flags: unknown, command: Command) => {
    let options: Readonly<ServerOptions>;
    try {
      options = serverOptionsOf(command);
    } catch (err) {
      if (err instanceof OptionError) {
        process.stderr.write(`zapwire serve: ${asTyped(command, err)}\n`);
        process.exit(2);
      }
      throw err;
    }
    // The signal handlers go in BEFORE the server starts: start() logs
    // "zapwire listening on" before it returns, and a supervisor (or a test)
    // that sends SIGTERM as soon as it reads that line used to hit the
    // default action (killed by the signal, no 09 503, no clean close). A
    // signal during start is remembered and acted on once the server is up.
    let server: ZapwireServer | undefined;
    let stopping: string | undefined;
    const shutdown = (running: ZapwireServer, signal: string) => {
      running.logger.info({ signal }, 'signal received');
      running.close().then(
        () => process.exit(0),
        (err: unknown) => {
          running.logger.error({ err }, 'shutdown failed');
          process.exit(1);
        },
      );
    };
    const stop = (signal: string) => {
      if (stopping) {
        process.stderr.write(`zapwire serve: ${signal} again, exiting now\n`);
        process.exit(1);
      }
      stopping = signal;
      if (server) shutdown(server, signal);
    };
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    try {
      server = await ZapwireServer.start(options);
    } catch (err) {
      // One line, whatever failed (a database that cannot be served, a port
      // in use): `cannot open database <file>: <SQLite's message>`.
      const message = err instanceof Error ? err.message : String(err);
      process.stderr.write(`zapwire serve: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
      process.exit(1);
    }
    if (stopping) shutdown(server, stopping);
  });
}

/**
 * OptionError names the ServerOptions key (`sessionsPerThread must be ...`),
 * which a command-line user never typed: name the flag instead, or the
 * environment variable when the value came from there.
 */
function asTyped(command: Command, err: OptionError): string {
  const { option: key, message } = err;
  const spec = SERVER_OPTIONS[key as keyof ServerOptions] as OptionSpec<unknown> | undefined;
  if (!spec || !message.startsWith(key)) return message;
  const flag = spec.flag.split(' ')[0]!;
  const name =
    command.getOptionValueSource(attributeOf(spec)) === 'env'
      ? `${optionEnv(spec)} (${flag})`
      : flag;
  return name + message.slice(key.length);
}
