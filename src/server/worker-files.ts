import { fileURLToPath } from 'node:url';

/**
 * The compiled file of a worker module. Workers always run the JavaScript that
 * `npm run build` emits: when this module itself runs from TypeScript source
 * (under vitest), the matching file under dist/ is used instead.
 */
export function workerFile(relativeJs: string): string {
  const here = import.meta.url;
  const url = new URL(relativeJs, here);
  if (here.endsWith('.ts')) url.pathname = url.pathname.replace(/\/src\//, '/dist/src/');
  return fileURLToPath(url);
}
