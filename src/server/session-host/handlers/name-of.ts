import { Code } from '../../../protocol/codes.js';
import { encodeFrame, type Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/**
 * `12` whose number is this? -> `13`: `flag` 1 for a group, `data` its name
 * (docs/protocol.md §Names). The broker refuses a number that is neither
 * (404) and a group the asker is not in (403).
 */
export function handleNameOf(session: Session, frame: Frame): void {
  session.ask(frame, { op: 'nameOf', asker: frame.src, number: frame.dst }, (found) => [
    encodeFrame({
      code: Code.Name,
      dst: frame.dst,
      flag: found.kind === 'group',
      data: found.name,
    }),
  ]);
}
