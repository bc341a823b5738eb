import { NotFoundError } from '../../../errors.js';
import { MessageKind, type NewMessage } from '../../../store/store.js';
import type { OpContext, OpHandler } from './op.js';

/**
 * `10` -> `11` with the new group's number. Every member must be a registered
 * user (404); `10` is limited per number (docs/protocol.md §Limits); each
 * member but the creator is told (docs/protocol.md §Delivery guarantees).
 */
export const createGroup: OpHandler<'createGroup'> = (ctx, request) => {
  const { src: creator, members } = request;
  for (const member of members)
    if (ctx.kindOf(member) !== 'user') throw new NotFoundError(`unknown member ${member}`);
  ctx.limits.admitGroup(creator);
  return storeGroup(ctx, creator, members, request.ts, (member) => member !== creator);
};

/**
 * Creates the group and stores its notice (the members' numbers, creator
 * first) for each member `notified` selects; returns the group's number.
 */
export function storeGroup(
  ctx: OpContext,
  creator: string,
  members: readonly string[],
  ts: number,
  notified: (member: string) => boolean,
): string {
  const group = ctx.store.createGroup(creator, members);
  const all = ctx.store.groupMembers(group);
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
  ctx.storeRows(notices);
  return group;
}
