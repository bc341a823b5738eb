import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { isNumber } from '../protocol/frame.js';

/** What `zapwire register` saves: enough for every other command to act as this number. */
export interface Profile {
  number: string;
  /** The secret token: the profile file is readable by its owner only. */
  token: string;
  host: string;
  port: number;
  /** The display name given at registration ('' if none). */
  name: string;
}

/** A failure the command line explains in one line (missing profile, ...): exit 1 unless `exitCode` says otherwise (exit-codes.ts). */
export class CliError extends Error {
  readonly code = 'ZAPWIRE_CLI';
  constructor(
    message: string,
    readonly exitCode?: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** `$XDG_CONFIG_HOME/zapwire`, or `~/.config/zapwire`. */
export function defaultConfigDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CONFIG_HOME;
  return xdg && xdg.length > 0 ? join(xdg, 'zapwire') : join(homedir(), '.config', 'zapwire');
}

/** Profile names become file names: letters, digits, `.`, `_`, `-`, not starting with a dot. */
export const PROFILE_NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

export function profilePath(configDir: string, name: string): string {
  return join(configDir, 'profiles', `${name}.json`);
}

export function profileExists(configDir: string, name: string): boolean {
  return existsSync(profilePath(configDir, name));
}

export function readProfile(configDir: string, name: string): Profile {
  const path = profilePath(configDir, name);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new CliError(
        `no profile "${name}" (${path} does not exist); run zapwire register${name === 'default' ? '' : ` --profile ${name}`} first`,
      );
    }
    throw new CliError(`cannot read profile "${name}" (${path}): ${(err as Error).message}`);
  }
  let data: Partial<Profile>;
  try {
    data = JSON.parse(text) as Partial<Profile>;
  } catch {
    throw new CliError(`profile "${name}" (${path}) is not valid JSON`);
  }
  const { number, token, host, port, name: displayName } = data;
  if (
    typeof number !== 'string' ||
    !isNumber(number) ||
    typeof token !== 'string' ||
    token.length === 0
  ) {
    throw new CliError(`profile "${name}" (${path}) has no valid number and token`);
  }
  return {
    number,
    token,
    host: typeof host === 'string' && host.length > 0 ? host : '127.0.0.1',
    port: typeof port === 'number' && Number.isInteger(port) ? port : 0,
    name: typeof displayName === 'string' ? displayName : '',
  };
}

/**
 * Saves a profile with mode 0600 in a folder made with mode 0700: the token is
 * a password. Written to a temporary file and renamed, so a crash never leaves
 * half a profile.
 */
export function writeProfile(configDir: string, name: string, profile: Profile): string {
  const dir = join(configDir, 'profiles');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = profilePath(configDir, name);
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    writeFileSync(temporary, JSON.stringify(profile, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
    // The mode given at creation is filtered by the umask; the token must stay private whatever it is.
    chmodSync(temporary, 0o600);
    renameSync(temporary, path);
  } catch (err) {
    rmSync(temporary, { force: true });
    throw new CliError(`cannot save profile "${name}" (${path}): ${(err as Error).message}`);
  }
  return path;
}
