import { Code } from '../../../protocol/codes.js';
import { authenticate } from '../credentials.js';
import { checkText, deliveryOf, writeDelivery } from '../deliveries.js';
import type { OpHandler } from './op.js';

/** `05` -> `07` with the message id, written by the broker once the row has committed (docs/protocol.md §Delivery guarantees). */
export const send: OpHandler<'send'> = async (ctx, request) => {
  const { to } = request;
  const delivery = await deliveryOf(ctx, to.src, to.dst, to.ts, request.flag, request.text);
  await ctx.limits.loadPending([delivery], ctx.store);
  await ctx.inOrder();
  ctx.limits.admitDeliveries(to.src, [delivery]);
  const id = await writeDelivery(ctx, delivery);
  ctx.answerWire(to, [
    { code: Code.Stored, src: to.src, dst: to.dst, ts: to.ts, data: String(id) },
  ]);
};

/** HTTP send: the token is checked, then each text is stored as its own message, all or none. */
export const authSend: OpHandler<'authSend'> = async (ctx, request) => {
  // docs/protocol.md §Codes: the request itself (400) before the credentials (401).
  for (const text of request.texts) checkText(text);
  // Their reads go with the token's (one step); their refusals (404, 403) come after its 401.
  const looked = Promise.allSettled(
    request.texts.map((text) =>
      deliveryOf(ctx, request.number, request.dst, request.ts, request.flag, text),
    ),
  );
  await authenticate(ctx, request.remote, request.number, request.token);
  // Charged only now that the token checked out: a flood of wrong tokens
  // naming a number never spends that number's rate.
  const deliveries = (await looked).map((result) => {
    if (result.status === 'rejected') throw result.reason;
    return result.value;
  });
  await ctx.limits.loadPending(deliveries, ctx.store);
  ctx.limits.admitDeliveries(request.number, deliveries);
  // One after the other: the ids of one request's messages are in text order.
  const ids: number[] = [];
  for (const delivery of deliveries) ids.push(await writeDelivery(ctx, delivery));
  return ids;
};
