import type { MessageKind, PendingMessage } from './store.js';

/**
 * A row of the pending table as both SQL engines return it (the columns of
 * src/store/schema.ts and postgres-schema.ts). SQLite has no boolean type and
 * gives `wants_receipt` as 0 or 1; PostgreSQL gives a boolean.
 */
export interface PendingRow {
  id: number;
  message_id: number;
  recipient: string;
  sender: string;
  group_number: string | null;
  ts: number;
  wants_receipt: number | boolean;
  kind: number;
  body: string;
  stored_at: number;
}

export function toPending(row: PendingRow): PendingMessage {
  return {
    id: row.id,
    messageId: row.message_id,
    recipient: row.recipient,
    sender: row.sender,
    group: row.group_number,
    ts: row.ts,
    wantsReceipt: row.wants_receipt === true || row.wants_receipt === 1,
    kind: row.kind as MessageKind,
    body: row.body,
    storedAt: row.stored_at,
  };
}
