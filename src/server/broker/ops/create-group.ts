import { NotFoundError } from '../../../errors.js';
import { MessageKind, type NewMessage } from '../../../store/store.js';
import type { OpContext, OpHandler } from './op.js';

/**
 * `10` -> `11` with the new group's number. Every member must be a registered
 * user (404); `10` is limited per number (docs/protocol.md §Limits); each
 * member but the creator is told (docs/protocol.md §Delivery guarantees).
 */
export const createGroup: OpHandler<'createGroup'> = async (ctx, request) => {
  const { src: creator, members } = request;
  await checkMembers(ctx, members, (member) => new NotFoundError(`unknown member ${member}`));
  await ctx.inOrder();
  ctx.limits.admitGroup(creator);
  return storeGroup(ctx, creator, members, request.ts, (member) => member !== creator);
};

/** Every member must be a registered user: their kinds are read together (one step), and the first that is not is refused. */
export async function checkMembers(
  ctx: OpContext,
  members: readonly string[],
  refusal: (member: string) => Error,
): Promise<void> {
  const kinds = await Promise.all(members.map((member) => ctx.kindOf(member)));
  const unknown = members.findIndex((_, i) => kinds[i] !== 'user');
  if (unknown >= 0) throw refusal(members[unknown]!);
}

/**
 * Creates the group and stores its notice (the members' numbers, creator
 * first) for each member `notified` selects; returns the group's number.
 */
export async function storeGroup(
  ctx: OpContext,
  creator: string,
  members: readonly string[],
  ts: number,
  notified: (member: string) => boolean,
): Promise<string> {
  const group = await ctx.store.createGroup(creator, members);
  const all = await ctx.store.groupMembers(group);
  const body = all.join('');
  const notices: NewMessage[] = [];
  for (const recipient of all)
    if (notified(recipient))
      notices.push({
        recipient,
        sender: creator,
        group,
        ts,
        wantsReceipt: false,
        kind: MessageKind.GroupCreated,
        body,
      });
  await ctx.storeRows(notices);
  return group;
}
