import { MalformedRequestError } from '../../../errors.js';
import type { Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/**
 * `08` ack: `data` is how many `06` frames this connection has received so far
 * (cumulative). The broker, which wrote those frames and keeps their ledger,
 * deletes the rows they carried and returns push credit; a count beyond the
 * frames sent is malformed (docs/protocol.md §Sessions), and the broker ends
 * the session with `09 400`, after the answers of the frames before it.
 */
export function handleAck(session: Session, frame: Frame): void {
  if (!/^[0-9]{1,15}$/.test(frame.data))
    throw new MalformedRequestError('08 data must be a decimal count');
  // Nothing waits for it: it travels with the host's next request (DESIGN.md §The path of one message).
  session.host.notifyLater({
    op: 'ack',
    sid: session.sid,
    number: session.number,
    count: Number(frame.data),
    src: frame.src,
    dst: frame.dst,
    ts: frame.ts,
    after: session.nextSlot,
  });
}
