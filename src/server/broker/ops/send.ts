import { Code } from '../../../protocol/codes.js';
import { authenticate } from '../credentials.js';
import { checkText, deliveryOf, writeDelivery } from '../deliveries.js';
import type { OpHandler } from './op.js';

/** `05` -> `07` with the message id, written by the broker once the row has committed (docs/protocol.md §Delivery guarantees). */
export const send: OpHandler<'send'> = (ctx, request) => {
  const { to } = request;
  const delivery = deliveryOf(ctx, to.src, to.dst, to.ts, request.flag, request.text);
  ctx.limits.admitDeliveries(to.src, [delivery]);
  const id = writeDelivery(ctx, delivery);
  ctx.answerWire(to, [
    { code: Code.Stored, src: to.src, dst: to.dst, ts: to.ts, data: String(id) },
  ]);
};

/** HTTP send: the token is checked, then each text is stored as its own message, all or none. */
export const authSend: OpHandler<'authSend'> = (ctx, request) => {
  // docs/protocol.md §Codes: the request itself (400) before the credentials (401).
  for (const text of request.texts) checkText(text);
  authenticate(ctx, request.remote, request.number, request.token);
  // Charged only now that the token checked out: a flood of wrong tokens
  // naming a number never spends that number's rate.
  const deliveries = request.texts.map((text) =>
    deliveryOf(ctx, request.number, request.dst, request.ts, request.flag, text),
  );
  ctx.limits.admitDeliveries(request.number, deliveries);
  return deliveries.map((delivery) => writeDelivery(ctx, delivery));
};
