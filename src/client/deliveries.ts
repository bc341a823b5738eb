import { type Frame, tsField } from '../protocol/frame.js';

/** A conversation: with one user (direct messages) or a group. */
export interface ChatRef {
  kind: 'user' | 'group';
  /** 13 digits: the other user, or the group. */
  number: string;
}

/** A text message someone sent (event `message`). */
export interface Message {
  type: 'message';
  /** 13 digits: who wrote it. */
  sender: string;
  /** Where it belongs: the sender for a direct message, the group for a group message. */
  chat: ChatRef;
  /** Unix seconds, as the sender stamped it; receipts name the message by this. */
  ts: number;
  text: string;
  /** The sender asked for receipts (flag 1): `markRead` answers only these. */
  wantsReceipt: boolean;
}

/** A check mark about a message this client sent (event `receipt`). */
export interface Receipt {
  type: 'receipt';
  /** `recebida`: delivered to `from` (two checks); `lida`: `from` has read it (blue). */
  kind: 'recebida' | 'lida';
  /** 13 digits: the recipient who received or read the message. */
  from: string;
  /** The chat of the message it is about: `from` for a direct message, else the group. */
  chat: ChatRef;
  /** The ts of the message it is about (as returned by `send`). */
  ts: number;
  /** When the receipt was made, Unix seconds. */
  at: number;
}

/** This client was made a member of a new group (event `groupCreated`). */
export interface GroupCreated {
  type: 'groupCreated';
  group: string;
  creator: string;
  ts: number;
}

/** Whatever a `06` carries, as the application sees it. */
export type Delivery = Message | Receipt | GroupCreated;

/** docs/protocol.md §Receipts: `recebida <ts>` / `lida <ts>`, the 10-digit ts of the message. */
const RECEIPT = /^(recebida|lida) ([0-9]{10})$/;
/** docs/protocol.md §Delivery guarantees: the notice each member gets when a group is created. */
export const GROUP_CREATED_TEXT = 'grupo criado';

/**
 * Reads a `06` received by `self`. A frame addressed to `self` is a direct
 * message whose chat is its sender; any other `dst` is a group (docs/protocol.md
 * §Delivery guarantees: a group's members get `dst` the group). Receipts and
 * group notices are recognised only with flag 0, as the server sends them; the
 * same text with flag 1 is an ordinary message someone typed.
 */
export function toDelivery(
  frame: Pick<Frame, 'src' | 'dst' | 'ts' | 'flag' | 'data'>,
  self: string,
): Delivery {
  const chat: ChatRef =
    frame.dst === self ? { kind: 'user', number: frame.src } : { kind: 'group', number: frame.dst };
  if (!frame.flag) {
    const receipt = RECEIPT.exec(frame.data);
    if (receipt) {
      return {
        type: 'receipt',
        kind: receipt[1] as Receipt['kind'],
        from: frame.src,
        chat,
        ts: Number(receipt[2]),
        at: frame.ts,
      };
    }
    if (frame.data === GROUP_CREATED_TEXT && chat.kind === 'group') {
      return { type: 'groupCreated', group: frame.dst, creator: frame.src, ts: frame.ts };
    }
  }
  return {
    type: 'message',
    sender: frame.src,
    chat,
    ts: frame.ts,
    text: frame.data,
    wantsReceipt: frame.flag,
  };
}

/** `lida <ts>`: the text of a read receipt for a message stamped `ts`. */
export function readReceiptText(ts: number): string {
  return `lida ${tsField(ts)}`;
}
