/**
 * The package's public API (src/index.ts): what `import ... from 'zapwire'`
 * offers at run time is the client, the server and the error family, so that
 * no internal (the codec, AnswerQueue, LruMap...) becomes a promise to users.
 */
import { describe, expect, it } from 'vitest';
import * as errors from '../../src/errors.js';
import * as zapwire from '../../src/index.js';

describe('the package index', () => {
  it('exports ZapwireClient, ZapwireServer, ListenerError and src/errors.ts, nothing else', () => {
    const expected = new Set([
      ...Object.keys(errors),
      'ListenerError',
      'ZapwireClient',
      'ZapwireServer',
    ]);
    expect(Object.keys(zapwire).sort()).toEqual([...expected].sort());
  });
});
