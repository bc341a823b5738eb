import { describe, expect, it } from 'vitest';
import { readReceiptText, toDelivery } from '../../../src/client/deliveries.js';

const ME = '1111111111111';
const BOB = '2222222222222';
const GROUP = '5555555555555';
const T = 1_700_000_000;

describe('toDelivery', () => {
  it('reads a direct message: the chat is the sender', () => {
    expect(toDelivery({ src: BOB, dst: ME, ts: T, flag: true, data: 'oi' }, ME)).toEqual({
      type: 'message',
      sender: BOB,
      chat: { kind: 'user', number: BOB },
      ts: T,
      text: 'oi',
      wantsReceipt: true,
    });
  });

  it('reads a group message: the chat is the group', () => {
    expect(
      toDelivery({ src: BOB, dst: GROUP, ts: T, flag: false, data: 'oi grupo' }, ME),
    ).toMatchObject({
      type: 'message',
      sender: BOB,
      chat: { kind: 'group', number: GROUP },
      wantsReceipt: false,
    });
  });

  const receipts: [string, string, 'recebida' | 'lida', 'user' | 'group'][] = [
    ['recebida, direct', ME, 'recebida', 'user'],
    ['lida, direct', ME, 'lida', 'user'],
    ['recebida, group', GROUP, 'recebida', 'group'],
    ['lida, group', GROUP, 'lida', 'group'],
  ];
  for (const [name, dst, kind, chatKind] of receipts) {
    it(`reads a receipt (${name})`, () => {
      const delivery = toDelivery(
        { src: BOB, dst, ts: T + 60, flag: false, data: `${kind} 0001234567` },
        ME,
      );
      expect(delivery).toEqual({
        type: 'receipt',
        kind,
        from: BOB,
        chat: { kind: chatKind, number: chatKind === 'user' ? BOB : GROUP },
        ts: 1_234_567,
        at: T + 60,
      });
    });
  }

  it('takes receipt-like text as a message when it asks for receipts or is not exactly a receipt', () => {
    for (const [flag, data] of [
      [true, 'recebida 1700000000'],
      [false, 'recebida 170000000'],
      [false, 'lida 1700000000 '],
      [false, 'Lida 1700000000'],
      [false, 'recebida'],
      [false, 'lida  1700000000'],
    ] as const) {
      expect(toDelivery({ src: BOB, dst: ME, ts: T, flag, data }, ME).type, data).toBe('message');
    }
  });

  it('reads a group creation notice only with flag 0 and a group as dst', () => {
    expect(
      toDelivery({ src: BOB, dst: GROUP, ts: T, flag: false, data: 'grupo criado' }, ME),
    ).toEqual({
      type: 'groupCreated',
      group: GROUP,
      creator: BOB,
      ts: T,
    });
    expect(
      toDelivery({ src: BOB, dst: ME, ts: T, flag: false, data: 'grupo criado' }, ME).type,
    ).toBe('message');
    expect(
      toDelivery({ src: BOB, dst: GROUP, ts: T, flag: true, data: 'grupo criado' }, ME).type,
    ).toBe('message');
  });
});

describe('readReceiptText', () => {
  it('is lida and the 10-digit ts', () => {
    expect(readReceiptText(T)).toBe('lida 1700000000');
    expect(readReceiptText(42)).toBe('lida 0000000042');
  });
});
