/**
 * `zapwire serve`'s flags and environment variables, derived from the
 * server's option table: for every option, the flag, then its environment
 * variable, then the default (README §Bad options: a flag wins over its
 * environment variable). The command is parsed, never run.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { serveCommand, serverOptionsOf } from '../../../src/cli/serve.js';
import {
  resolveServerOptions,
  SERVER_OPTIONS,
  type ServerOptions,
} from '../../../src/server/config.js';
import {
  CASES,
  companionFlags,
  envOf,
  flagOf,
  OPTION_KEYS as ROWS,
} from '../server/option-cases.js';

/** The two values each option takes, as a user types them. */
const typed = (key: keyof ServerOptions) => CASES[key].good.map(String) as [string, string];

beforeEach(() => {
  // Whatever the shell running the tests has set, these tests see only what they set.
  for (const key of ROWS) vi.stubEnv(envOf(key), undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

function optionsOf(args: string[], env: Record<string, string> = {}): Readonly<ServerOptions> {
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
  const command = serveCommand()
    .exitOverride()
    .action(() => {});
  command.parse(args, { from: 'user' });
  return serverOptionsOf(command);
}

describe('zapwire serve options', () => {
  it('takes every default when neither a flag nor the environment gives a value', () => {
    expect(optionsOf([])).toEqual(resolveServerOptions({}));
  });

  it.each(ROWS)('reads %s from its flag', (key) => {
    const [, value] = typed(key);
    const beside = companionFlags(key, CASES[key].good[1]);
    expect(optionsOf([flagOf(key), value, ...beside])[key]).toEqual(CASES[key].good[1]);
  });

  it.each(ROWS)('reads %s from its environment variable', (key) => {
    const [value] = typed(key);
    const beside = companionFlags(key, CASES[key].good[0]);
    expect(optionsOf(beside, { [envOf(key)]: value })[key]).toEqual(CASES[key].good[0]);
  });

  it.each(ROWS)('prefers the flag of %s to its environment variable', (key) => {
    const [fromEnv, fromFlag] = typed(key);
    const beside = companionFlags(key, CASES[key].good[1]);
    expect(optionsOf([flagOf(key), fromFlag, ...beside], { [envOf(key)]: fromEnv })[key]).toEqual(
      CASES[key].good[1],
    );
  });

  it.each(ROWS)('lists %s in --help with its environment variable', (key) => {
    const help = serveCommand().helpInformation({ error: false });
    const line = help.indexOf(`  ${SERVER_OPTIONS[key].flag} `);
    expect(line).toBeGreaterThanOrEqual(0);
    const entry = help.slice(line, help.indexOf('\n  --', line + 1));
    expect(entry.replace(/\s+/g, ' ')).toContain(`env: ${envOf(key)})`);
  });
});
