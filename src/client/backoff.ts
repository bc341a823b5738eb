export interface BackoffOptions {
  /** Delay before the first retry, in ms. */
  initialDelayMs: number;
  /** The delay never grows beyond this, in ms. */
  maxDelayMs: number;
}

/**
 * Delay before reconnect attempt `attempt` (0 for the first): exponential,
 * capped, then jittered to between half and all of it, so that the clients a
 * server restart dropped all at once do not come back all at once.
 */
export function backoffDelay(
  attempt: number,
  options: BackoffOptions,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(attempt, 30);
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * 2 ** exponent);
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
