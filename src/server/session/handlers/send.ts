import { Code } from '../../../protocol/codes.js';
import { encodeFrame, type Frame } from '../../../protocol/frame.js';
import type { Session } from '../session.js';

/** `05` send -> `07` with the message id, once the broker has committed it. */
export function handleSend(session: Session, frame: Frame): void {
  const request = { op: 'send', src: frame.src, dst: frame.dst, ts: frame.ts, flag: frame.flag, text: frame.data } as const;
  session.ask(frame, request, (value, slot) => {
    if (value.kind !== 'stored') return;
    // docs/protocol.md §Delivery guarantees: 07 only after the commit that holds the message.
    slot.frames.push(encodeFrame({ code: Code.Stored, src: frame.src, dst: frame.dst, ts: frame.ts, data: String(value.id) }));
  });
}
