import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The web chat's page may load only what this server serves: its own script,
 * style sheet and icon, and connect only back to it (the WebSocket at
 * `/v1/ws`: CSP Level 3 lets 'self' match ws: and wss: of the same host). No
 * inline script or style, no eval, no frame, no form posting elsewhere:
 * text from other users is put on the page as text (web/src/dom.ts), and
 * this policy is what still holds if that ever slipped.
 */
export const WEB_CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The files `npm run build` puts in dist/web, by extension. Anything else there is not served. */
const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

export interface WebFile {
  readonly body: Buffer;
  /** Every header of a 200 answer: type, length, ETag, and the security headers. */
  readonly headers: Readonly<Record<string, string>>;
  readonly etag: string;
}

/**
 * The built web chat (web/ bundled by esbuild into dist/web), read into memory
 * once at start: a few small files, served without a disk read per request,
 * and a file changed on disk while the server runs is not half-served.
 */
export class WebFiles {
  private constructor(private readonly files: ReadonlyMap<string, WebFile>) {}

  /** Undefined when `dir` does not exist (a build without the web chat). */
  static load(dir: string): WebFiles | undefined {
    if (!existsSync(dir)) return undefined;
    const files = new Map<string, WebFile>();
    for (const name of readdirSync(dir)) {
      const type = CONTENT_TYPES[extname(name)];
      const path = join(dir, name);
      if (type === undefined || !statSync(path).isFile()) continue;
      files.set(`/${name}`, webFile(readFileSync(path), type));
    }
    return files.has('/index.html') ? new WebFiles(files) : undefined;
  }

  /** The file a GET of `path` answers with: `/` is the page. */
  find(path: string): WebFile | undefined {
    return this.files.get(path === '/' ? '/index.html' : path);
  }
}

function webFile(body: Buffer, contentType: string): WebFile {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
  return {
    body,
    etag,
    headers: Object.freeze({
      'content-type': contentType,
      'content-length': String(body.length),
      etag,
      // Always revalidated: a new build is seen at the next load, and an unchanged file costs a 304.
      'cache-control': 'no-cache',
      'content-security-policy': WEB_CONTENT_SECURITY_POLICY,
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
    }),
  };
}

/**
 * dist/web, where `npm run build` puts the web chat: beside dist/src when
 * this module runs compiled, and the same folder when it runs from its
 * TypeScript source (under vitest), as worker-files.ts does for workers.
 */
export function builtWebDirectory(): string {
  const here = import.meta.url;
  const root = new URL(here.endsWith('.ts') ? '../../../dist/' : '../../../', here);
  return fileURLToPath(new URL('web/', root));
}
