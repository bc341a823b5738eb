/**
 * The legacy listener's operations (docs/protocol.md §Legacy listener): it
 * trusts `src` and has no token, and no error answer: a refusal is logged,
 * and the client sees only the close.
 */
import { MalformedRequestError, NotFoundError, ZapwireError } from '../../../errors.js';
import { MAX_GROUP_MEMBERS } from '../../../protocol/frame.js';
import { isStorableText, toLegacyRow } from '../../../store/render.js';
import { MessageKind } from '../../../store/store.js';
import type { Delivery } from '../deliveries.js';
import { writeDelivery } from '../deliveries.js';
import { receiptOf, wantsReceipt } from '../receipts.js';
import { checkMembers, storeGroup } from './create-group.js';
import type { OpContext, OpHandler } from './op.js';

/** Receipts never ask for receipts. */
const LEGACY_RECEIPT_TEXT = /^(recebida|Lidas)/;

/** Logs a refusal (the legacy protocol has no error answer) and returns it to be thrown. */
function refusal(ctx: OpContext, err: ZapwireError, fields: Record<string, unknown>): ZapwireError {
  ctx.logger?.warn(
    { ...fields, status: err.status, reason: err.message },
    'legacy request refused',
  );
  return err;
}

/** A user without a name or token; limited per source address like any registration. */
export const legacyRegister: OpHandler<'legacyRegister'> = async (ctx, request) => {
  await ctx.inOrder();
  ctx.limits.admitRegistration(request.remote);
  return (await ctx.store.createUser('', null)).number;
};

/**
 * To a group, one copy for every member, the sender included, as the original
 * stored them. Charged to the sender's rate, and refused whole when a
 * recipient is full (docs/protocol.md §Limits). A message to an unknown
 * number is dropped.
 */
export const legacySend: OpHandler<'legacySend'> = async (ctx, request) => {
  const { src, dst, ts, text } = request;
  if (!isStorableText(text))
    throw refusal(ctx, new MalformedRequestError('text must be well-formed Unicode without 0x00'), {
      src,
      dst,
    });
  const kind = await ctx.kindOf(dst);
  if (kind === undefined) {
    ctx.logger?.warn({ src, dst }, 'legacy message to an unknown number dropped');
    return null;
  }
  const base = {
    sender: src,
    ts,
    wantsReceipt: !LEGACY_RECEIPT_TEXT.test(text),
    kind: MessageKind.Text,
    body: text,
  };
  const delivery: Delivery =
    kind === 'user'
      ? { copies: [{ ...base, recipient: dst, group: null }], group: null }
      : {
          copies: (await ctx.store.groupMembers(dst)).map((recipient) => ({
            ...base,
            recipient,
            group: dst,
          })),
          group: { number: dst, ts, sender: src },
        };
  await ctx.limits.loadPending([delivery], ctx.store);
  await ctx.inOrder();
  try {
    ctx.limits.admitDeliveries(src, [delivery]);
  } catch (err) {
    throw err instanceof ZapwireError ? refusal(ctx, err, { src, dst }) : err;
  }
  await writeDelivery(ctx, delivery);
  return null;
};

/**
 * The original `10` names no creator: the first member listed stands as
 * creator, and every listed member, creator included, gets the notice, since
 * that notice is how the original client learns the group's number. As in
 * version 1, the members must be registered users, at most 16, and `10` is
 * limited per number (the creator's).
 */
export const legacyCreateGroup: OpHandler<'legacyCreateGroup'> = async (ctx, request) => {
  const { members, ts } = request;
  if (members.length === 0) return null;
  if (members.length > MAX_GROUP_MEMBERS)
    throw refusal(ctx, new MalformedRequestError(`at most ${MAX_GROUP_MEMBERS} members`), {
      members: members.length,
    });
  await checkMembers(ctx, members, (member) =>
    refusal(ctx, new NotFoundError(`unknown member ${member}`), { members: members.length }),
  );
  await ctx.inOrder();
  const creator = members[0]!;
  try {
    ctx.limits.admitGroup(creator);
  } catch (err) {
    throw err instanceof ZapwireError ? refusal(ctx, err, { creator }) : err;
  }
  await storeGroup(ctx, creator, members, ts, () => true);
  return null;
};

/** A poll: the oldest pending rows, deleted one by one as the listener writes them (legacyDelivered). */
export const legacyFetch: OpHandler<'legacyFetch'> = async (ctx, request) => {
  await ctx.inOrder();
  return (await ctx.store.pendingFor(request.number, 0, request.limit)).map(toLegacyRow);
};

/**
 * A message polled here is deleted once written, and its receipt queued: for
 * a group message, `recebida` + the member's number to every other member.
 */
export const legacyDelivered: OpHandler<'legacyDelivered'> = async (ctx, request) => {
  const { number } = request;
  await ctx.inOrder();
  for (const row of await ctx.deletePending(number, [request.id])) {
    if (!wantsReceipt(row)) continue;
    const recipients =
      row.group === null
        ? [row.sender]
        : (await ctx.store.groupMembers(row.group)).filter((m) => m !== number);
    for (const recipient of recipients) await ctx.storeRows([receiptOf(row, recipient, number)]);
  }
  return null;
};
