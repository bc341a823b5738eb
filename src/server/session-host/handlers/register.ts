import { TooLargeError } from '../../../errors.js';
import { Code } from '../../../protocol/codes.js';
import { encodeFrame, type Frame, MAX_NAME_BYTES } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/** docs/protocol.md §Codes: a display name is at most 64 bytes. */

/** `01` register -> `02` with the new number and its secret token. */
export function handleRegister(session: Session, frame: Frame): void {
  if (Buffer.byteLength(frame.data, 'utf8') > MAX_NAME_BYTES)
    throw new TooLargeError(`display name over ${MAX_NAME_BYTES} bytes`);
  session.ask(frame, { op: 'register', name: frame.data, remote: session.address }, (value) => {
    session.log.info({ number: value.number }, 'registered');
    return [encodeFrame({ code: Code.Registered, dst: value.number, data: value.token })];
  });
}
