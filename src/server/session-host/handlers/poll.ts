import type { Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/**
 * `03` poll: the oldest pending messages not yet acknowledged, at most a batch,
 * then one `03` with their count (docs/protocol.md §Sessions), written by the
 * broker, which counts each `06` in the connection's ledger. Polling again
 * before acknowledging sends the same messages again, since they are still
 * pending.
 *
 * The frames after a 03 wait for its answer: an answer is up to pollBatch + 1
 * frames, so 256 pipelined 03s handled at once would turn 64 KiB read into
 * 6.6 MB of answers queued on the socket before the main thread could say
 * that it is not draining. One at a time, the news arrives after a few
 * answers, and the session stops (DESIGN.md §Flow control).
 */
export function handlePoll(session: Session, frame: Frame): void {
  session.askBlocking(
    {
      op: 'poll',
      to: session.answerTo(frame),
      number: session.number,
      limit: session.options.pollBatch,
    },
    () => {},
  );
}
