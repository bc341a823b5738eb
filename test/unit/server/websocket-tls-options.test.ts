/**
 * The options of the WebSocket transport and of TLS (README §Options):
 * checked once by resolveServerOptions, like every other.
 */
import { describe, expect, it } from 'vitest';
import { OptionError } from '../../../src/errors.js';
import { DEFAULT_OPTIONS, resolveServerOptions } from '../../../src/server/config.js';

describe('--ws-origins and --ws-max-payload', () => {
  it('default: any origin, messages up to 64 KiB (256 frames, one socket read)', () => {
    expect(DEFAULT_OPTIONS.wsOrigins).toBeUndefined();
    expect(DEFAULT_OPTIONS.wsMaxPayload).toBe(64 * 1024);
  });

  it('takes a list of origins, and refuses an empty list or an empty origin', () => {
    expect(resolveServerOptions({ wsOrigins: ['https://a.example'] }).wsOrigins).toEqual([
      'https://a.example',
    ]);
    expect(() => resolveServerOptions({ wsOrigins: [] })).toThrow(OptionError);
    expect(() => resolveServerOptions({ wsOrigins: [''] })).toThrow(OptionError);
  });

  it('refuses a payload under one frame or over 4 MiB', () => {
    expect(() => resolveServerOptions({ wsMaxPayload: 255 })).toThrow(/wsMaxPayload/);
    expect(() => resolveServerOptions({ wsMaxPayload: 4 * 1024 * 1024 + 1 })).toThrow(
      /wsMaxPayload/,
    );
  });
});

describe('--tls-cert and --tls-key', () => {
  it('go together: either alone is an option error naming the missing one', () => {
    expect(() => resolveServerOptions({ tlsCert: 'c.pem' })).toThrow(
      expect.objectContaining({ option: 'tlsKey' }),
    );
    expect(() => resolveServerOptions({ tlsKey: 'k.pem' })).toThrow(
      expect.objectContaining({ option: 'tlsCert' }),
    );
    expect(resolveServerOptions({ tlsCert: 'c.pem', tlsKey: 'k.pem' })).toMatchObject({
      tlsCert: 'c.pem',
      tlsKey: 'k.pem',
    });
  });
});
