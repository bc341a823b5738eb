import { MalformedRequestError } from '../../../errors.js';
import type { Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/**
 * `08` ack: `data` is how many `06` frames this connection has received so far
 * (cumulative). The rows they carried are deleted; pushes acknowledged return
 * push credit, held back while the socket is not draining.
 */
export function handleAck(session: Session, frame: Frame): void {
  if (!/^[0-9]{1,15}$/.test(frame.data)) throw new MalformedRequestError('08 data must be a decimal count');
  const count = Number(frame.data);
  // docs/protocol.md §Sessions: a count beyond the 06 frames sent is malformed.
  if (count > session.sent) throw new MalformedRequestError(`ack of ${count} but ${session.sent} frames were sent`);
  if (count <= session.acked) return; // an older cumulative count: nothing new
  const covered = session.unacked.splice(0, count - session.acked);
  session.acked = count;
  let credit = 0;
  for (const entry of covered) if (entry.pushed) credit++;
  if (!session.writable) {
    session.heldCredit += credit;
    credit = 0;
  }
  session.host.notify({ op: 'ack', sid: session.sid, number: session.number, ids: covered.map((e) => e.id), credit });
}
