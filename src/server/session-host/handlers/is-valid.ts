import { Code } from '../../../protocol/codes.js';
import { encodeFrame, type Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/** `19` is this number valid? -> `20` with `1` for a registered user or group, `0` otherwise. */
export function handleIsValid(session: Session, frame: Frame): void {
  session.ask(frame, { op: 'validate', number: frame.dst }, (valid) => [
    encodeFrame({ code: Code.Validity, dst: frame.dst, data: valid ? '1' : '0' }),
  ]);
}
