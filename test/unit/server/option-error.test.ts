/**
 * README §Bad options: an OptionError names the option at fault, as the code
 * that refused it names it (never read back out of the message), so that
 * `zapwire serve` can show the flag the user typed.
 */
import { describe, expect, it } from 'vitest';
import { OptionError, ZapwireError } from '../../../src/errors.js';
import { resolveServerOptions, type ServerOptions } from '../../../src/server/config.js';

function refusal(input: Record<string, unknown>): OptionError {
  try {
    resolveServerOptions(input as Partial<ServerOptions>);
  } catch (err) {
    expect(err).toBeInstanceOf(OptionError);
    return err as OptionError;
  }
  throw new Error(`${JSON.stringify(input)} was accepted`);
}

describe('OptionError', () => {
  it('an unknown option reports that option, not the first word of the message', () => {
    const err = refusal({ x: 1 });
    expect(err.option).toBe('x');
    expect(err.message).toBe('unknown option x');
  });

  it('reports the option whose value is bad', () => {
    expect(refusal({ port: 70_000 }).option).toBe('port');
    expect(refusal({ host: '' }).option).toBe('host');
    expect(refusal({ dbPath: '' }).option).toBe('dbPath');
    expect(refusal({ synchronous: 'off' }).option).toBe('synchronous');
    expect(refusal({ logLevel: 'loud' }).option).toBe('logLevel');
    expect(refusal({ threads: 0, sessionsPerThread: 1 }).option).toBe('threads');
  });

  it('is a ZapwireError with code ZAPWIRE_BAD_OPTION and no protocol status', () => {
    const err = refusal({ pollBatch: 0 });
    expect(err).toBeInstanceOf(ZapwireError);
    expect(err.code).toBe('ZAPWIRE_BAD_OPTION');
    expect(err.status).toBeUndefined();
    expect(err.option).toBe('pollBatch');
  });

  it('keeps the option given, whatever the message says', () => {
    expect(new OptionError('httpPort', 'the HTTP port is taken').option).toBe('httpPort');
  });
});
