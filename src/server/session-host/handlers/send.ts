import type { Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/**
 * `05` send -> `07` with the message id. The broker writes the `07` itself,
 * straight to the main thread, once the transaction holding the row has
 * committed (docs/protocol.md §Delivery guarantees): this thread does not
 * see the answer at all.
 */
export function handleSend(session: Session, frame: Frame): void {
  session.host.notify({
    op: 'send',
    to: session.answerTo(frame),
    flag: frame.flag,
    text: frame.data,
  });
}
