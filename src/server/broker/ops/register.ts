import { hashToken, newToken } from '../credentials.js';
import { checkText } from '../deliveries.js';
import type { OpHandler } from './op.js';

/** `01` (or HTTP): a new user with a display name and a token; limited per source address. */
export const register: OpHandler<'register'> = async (ctx, request) => {
  checkText(request.name, 'name');
  await ctx.inOrder();
  ctx.limits.admitRegistration(request.remote);
  const token = newToken();
  const user = await ctx.store.createUser(request.name, hashToken(token));
  return { number: user.number, token };
};
