import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../../src/client/backoff.js';

const options = { initialDelayMs: 100, maxDelayMs: 5_000 };

describe('backoffDelay', () => {
  it('doubles per attempt up to the cap', () => {
    const top = (attempt: number) => backoffDelay(attempt, options, () => 1);
    expect([0, 1, 2, 3, 4, 5, 6, 7, 100].map(top)).toEqual([
      100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000,
    ]);
  });

  it('jitters to between half and all of the delay', () => {
    expect(backoffDelay(3, options, () => 0)).toBe(400);
    expect(backoffDelay(3, options, () => 0.5)).toBe(600);
    for (let i = 0; i < 200; i++) {
      const d = backoffDelay(4, options);
      expect(d).toBeGreaterThanOrEqual(800);
      expect(d).toBeLessThanOrEqual(1600);
    }
  });
});
