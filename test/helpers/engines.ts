import { describe } from 'vitest';
import { type EngineName, engineMissing } from '../../bench/engines.js';

/**
 * Real PostgreSQL and Redis servers for tests: started by bench/engines.ts
 * (the benchmark starts them the same way). Where a binary is not installed,
 * `describeWithEngine` skips the suite with one line saying how to install it.
 */
export {
  type Engine,
  type EngineName,
  engineMissing,
  freePort,
  startPostgres,
  startRedis,
} from '../../bench/engines.js';

/** `describe` when the engine is installed; otherwise one skipped suite whose name says how to install it. */
export function describeWithEngine(engine: EngineName, name: string, body: () => void): void {
  const missing = engineMissing(engine);
  if (missing === undefined) describe(name, body);
  else describe.skip(`${name}: ${missing}`, () => {});
}
