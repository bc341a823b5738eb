import { Code } from '../protocol/codes.js';
import { type FrameInit, tsField } from '../protocol/frame.js';
import { truncateUtf8 } from '../protocol/text.js';
import { MessageKind, type PendingMessage } from './store.js';

/** A message as a version 1 `06` carries it, plus the row id its `08` will acknowledge. */
export interface WireMessage {
  id: number;
  /** When the row committed (ms since the epoch), for the delivery latency histogram. */
  storedAt?: number;
  src: string;
  dst: string;
  ts: number;
  flag: boolean;
  data: string;
}

/** A pending row as the legacy listener needs it (it renders the original format itself). */
export interface LegacyRow {
  id: number;
  kind: number;
  sender: string;
  recipient: string;
  group: string | null;
  ts: number;
  body: string;
}

/** docs/protocol.md §Delivery guarantees: the text of a group's creation notice in version 1. */
export const GROUP_CREATED_TEXT = 'grupo criado';

/** The receipt text the server makes when a message is acknowledged (docs/protocol.md §Receipts). */
export function receivedText(ts: number): string {
  return `recebida ${tsField(ts)}`;
}

/** docs/protocol.md §Receipts: `lida <ts>`, sent by a client once the person has seen a message. */
export const READ_RECEIPT = /^lida (\d{10})$/;

/** String methods of ES2024, which Node 20 has (the project's lib is ES2022). */
interface WellFormedString {
  isWellFormed(): boolean;
  toWellFormed(): string;
}

/**
 * docs/protocol.md §Frame: text the store may take is what a `06` can carry:
 * well-formed Unicode (no lone surrogate, which UTF-8 cannot encode) and no
 * 0x00. Every path into the store checks it (400 otherwise).
 */
export function isStorableText(text: string): boolean {
  return !text.includes('\0') && (text as unknown as WellFormedString).isWellFormed();
}

/**
 * Text as a frame's `data` can hold it, whatever the row holds: a row stored
 * before the checks above, or by a legacy client (docs/protocol.md §Legacy
 * listener: longer text is cut to 217 bytes at a character boundary) must not
 * make the encoder of the recipient's `06` throw. Lone surrogates become
 * U+FFFD and 0x00 bytes go.
 */
function frameText(text: string): string {
  let safe = (text as unknown as WellFormedString).toWellFormed();
  if (safe.includes('\0')) safe = safe.replaceAll('\0', '');
  return truncateUtf8(safe);
}

/**
 * A pending row as a version 1 `06` carries it; its `data` always encodes. A
 * group's creation notice reads GROUP_CREATED_TEXT; only a text may ask for
 * receipts (a notice or a receipt never does).
 */
export function toWireMessage(row: PendingMessage): WireMessage {
  const notice = row.kind === MessageKind.GroupCreated;
  return {
    id: row.id,
    storedAt: row.storedAt,
    src: row.sender,
    dst: row.group ?? row.recipient,
    ts: row.ts,
    flag: !notice && row.kind !== MessageKind.Receipt && row.wantsReceipt,
    data: notice ? GROUP_CREATED_TEXT : frameText(row.body),
  };
}

export function toLegacyRow(row: PendingMessage): LegacyRow {
  return {
    id: row.id,
    kind: row.kind,
    sender: row.sender,
    recipient: row.recipient,
    group: row.group,
    ts: row.ts,
    body: row.body,
  };
}

/**
 * A pending row as the original protocol shows it (docs/protocol.md §Legacy
 * listener): a group's messages come from the group with the sender's number
 * appended to the text; receipts read `recebida`; a creation notice is the
 * member list.
 */
export function toLegacyMessage(row: LegacyRow): {
  src: string;
  dst: string;
  ts: number;
  text: string;
} {
  if (row.kind === MessageKind.GroupCreated) {
    return { src: row.group ?? row.sender, dst: row.recipient, ts: row.ts, text: row.body };
  }
  const text = row.kind === MessageKind.Receipt ? 'recebida' : row.body;
  if (row.group !== null)
    return { src: row.group, dst: row.recipient, ts: row.ts, text: text + row.sender };
  return { src: row.sender, dst: row.recipient, ts: row.ts, text };
}

/** The `09` answering a frame: it echoes the frame's src, dst and ts (docs/protocol.md §Codes). */
export function errorFrameInit(
  cause: { src: string; dst: string; ts: number },
  status: number,
  reason: string,
): FrameInit {
  return {
    code: Code.Error,
    src: cause.src,
    dst: cause.dst,
    ts: cause.ts,
    data: `${status} ${reason}`.slice(0, 200),
  };
}
