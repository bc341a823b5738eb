import { ForbiddenError, MalformedRequestError, NotFoundError } from '../../errors.js';
import { isStorableText, READ_RECEIPT } from '../../store/render.js';
import { MessageKind, type NewMessage } from '../../store/store.js';
import type { OpContext } from './ops/op.js';

/** The copies one message stores, once every check but the quotas has passed. */
export interface Delivery {
  copies: NewMessage[];
  /** A group message (not a `lida`): who sent its ts is recorded (for a later `lida`), and its fan-out measured. */
  group: { number: string; ts: number; sender: string } | null;
}

/** docs/protocol.md §Frame, §Limits: the store takes only text a `06` can carry (400 otherwise). */
export function checkText(text: string, what = 'text'): void {
  if (!isStorableText(text))
    throw new MalformedRequestError(`${what} must be well-formed Unicode without 0x00`);
}

/** Where a version 1 message goes, with every check but the quotas (400, 404, 403). */
export async function deliveryOf(
  ctx: OpContext,
  src: string,
  dst: string,
  ts: number,
  flag: boolean,
  text: string,
): Promise<Delivery> {
  checkText(text);
  const kind = await ctx.kindOf(dst);
  if (kind === undefined) throw new NotFoundError('unknown destination');
  const base = { sender: src, ts, wantsReceipt: flag, kind: MessageKind.Text, body: text };
  if (kind === 'user') return { copies: [{ ...base, recipient: dst, group: null }], group: null };

  const members = await ctx.store.groupMembers(dst);
  // docs/protocol.md §Delivery guarantees: only members may send to a group.
  if (!members.includes(src)) throw new ForbiddenError('not a member of the group');
  // docs/protocol.md §Receipts: a read receipt to a group goes to the original sender only.
  const read = READ_RECEIPT.exec(text);
  if (read) {
    const original = await ctx.store.groupMessageSender(dst, Number(read[1]));
    if (original === undefined) throw new NotFoundError('no group message with that ts');
    return { copies: [{ ...base, recipient: original, group: dst }], group: null };
  }
  // docs/protocol.md §Delivery guarantees: one row per member other than the
  // sender, one message id for them all (the 07's).
  const copies: NewMessage[] = [];
  for (const member of members)
    if (member !== src) copies.push({ ...base, recipient: member, group: dst });
  return { copies, group: { number: dst, ts, sender: src } };
}

/** Writes an admitted delivery; resolves with the message id its `07` carries (0 for a group of one). */
export async function writeDelivery(ctx: OpContext, delivery: Delivery): Promise<number> {
  const { group } = delivery;
  const rows = ctx.storeRows(delivery.copies, true);
  if (group !== null) {
    ctx.measureFanOut(delivery.copies.length);
    // In the same step as the rows.
    await Promise.all([ctx.store.recordGroupMessage(group.number, group.ts, group.sender), rows]);
  }
  return (await rows)[0]?.messageId ?? 0;
}
