import { Code } from '../../../protocol/codes.js';
import { Status } from '../../../protocol/status.js';
import { authenticate } from '../credentials.js';
import type { Kick, OpHandler } from './op.js';

/** What ends a push session that a newer one of its number replaced, here or on another node (docs/protocol.md §Sessions). */
export function replacedKick(sid: number): Kick {
  return { t: 'kick', sid, status: Status.Replaced, reason: 'session replaced by a newer one' };
}

/**
 * `04`: the token is checked, the broker writes the `04` answer, and the
 * connection gets a ledger; a push session also gets the push route, which
 * sends every pending message after the answer (docs/protocol.md §Sessions)
 * and ends the older push session of the number (409).
 */
export const open: OpHandler<'open'> = async (ctx, request, hostId) => {
  const { to } = request;
  await authenticate(ctx, request.remote, request.number, request.token);
  ctx.answerWire(to, [{ code: Code.OpenSession, data: 'ok' }]);
  ctx.ledgers.open(to.sid, hostId, request.number);
  if (request.push) {
    const replaced = ctx.router.attach(request.number, { hostId, sid: to.sid }, ctx.pushWindow);
    if (replaced) ctx.kick(replaced.hostId, replacedKick(replaced.sid));
  }
  return null;
};

/** The connection closed: its ledger and push route go. */
export const close: OpHandler<'close'> = async (ctx, request) => {
  await ctx.inOrder();
  ctx.router.detach(request.sid);
  ctx.ledgers.close(request.sid);
};

/** DESIGN.md §Flow control: nothing is pushed to a socket that does not drain; rows wait in the store. */
export const writable: OpHandler<'writable'> = async (ctx, request) => {
  await ctx.inOrder();
  ctx.router.setWritable(request.sid, request.writable);
};
