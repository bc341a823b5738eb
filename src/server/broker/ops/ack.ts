import { Status } from '../../../protocol/status.js';
import type { OpHandler } from './op.js';

/**
 * docs/protocol.md §Sessions: a cumulative `08`. A count beyond the `06`
 * frames written is malformed: the session ends with `09 400`, ordered
 * after the answers of the frames before the `08`. The rows covered are
 * deleted; pushes covered return push credit.
 */
export const ack: OpHandler<'ack'> = async (ctx, request, hostId) => {
  await ctx.inOrder();
  const ledger = ctx.ledgers.get(request.sid);
  if (!ledger) return; // the session has gone
  if (request.count > ledger.sent) {
    ctx.kick(hostId, {
      t: 'kick',
      sid: request.sid,
      status: Status.Malformed,
      reason: `ack of ${request.count} but ${ledger.sent} frames were sent`,
      after: request.after,
      cause: { src: request.src, dst: request.dst, ts: request.ts },
    });
    return;
  }
  ctx.router.grant(request.sid, await ctx.acknowledge(ledger, request.number, request.count));
};
