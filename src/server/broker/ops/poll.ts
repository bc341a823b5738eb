import { Code } from '../../../protocol/codes.js';
import { toWireMessage } from '../../../store/render.js';
import type { OpHandler } from './op.js';

/**
 * `03`: the oldest pending rows, at most `limit`, as `06`s, then the `03`
 * with their count, written by the broker (each `06` counted in the
 * connection's ledger once written). After `inOrder`: the turn's 08s before
 * it have deleted their rows (gathered, their delete ranks before this read).
 */
export const poll: OpHandler<'poll'> = async (ctx, request) => {
  await ctx.inOrder();
  const rows = await ctx.store.pendingFor(request.number, 0, request.limit);
  ctx.answerWire(
    request.to,
    [{ code: Code.Poll, data: String(rows.length) }],
    rows.map(toWireMessage),
  );
  return null;
};
