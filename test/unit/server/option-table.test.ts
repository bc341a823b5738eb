/**
 * The server's option table (src/server/config.ts), tested as a table, the
 * way piscina tests its options: every option's default, values it takes,
 * and values it refuses with an OptionError naming it (the cases are in
 * option-cases.ts, typed so that an option without cases does not compile).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../../src/errors.js';
import {
  DEFAULT_OPTIONS,
  defaultMaxConnections,
  openFileLimit,
  resolveServerOptions,
  type ServerOptions,
} from '../../../src/server/config.js';
import { CASES, companionsOf, envOf, flagOf, OPTION_KEYS as ROWS } from './option-cases.js';

const goodCases = ROWS.flatMap((key) => CASES[key].good.map((value) => [key, value] as const));
const badCases = ROWS.flatMap((key) => CASES[key].bad.map((value) => [key, value] as const));

/** An option's value with what it needs beside it (option-cases.ts companionsOf). */
const usable = (key: keyof ServerOptions, value: unknown): Partial<ServerOptions> =>
  ({ ...companionsOf(key, value), [key]: value }) as Partial<ServerOptions>;

describe('the option table', () => {
  it('has a row for every option, each with a distinct flag and environment variable', () => {
    expect(new Set(ROWS)).toEqual(new Set(Object.keys(CASES)));
    expect(new Set(ROWS.map(flagOf)).size).toBe(ROWS.length);
    expect(new Set(ROWS.map(envOf)).size).toBe(ROWS.length);
  });

  it.each(ROWS)(
    'names the environment variable of %s after its flag: ZAPWIRE_ and the flag in capitals',
    (key) => {
      const name = flagOf(key).slice(2).replaceAll('-', '_').toUpperCase();
      expect(envOf(key)).toBe(`ZAPWIRE_${name}`);
    },
  );

  it.each(ROWS)('documents %s in README with its flag and environment variable', (key) => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    const row = readme.split('\n').find((line) => line.startsWith(`| \`${flagOf(key)} `));
    expect(row, `a README table row for ${flagOf(key)}`).toBeDefined();
    expect(row).toContain(`\`${envOf(key)}\``);
  });
});

describe('resolveServerOptions', () => {
  it('fills every option not given with its default, the fixed ones being DEFAULT_OPTIONS', () => {
    const resolved = resolveServerOptions({});
    expect(Object.keys(resolved).sort()).toEqual([...ROWS].sort());
    expect(resolved).toMatchObject(DEFAULT_OPTIONS);
  });

  it('leaves the legacy listener and the HTTP API off by default', () => {
    expect(DEFAULT_OPTIONS.legacyPort).toBeUndefined();
    expect(DEFAULT_OPTIONS.httpPort).toBeUndefined();
  });

  it('defaults threads to one per core, and to 1024 with a thread per client (sessionsPerThread 1)', () => {
    expect(resolveServerOptions({}).threads).toBe(availableParallelism());
    expect(resolveServerOptions({ sessionsPerThread: 1 }).threads).toBe(1024);
  });

  it('defaults maxConnections to the open-file limit less a tenth, keeping at least 256', () => {
    expect(resolveServerOptions({}).maxConnections).toBe(defaultMaxConnections(openFileLimit()));
    expect(defaultMaxConnections(1_024)).toBe(768);
    expect(defaultMaxConnections(100_000)).toBe(90_000);
  });

  it('refuses redis without a postgres:// db: the nodes of a cluster cannot share a SQLite file', () => {
    for (const dbPath of [undefined, ':memory:', 'data/z.db'])
      expect(() => resolveServerOptions({ redis: 'redis://127.0.0.1:6379', dbPath })).toThrow(
        expect.objectContaining({
          option: 'redis',
          message: expect.stringMatching(/^redis needs a postgres:\/\/ db: .*SQLite file$/),
        }),
      );
    // PostgreSQL without Redis stays a single node.
    expect(resolveServerOptions({ dbPath: 'postgres://zapwire@db/zapwire' }).redis).toBeUndefined();
  });

  it('defaults nodeId to one id per process: <hostname>-<pid>-<4 hex>', () => {
    const { nodeId } = resolveServerOptions({});
    expect(nodeId).toMatch(new RegExp(`^.+-${process.pid}-[0-9a-f]{4}$`));
    expect(resolveServerOptions({}).nodeId).toBe(nodeId);
  });

  it('takes undefined as the default', () => {
    expect(resolveServerOptions({ port: undefined, threads: undefined })).toEqual(
      resolveServerOptions({}),
    );
  });

  it.each(goodCases)('takes %s %j', (key, value) => {
    expect(resolveServerOptions(usable(key, value))[key]).toEqual(value);
  });

  it.each(badCases)('refuses %s %j with an OptionError naming it', (key, value) => {
    let thrown: unknown;
    try {
      resolveServerOptions({ [key]: value } as Partial<ServerOptions>);
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(OptionError);
    expect((thrown as OptionError).option).toBe(key);
    expect((thrown as OptionError).message.startsWith(`${key} must be `)).toBe(true);
  });

  it('refuses an unknown option, naming it', () => {
    expect(() => resolveServerOptions({ prot: 1 } as Partial<ServerOptions>)).toThrow(
      expect.objectContaining({ option: 'prot', message: 'unknown option prot' }),
    );
  });

  it('returns frozen options', () => {
    expect(Object.isFrozen(resolveServerOptions({}))).toBe(true);
  });
});
