import { readFileSync } from 'node:fs';
import { createSecureContext, type TlsOptions } from 'node:tls';
import { OptionError } from '../../errors.js';

/**
 * How long a TLS client may take over its handshake (Node's default is 120 s).
 * A connection is admitted (counted against the caps) once it is secure, so
 * this bounds the handshakes in progress that the caps do not count yet.
 */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The certificate and key the v1 and HTTP listeners speak TLS with (README
 * §TLS), read once at start. A file that cannot be read, or PEM that is not a
 * certificate and its key, is an OptionError whose message is the one line
 * `zapwire serve` prints.
 */
export function loadTlsFiles(files: { tlsCert: string; tlsKey: string }): TlsOptions {
  const cert = readPem('tlsCert', 'certificate', files.tlsCert);
  const key = readPem('tlsKey', 'key', files.tlsKey);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new OptionError(
      'tlsCert',
      `cannot use TLS certificate ${files.tlsCert} with key ${files.tlsKey}: ${(err as Error).message}`,
    );
  }
  return { cert, key };
}

function readPem(option: string, what: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new OptionError(
      option,
      `cannot read TLS ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}
