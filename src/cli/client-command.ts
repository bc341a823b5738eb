import { readFileSync } from 'node:fs';
import { Argument, type Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import type { ZapwireClientOptions } from '../client/client-options.js';
import type { Delivery } from '../client/deliveries.js';
import { ZapwireClient } from '../client/zapwire-client.js';
import { CliError, ZapwireError } from '../errors.js';
import { isNumber } from '../protocol/frame.js';
import { DEFAULT_PORT } from '../server/config.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { parseInteger } from './options.js';
import {
  defaultConfigDir,
  PROFILE_NAME,
  type Profile,
  profileExists,
  readProfile,
} from './profile.js';
import { terminalJson, terminalText } from './terminal-text.js';

/** The options every client command takes. */
export interface ConnectionFlags {
  host: string;
  port: number;
  profile: string;
  configDir: string;
  /** Seconds to wait for the server: connecting, and each answer. */
  timeout: number;
  /** Connect over TLS (README §TLS); --ca implies it. */
  tls?: boolean;
  /** PEM file of a private CA to trust instead of the system's. */
  ca?: string;
}

/** How long a command waits for the server by default: a dead address fails in seconds, not 30. */
export const DEFAULT_TIMEOUT_S = 5;

function parseTimeout(value: string): number {
  const seconds = Number(value);
  if (!/^[0-9]+(\.[0-9]+)?$/.test(value.trim()) || !(seconds > 0) || seconds > 3_600)
    throw new InvalidArgumentError(
      `${JSON.stringify(value)} is not a number of seconds (0 to 3600).`,
    );
  return seconds;
}

function parsePort(value: string): number {
  const port = parseInteger(value);
  if (port < 1 || port > 65_535)
    throw new InvalidArgumentError(`${value} is not a port (1 to 65535).`);
  return port;
}

function parseProfileName(value: string): string {
  if (!PROFILE_NAME.test(value))
    throw new InvalidArgumentError(
      'use letters, digits, ".", "_" and "-" (not starting with ".").',
    );
  return value;
}

/** Commander parser for a 13-digit number argument. */
export function parseNumber(value: string): string {
  if (!isNumber(value))
    throw new InvalidArgumentError(`${JSON.stringify(value)} is not a 13-digit number.`);
  return value;
}

/** A `<name>` argument that must be a 13-digit number. */
export function numberArgument(name: string, description: string): Argument {
  return new Argument(name, description).argParser(parseNumber);
}

/** Adds --host, --port, --profile and --config-dir to a client command. */
export function withConnectionOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--host <address>', 'server address')
        .env('ZAPWIRE_HOST')
        .default('127.0.0.1', "the profile's, else 127.0.0.1"),
    )
    .addOption(
      new Option('--port <n>', 'server port')
        .env('ZAPWIRE_PORT')
        .default(DEFAULT_PORT, `the profile's, else ${DEFAULT_PORT}`)
        .argParser(parsePort),
    )
    .addOption(
      new Option('--profile <name>', 'profile to act as')
        .env('ZAPWIRE_PROFILE')
        .default('default')
        .argParser(parseProfileName),
    )
    .addOption(
      new Option('--config-dir <dir>', 'folder of the profiles')
        .env('ZAPWIRE_CONFIG_DIR')
        .default(defaultConfigDir()),
    )
    .addOption(
      new Option('--timeout <seconds>', 'wait this long for the server (connecting, each answer)')
        .env('ZAPWIRE_TIMEOUT')
        .default(DEFAULT_TIMEOUT_S)
        .argParser(parseTimeout),
    )
    .addOption(new Option('--tls', 'connect over TLS (a server started with --tls-cert)'))
    .addOption(
      new Option('--ca <file>', 'PEM certificate of a private CA to trust (implies --tls)').env(
        'ZAPWIRE_CA',
      ),
    );
}

/** The SDK's `tls` option for --tls / --ca: nothing for plain TCP. */
export function tlsOption(flags: ConnectionFlags): Pick<ZapwireClientOptions, 'tls'> {
  if (flags.ca === undefined) return flags.tls ? { tls: true } : {};
  try {
    return { tls: { ca: readFileSync(flags.ca) } };
  } catch (err) {
    throw new CliError(
      `cannot read --ca ${flags.ca}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/**
 * Where to connect: --host / --port when given (flag or environment), else
 * what the profile was registered with, else the defaults.
 */
export function target(
  command: Command,
  flags: ConnectionFlags,
  profile?: Profile,
): { host: string; port: number } {
  const given = (key: string) => {
    const source = command.getOptionValueSource(key);
    return source !== undefined && source !== 'default';
  };
  return {
    host: given('host') || !profile ? flags.host : profile.host,
    port: given('port') || !profile || profile.port === 0 ? flags.port : profile.port,
  };
}

/** Where to connect and how long to wait: the options of every ZapwireClient a command makes. */
export function connection(
  command: Command,
  flags: ConnectionFlags,
  profile?: Profile,
): ZapwireClientOptions {
  const ms = Math.round(flags.timeout * 1_000);
  return {
    ...target(command, flags, profile),
    connectTimeoutMs: ms,
    requestTimeoutMs: ms,
    ...tlsOption(flags),
  };
}

/** The profile named by --profile; a CliError (one line) if it is missing. */
export function loadProfile(flags: ConnectionFlags): Profile {
  return readProfile(flags.configDir, flags.profile);
}

/** The profile if it exists (commands that do not need one, like check). */
export function maybeProfile(flags: ConnectionFlags): Profile | undefined {
  return profileExists(flags.configDir, flags.profile)
    ? readProfile(flags.configDir, flags.profile)
    : undefined;
}

/** A client acting as the profile, connecting where `target` says. */
export function clientFor(
  command: Command,
  flags: ConnectionFlags,
  profile: Profile,
  options: ZapwireClientOptions = {},
): ZapwireClient {
  return new ZapwireClient({
    ...connection(command, flags, profile),
    identity: { number: profile.number, token: profile.token },
    ...options,
  });
}

/**
 * A poll session as the profile for the length of `body` (a one-shot
 * command: it never takes over a running listen or chat), closed after it
 * whatever happened.
 */
export async function inPollSession<T>(
  command: Command,
  flags: ConnectionFlags,
  profile: Profile,
  body: (client: ZapwireClient) => Promise<T>,
): Promise<T> {
  const client = clientFor(command, flags, profile, { reconnect: false });
  await client.connect({ mode: 'poll' });
  try {
    return await body(client);
  } finally {
    await client.close();
  }
}

/**
 * One line for the user: the status and reason of a `09`, else the message.
 * Never a stack trace; a reason is the server's text, so its controls are shown
 * escaped (terminal-text.ts).
 */
export function describeError(err: unknown): string {
  return terminalText(errorLine(err));
}

function errorLine(err: unknown): string {
  // The status of a `09` goes before its reason; a lost connection's 503 is the client's own verdict.
  if (err instanceof ZapwireError)
    return err.status === undefined || err.code === 'ZAPWIRE_CONNECTION'
      ? err.message
      : `${err.status} ${err.message}`;
  if (err instanceof Error) return err.message;
  return String(err);
}

/**
 * Runs a client command: its exit code (0 unless it says otherwise), or one
 * line on stderr and the exit code of exit-codes.ts when it fails. Usage
 * errors (CommanderError) go back to main, which exits 2.
 */
export async function runClient(name: string, body: () => Promise<number | void>): Promise<void> {
  let code: number;
  try {
    code = (await body()) ?? ExitCode.Ok;
  } catch (err) {
    if (err instanceof CommanderError) throw err;
    process.stderr.write(`zapwire ${name}: ${describeError(err)}\n`);
    code = exitCodeFor(err);
  }
  process.exit(code);
}

/** Local time of day, HH:MM:SS. */
export function clock(ts: number): string {
  const d = new Date(ts * 1000);
  return [d.getHours(), d.getMinutes(), d.getSeconds()]
    .map((n) => String(n).padStart(2, '0'))
    .join(':');
}

/** How a number is known here (nickname, then the server's name), undefined when it is not. */
export type LabelOf = (number: string) => string | undefined;

/**
 * A delivery as one line: `[HH:MM:SS] <sender> -> <chat>: text` (the chat is
 * this user for a direct message, else the group), where a number with a
 * nickname or name reads `Alice (7275141742612)`; a receipt in words,
 * `[HH:MM:SS] ✓✓ delivered to Bob (your message of HH:MM:SS)`, `read by`
 * for `lida`, by the nickname or name alone when there is one. Times are
 * local. The text is the sender's: its controls (line breaks included) are
 * shown escaped, so it stays on its line and cannot drive the terminal; so
 * are nicknames and names. Numbers and ts are digits (the frame decoder
 * checks them).
 */
export function formatDelivery(
  delivery: Delivery,
  self: string,
  labelOf: LabelOf = () => undefined,
): string {
  const name = (n: string) => terminalText(labelOf(n) ?? n);
  // Beside what someone wrote the number stays: a name is anyone's to choose.
  const both = (n: string) => {
    const known = labelOf(n);
    return known === undefined ? n : `${terminalText(known)} (${n})`;
  };
  switch (delivery.type) {
    case 'message': {
      const to = delivery.chat.kind === 'group' ? both(delivery.chat.number) : self;
      return `[${clock(delivery.ts)}] ${both(delivery.sender)} -> ${to}: ${terminalText(delivery.text)}`;
    }
    case 'receipt': {
      const who = name(delivery.from);
      const what = delivery.kind === 'lida' ? `read by ${who}` : `delivered to ${who}`;
      const where = delivery.chat.kind === 'group' ? ` in group ${name(delivery.chat.number)}` : '';
      return `[${clock(delivery.at)}] ✓✓ ${what}${where} (your message of ${clock(delivery.ts)})`;
    }
    case 'groupCreated':
      return `[${clock(delivery.ts)}] ${both(delivery.creator)} created group ${both(delivery.group)}`;
  }
}

/** Prints deliveries as text lines or JSON lines (the raw fields), neither with a terminal control in it. */
export function printer(
  json: boolean,
  self: string,
  labelOf?: LabelOf,
): (delivery: Delivery) => void {
  return (delivery) => {
    process.stdout.write(
      (json ? terminalJson(delivery) : formatDelivery(delivery, self, labelOf)) + '\n',
    );
  };
}
