import type { OpHandler } from './op.js';

/**
 * A host's barrier (its shutdown): requests are handled and answered in the
 * order they came on a port, so this reply comes after every earlier one.
 */
export const sync: OpHandler<'sync'> = async () => null;
