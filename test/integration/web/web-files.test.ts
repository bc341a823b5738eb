import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  builtWebDirectory,
  WEB_CONTENT_SECURITY_POLICY,
} from '../../../src/server/main-thread/web-files.js';
import { http } from '../../helpers/http.js';
import { startTestServer, type TestServer } from '../../helpers/server.js';

/**
 * The HTTP listener serves the web chat that `npm run build` bundled into
 * dist/web (README §Web chat): the page at `/`, each file with its content
 * type, a strict Content-Security-Policy and no sniffing; revalidated by ETag.
 */

let t: TestServer;
let port: number;

beforeAll(async () => {
  t = await startTestServer({ httpPort: 0 });
  port = t.server.httpAddress!.port;
});
afterAll(() => t.stop());

describe('the web chat over HTTP', () => {
  it('serves the page at / with a CSP that allows only its own files and its own server', async () => {
    const page = await http(port, '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.text).toBe(readFileSync(join(builtWebDirectory(), 'index.html'), 'utf8'));
    expect(page.headers['content-security-policy']).toBe(WEB_CONTENT_SECURITY_POLICY);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).not.toContain('unsafe-eval');
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
  });

  it.each([
    ['/main.js', 'text/javascript; charset=utf-8'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/icon.svg', 'image/svg+xml'],
    ['/index.html', 'text/html; charset=utf-8'],
  ])('serves %s as %s', async (path, type) => {
    const answer = await http(port, path);
    expect(answer.status).toBe(200);
    expect(answer.headers['content-type']).toBe(type);
    expect(Number(answer.headers['content-length'])).toBe(Buffer.byteLength(answer.text));
  });

  it('answers 304 to a browser that has the file already, and HEAD without a body', async () => {
    const first = await http(port, '/main.js');
    const etag = String(first.headers.etag);
    expect(etag).toMatch(/^".+"$/);
    const again = await http(port, '/main.js', { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const head = await http(port, '/main.js', { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.text).toBe('');
    expect(head.headers['content-length']).toBe(first.headers['content-length']);
  });

  it('refuses other methods (405) and other paths (404) as the API does', async () => {
    const post = await http(port, '/', { body: {} });
    expect(post.status).toBe(405);
    expect(post.json.error.code).toBe('ZAPWIRE_METHOD');
    for (const path of ['/nope.js', '/../package.json', '/src/server/server.ts']) {
      const missing = await http(port, path);
      expect(missing.status).toBe(404);
      expect(missing.json.error.code).toBe('ZAPWIRE_NO_ROUTE');
    }
  });
});
