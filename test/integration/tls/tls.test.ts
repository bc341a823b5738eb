/**
 * README §TLS: with --tls-cert and --tls-key the v1 listener speaks TLS and
 * the HTTP listener HTTPS (so the WebSocket transport is wss://); the legacy
 * listener stays plain, and says so. The certificate is made in the test
 * (openssl), self-signed for 127.0.0.1, and trusted as its own CA.
 */
import { request } from 'node:https';
import { connect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ZapwireClient } from '../../../src/index.js';
import { type StartOptions, ZapwireServer } from '../../../src/server/server.js';
import { captureLogs, LEVEL } from '../../helpers/log-capture.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';
import { type CliRun, childEnv, runCli } from '../../helpers/server-process.js';
import { makeCertificate, opensslMissing, type TestCertificate } from '../../helpers/tls-cert.js';
import { WireClient } from '../../helpers/wire-client.js';
import { WsClient } from '../../helpers/ws-client.js';

const missing = opensslMissing();
if (missing) console.log(`skipping the TLS tests: ${missing}`);

describe.skipIf(missing !== undefined)('README §TLS: every listener but legacy speaks TLS', () => {
  let cert: TestCertificate;
  let t: TestServer;
  const logs = captureLogs('info');

  beforeAll(async () => {
    cert = makeCertificate();
    t = await startTestServer({
      tlsCert: cert.certFile,
      tlsKey: cert.keyFile,
      httpPort: 0,
      legacyPort: 0,
      logger: logs.logger,
    });
  });
  afterAll(async () => {
    await t?.stop();
    cert?.remove();
  });

  const sdk = (options: ConstructorParameters<typeof ZapwireClient>[0] = {}) =>
    new ZapwireClient({ port: t.port, reconnect: false, tls: { ca: cert.ca }, ...options });

  it('the SDK over TLS with the CA: register, a push session, 05 -> 07 -> 06', async () => {
    const aliceId = await sdk().register('alice');
    const bobId = await sdk().register('bob');
    const alice = sdk({ identity: aliceId });
    const bob = sdk({ identity: bobId });
    const received = new Promise<string>((resolve) => bob.on('message', (m) => resolve(m.text)));
    await bob.connect();
    await alice.connect();
    await alice.send(bobId.number, 'over TLS');
    expect(await received).toBe('over TLS');
    await Promise.all([alice.close(), bob.close()]);
  });

  it('the SDK without the CA refuses the self-signed certificate (one clean ConnectionError)', async () => {
    await expect(sdk({ tls: true }).register()).rejects.toMatchObject({
      code: 'ZAPWIRE_CONNECTION',
      message: expect.stringMatching(/self[- ]signed|SELF_SIGNED/i),
    });
  });

  it('a plain TCP client on the TLS port gets no frame and is closed; the server serves on', async () => {
    const plain = await WireClient.connect(t.port);
    plain.send({ code: '01' });
    await plain.waitClosed();
    expect(plain.frames).toHaveLength(0);
    expect(await sdk().isValid('0000000000000')).toBe(false);
  });

  it('wss:// at /v1/ws: the frames over a WebSocket over TLS', async () => {
    const { number } = await sdk().register();
    const port = t.server.httpAddress!.port;
    const c = await WsClient.connect(`wss://127.0.0.1:${port}/v1/ws`, { ca: cert.ca });
    c.send({ code: '19', dst: number });
    expect(await c.next()).toMatchObject({ code: '20', dst: number, data: '1' });
    c.destroy();
  });

  it('HTTPS: /healthz answers over TLS', async () => {
    const port = t.server.httpAddress!.port;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/healthz', ca: cert.ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });
    expect(status).toBe(200);
  });

  it('the legacy listener stays plain TCP, and the server says so at start', async () => {
    const socket = connect({ host: '127.0.0.1', port: t.server.legacyAddress!.port });
    socket.end('01');
    const answer = await new Promise<string>((resolve, reject) => {
      let text = '';
      socket.setEncoding('latin1').on('data', (chunk: string) => (text += chunk));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    expect(answer).toMatch(/^02[0-9]{13}$/);
    const warned = logs.lines().filter((l) => l.level === LEVEL.warn && /legacy/.test(l.msg ?? ''));
    expect(warned.map((l) => l.msg)).toEqual([expect.stringMatching(/plain TCP/)]);
  });

  it('the CLI takes --ca (and so --tls): check over TLS', async () => {
    const { number } = await sdk().register();
    const run = (args: string[]): Promise<CliRun> =>
      runCli(['check', number, '--port', String(t.port), ...args], {
        env: childEnv({ ZAPWIRE_CONFIG_DIR: join(cert.dir, 'config') }),
      });
    const trusted = await run(['--ca', cert.certFile]);
    expect(trusted.code, trusted.stderr).toBe(0);
    expect(trusted.stdout.trim()).toBe('valid');
    const untrusted = await run(['--tls']);
    expect(untrusted.code).not.toBe(0);
    expect(untrusted.stderr.trim().split('\n')).toHaveLength(1);
  });
});

describe.skipIf(missing !== undefined)('README §TLS: start-up refuses what it cannot use', () => {
  let cert: TestCertificate;
  beforeAll(() => {
    cert = makeCertificate();
  });
  afterAll(() => cert?.remove());
  // Each of these fails before any thread or file is made.
  const start = (options: StartOptions) =>
    ZapwireServer.start({ port: 0, dbPath: ':memory:', logLevel: 'silent', ...options });

  it('an unreadable certificate file: one line naming it', async () => {
    const file = join(cert.dir, 'missing.pem');
    await expect(start({ tlsCert: file, tlsKey: cert.keyFile })).rejects.toMatchObject({
      code: 'ZAPWIRE_BAD_OPTION',
      message: `cannot read TLS certificate ${file}: ENOENT`,
    });
  });

  it('a key that is not PEM: one line naming both files', async () => {
    await expect(start({ tlsCert: cert.certFile, tlsKey: cert.certFile })).rejects.toMatchObject({
      code: 'ZAPWIRE_BAD_OPTION',
      message: expect.stringMatching(/^cannot use TLS certificate \S+ with key \S+: [^\n]+$/),
    });
  });

  it('a certificate without its key is an option error', async () => {
    await expect(start({ tlsCert: cert.certFile })).rejects.toMatchObject({
      code: 'ZAPWIRE_BAD_OPTION',
      option: 'tlsKey',
    });
  });
});
