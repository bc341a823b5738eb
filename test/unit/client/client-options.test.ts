import { describe, expect, it } from 'vitest';
import type { ZapwireClientOptions } from '../../../src/client/client-options.js';
import { resolveClientOptions } from '../../../src/client/client-options.js';
import { ZapwireClient } from '../../../src/client/zapwire-client.js';

describe('resolveClientOptions', () => {
  it('fills in the defaults and freezes', () => {
    const options = resolveClientOptions({});
    expect(options).toEqual({
      host: '127.0.0.1',
      port: 5050,
      identity: undefined,
      reconnect: { initialDelayMs: 250, maxDelayMs: 30_000 },
      ackDelayMs: 20,
      ackEvery: 64,
      requestTimeoutMs: 30_000,
      connectTimeoutMs: 10_000,
      seen: undefined,
      seenCapacity: 10_000,
    });
    expect(Object.isFrozen(options)).toBe(true);
    expect(resolveClientOptions({ reconnect: false }).reconnect).toBe(false);
  });

  const bad: [string, unknown, RegExp][] = [
    ['a port out of range', { port: 70_000 }, /options\.port must be an integer from 1 to 65535/],
    ['a negative ackDelayMs', { ackDelayMs: -1 }, /options\.ackDelayMs/],
    [
      'a bad identity number',
      { identity: { number: '12', token: 'x' } },
      /options\.identity\.number/,
    ],
    [
      'an empty token',
      { identity: { number: '1234567890123', token: '' } },
      /options\.identity\.token/,
    ],
    [
      'a max delay under the initial one',
      { reconnect: { initialDelayMs: 500, maxDelayMs: 100 } },
      /reconnect\.maxDelayMs/,
    ],
    ['a seen store without add', { seen: { has: () => false } }, /options\.seen/],
    [
      'a misspelled option',
      { ackDelay: 5 },
      /unknown option "ackDelay"; did you mean "ackDelayMs"\?/,
    ],
    ['an unknown option', { frobnicate: true }, /^unknown option "frobnicate"$/],
  ];
  for (const [name, input, message] of bad) {
    it(`refuses ${name}, naming the option`, () => {
      expect(() => resolveClientOptions(input as ZapwireClientOptions)).toThrow(message);
    });
  }

  it('is checked when the client is made', () => {
    expect(() => new ZapwireClient({ port: 0 })).toThrow(/options\.port/);
  });
});
