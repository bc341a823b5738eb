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

/**
 * V8 limits for zapwire's worker threads. The young generation is capped
 * (V8 lets each isolate's grow to 2 x 16 MB under a high allocation rate, and
 * rarely gives it back): a server has one isolate per thread, and with the
 * default the young generations alone were a third of the resident memory of
 * a server holding 18,000 sessions (DESIGN.md §Memory). `npm start` and the
 * `zapwire` command also pass --max-semi-space-size=2, which caps the main
 * thread the same way and, being a process-wide V8 flag, takes precedence
 * over this limit; this one is for servers embedded without that flag.
 * Overridable for measurement with ZAPWIRE_WORKER_YOUNG_MB.
 */
export function workerResourceLimits(): { maxYoungGenerationSizeMb: number } {
  const fromEnv = Number(process.env.ZAPWIRE_WORKER_YOUNG_MB);
  return {
    maxYoungGenerationSizeMb:
      Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : DEFAULT_WORKER_YOUNG_MB,
  };
}

const DEFAULT_WORKER_YOUNG_MB = 6;
