import { MalformedRequestError } from '../../../errors.js';
import type { Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/**
 * `04` open session: `src` is the number, `data` its token, `flag` 1 push / 0
 * poll. The broker writes the answer (and then, for a push session, every
 * pending message); frames after it wait until the outcome is known here,
 * because whether they are allowed depends on it.
 */
export function handleOpenSession(session: Session, frame: Frame): void {
  if (session.state === 'open')
    throw new MalformedRequestError('a session is already open on this connection');
  session.opening = true;
  const request = {
    op: 'open',
    to: session.answerTo(frame),
    number: frame.src,
    token: frame.data,
    push: frame.flag,
    remote: session.address,
  } as const;
  session.askBlocking(request, (result) => {
    if (!result.ok) return;
    // The connection closed while the token was being checked: the host
    // tells the broker when it hears of the close (the session asked a 04).
    if (session.state === 'closed') return;
    session.state = 'open';
    session.number = frame.src;
    session.push = frame.flag;
    session.host.metrics?.session(session.kind, -1);
    session.kind = frame.flag ? 'push' : 'poll';
    session.host.metrics?.session(session.kind, 1);
    session.log.info({ push: frame.flag }, 'session opened');
  });
}
