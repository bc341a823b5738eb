import { MalformedRequestError, TooLargeError } from '../../../errors.js';
import { Code } from '../../../protocol/codes.js';
import { encodeFrame, type Frame, MAX_NAME_BYTES } from '../../../protocol/frame.js';
import { isStorableText } from '../../../store/render.js';
import type { Session } from '../session.js';

/**
 * docs/protocol.md §Names: a group's name is 1 to 64 bytes of storable text;
 * empty or not text is 400, longer is 413. The one rule for the `14`, the
 * HTTP API and the broker.
 */
export function checkGroupName(name: string): void {
  if (name === '') throw new MalformedRequestError('a group name must not be empty');
  if (!isStorableText(name))
    throw new MalformedRequestError('a group name must be well-formed Unicode without 0x00');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES)
    throw new TooLargeError(`group name over ${MAX_NAME_BYTES} bytes`);
}

/** `14` name a group -> `15` with the name stored; the broker checks the group (404) and membership (403). */
export function handleNameGroup(session: Session, frame: Frame): void {
  checkGroupName(frame.data);
  session.ask(
    frame,
    { op: 'nameGroup', src: frame.src, group: frame.dst, name: frame.data },
    (name) => [encodeFrame({ code: Code.GroupNamed, dst: frame.dst, data: name })],
  );
}
