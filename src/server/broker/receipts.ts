import { receivedText } from '../../store/render.js';
import { MessageKind, type NewMessage, type PendingMessage } from '../../store/store.js';

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * docs/protocol.md §Receipts: delivered (two checks), made by the server, and
 * never for a message that did not ask for it. Server-made rows are not
 * refused by the quotas (what caused them was admitted), but they are counted.
 */
export function wantsReceipt(row: PendingMessage): boolean {
  return row.kind === MessageKind.Text && row.wantsReceipt;
}

/** The `recebida` row telling `recipient` that `receivedBy` received `original`. */
export function receiptOf(
  original: PendingMessage,
  recipient: string,
  receivedBy: string,
): NewMessage {
  return {
    recipient,
    sender: receivedBy,
    group: original.group,
    ts: nowSeconds(),
    wantsReceipt: false,
    kind: MessageKind.Receipt,
    body: receivedText(original.ts),
  };
}
