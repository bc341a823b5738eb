import { ForbiddenError, NotFoundError } from '../../../errors.js';
import { checkGroupName } from '../../session-host/handlers/name-group.js';
import type { Credentials } from '../../threads/thread-messages.js';
import { authenticate } from '../credentials.js';
import type { OpContext, OpHandler } from './op.js';

/** An HTTP request acts as `number` only with its token (docs/protocol.md §Sessions); a `12` or `14` came in a session. */
async function authenticated(
  ctx: OpContext,
  number: string,
  credentials: Credentials | undefined,
): Promise<void> {
  if (credentials) await authenticate(ctx, credentials.remote, number, credentials.token);
}

/** docs/protocol.md §Names: only members may see (12) or set (14) a group's name. */
async function checkMember(ctx: OpContext, group: string, number: string): Promise<void> {
  if (!(await ctx.store.isMember(group, number)))
    throw new ForbiddenError('not a member of the group');
}

/** `12` (or HTTP): a user's name to anyone, a group's to its members; 404 for a number that is neither. */
export const nameOf: OpHandler<'nameOf'> = async (ctx, request) => {
  await authenticated(ctx, request.asker, request.credentials);
  const found = await ctx.store.displayName(request.number);
  if (found === undefined) throw new NotFoundError('neither a user nor a group');
  if (found.kind === 'group') await checkMember(ctx, request.number, request.asker);
  return found;
};

/**
 * `14` (or HTTP): a member names a group; the last name set wins. In the
 * order of docs/protocol.md §Names: the name (400, 413), the credentials,
 * the group (404), membership (403), then the rate shared with `10` (429).
 */
export const nameGroup: OpHandler<'nameGroup'> = async (ctx, request) => {
  const { src, group, name } = request;
  checkGroupName(name);
  await authenticated(ctx, src, request.credentials);
  if ((await ctx.kindOf(group)) !== 'group') throw new NotFoundError('not a group');
  await checkMember(ctx, group, src);
  await ctx.inOrder();
  ctx.limits.admitGroupName(src);
  await ctx.store.setGroupName(group, name);
  return name;
};
