import type { OpHandler } from './op.js';

/** `19` (and HTTP, and the legacy listener with `usersOnly`): is this a registered user or group? */
export const validate: OpHandler<'validate'> = async (ctx, request) => {
  const kind = await ctx.kindOf(request.number);
  return request.usersOnly ? kind === 'user' : kind !== undefined;
};
