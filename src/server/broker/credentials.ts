import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { UnauthorizedError } from '../../errors.js';
import type { OpContext } from './ops/op.js';

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** A new user's secret token (shown to it once; the store keeps only its hash). */
export function newToken(): string {
  return randomBytes(24).toString('base64url');
}

/**
 * docs/protocol.md §Sessions: no one acts as a number without its token;
 * §Limits: failed authentications are limited per source address.
 */
export async function authenticate(
  ctx: OpContext,
  remote: string,
  number: string,
  token: string,
): Promise<void> {
  const user = await ctx.store.getUser(number);
  await ctx.inOrder();
  ctx.limits.authenticate(remote, () => {
    if (!user || user.tokenHash === null)
      throw new UnauthorizedError('unknown number or wrong token');
    const presented = hashToken(token);
    if (presented.length !== user.tokenHash.length || !timingSafeEqual(presented, user.tokenHash))
      throw new UnauthorizedError('unknown number or wrong token');
  });
}
