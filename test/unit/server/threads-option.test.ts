/**
 * DESIGN.md §Thread models: `threads` counts the session host threads; 0
 * puts the sessions on the broker thread, which cannot give each client a
 * thread of its own.
 */
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../../src/errors.js';
import { resolveServerOptions } from '../../../src/server/config.js';

describe('the threads option', () => {
  it('takes 0: the sessions run on the broker thread', () => {
    expect(resolveServerOptions({ threads: 0 }).threads).toBe(0);
  });

  it('refuses 0 with a thread per client (sessionsPerThread 1), naming both', () => {
    expect(() => resolveServerOptions({ threads: 0, sessionsPerThread: 1 })).toThrow(OptionError);
    expect(() => resolveServerOptions({ threads: 0, sessionsPerThread: 1 })).toThrow(
      /threads 0.*sessions per thread 1/,
    );
  });

  it('refuses a negative count', () => {
    expect(() => resolveServerOptions({ threads: -1 })).toThrow(OptionError);
  });
});
