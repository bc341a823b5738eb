/** Numbers and a message row shared by the store suites (conformance, sync transactions, PostgreSQL). */
import { MessageKind, type NewMessage } from '../../../src/store/store.js';

export const ALICE = '1000000000001';
export const BOB = '1000000000002';
export const CAROL = '1000000000003';
export const DAVE = '1000000000004';
export const GROUP = '9000000000001';

/** A direct text from Alice to Bob, without receipts, unless overridden. */
export function message(overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    recipient: BOB,
    sender: ALICE,
    group: null,
    ts: 1_700_000_000,
    wantsReceipt: false,
    kind: MessageKind.Text,
    body: 'oi',
    ...overrides,
  };
}
