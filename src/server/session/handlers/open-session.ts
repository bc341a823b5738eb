import { MalformedRequestError } from '../../../errors.js';
import { Code } from '../../../protocol/codes.js';
import { encodeFrame, type Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/**
 * `04` open session: `src` is the number, `data` its token, `flag` 1 push / 0
 * poll. Frames after it wait until the broker has checked the token, because
 * whether they are allowed depends on the answer.
 */
export function handleOpenSession(session: Session, frame: Frame): void {
  if (session.state === 'open') throw new MalformedRequestError('a session is already open on this connection');
  session.ask(frame, { op: 'open', sid: session.sid, number: frame.src, token: frame.data, push: frame.flag, remote: session.address }, (value, slot) => {
    if (value.kind !== 'opened') return;
    // The connection closed while the token was being checked. The host did
    // not tell the broker then (the session was still anonymous), but the
    // broker has just routed pushes to it: without this, the route would stay
    // until the next push session of this number replaced it.
    if (session.state === 'closed') {
      if (frame.flag) session.host.notify({ op: 'close', sid: session.sid });
      return;
    }
    session.state = 'open';
    session.number = frame.src;
    session.push = frame.flag;
    session.host.metrics?.session(session.kind, -1);
    session.kind = frame.flag ? 'push' : 'poll';
    session.host.metrics?.session(session.kind, 1);
    session.log.info({ push: frame.flag }, 'session opened');
    slot.frames.push(encodeFrame({ code: Code.OpenSession, data: 'ok' }));
  }, true);
}
