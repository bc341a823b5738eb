/**
 * A self-signed certificate for 127.0.0.1 and localhost, made by openssl in a
 * temporary folder for one test file (README §TLS shows the same command).
 * Undefined, with the reason, when openssl is not installed: the TLS suites
 * are then skipped with a line saying so.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCertificate {
  dir: string;
  certFile: string;
  keyFile: string;
  /** The certificate's PEM: self-signed, it is its own CA. */
  ca: Buffer;
  remove(): void;
}

/** Why the TLS tests cannot run here, or undefined when openssl is available. */
export function opensslMissing(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'openssl not found: install it (apt-get install openssl) to run the TLS tests';
  }
}

export function makeCertificate(): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'zapwire-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return {
    dir,
    certFile,
    keyFile,
    ca: readFileSync(certFile),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
