/**
 * Issue #9 item 3: the encoder of a `06` never throws on a stored row,
 * whatever the row holds (rows stored before text was checked, or by a
 * legacy client): toWireMessage always yields what encodeFrame accepts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeFrame, encodeFrame } from '../../../src/protocol/index.js';
import { isStorableText, toWireMessage } from '../../../src/store/render.js';
import { MessageKind, type PendingMessage } from '../../../src/store/store.js';

const digits = fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: 13, maxLength: 13 });
/** Any UTF-16 string: lone surrogates, NUL and every other code unit included. */
const anyUtf16 = fc.string({
  unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
  maxLength: 300,
});
const anyText = fc.oneof(
  anyUtf16,
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 120 }),
);

const anyRow = fc.record({
  id: fc.integer({ min: 1, max: 2 ** 40 }),
  messageId: fc.integer({ min: 1, max: 2 ** 40 }),
  storedAt: fc.integer({ min: 0, max: 2 ** 45 }),
  recipient: digits,
  sender: digits,
  group: fc.option(digits, { nil: null }),
  ts: fc.integer({ min: 0, max: 9_999_999_999 }),
  wantsReceipt: fc.boolean(),
  kind: fc.constantFrom(MessageKind.Text, MessageKind.GroupCreated, MessageKind.Receipt),
  body: anyText,
}) satisfies fc.Arbitrary<PendingMessage>;

describe('toWireMessage', () => {
  it('never yields a 06 that encodeFrame refuses, for any row of any kind', () => {
    fc.assert(
      fc.property(anyRow, (row) => {
        const frame = encodeFrame({ code: '06', ...toWireMessage(row) });
        expect(decodeFrame(frame).code).toBe('06');
      }),
      { seed: 9, numRuns: 5_000 },
    );
  });

  it('carries storable text of up to 217 bytes unchanged', () => {
    fc.assert(
      fc.property(anyRow, (row) => {
        fc.pre(
          row.kind === MessageKind.Text &&
            isStorableText(row.body) &&
            Buffer.byteLength(row.body) <= 217,
        );
        expect(toWireMessage(row).data).toBe(row.body);
      }),
      { seed: 9, numRuns: 2_000 },
    );
  });

  it('a 06 comes from the sender, to the group or else the recipient; only a text asks for receipts; a creation notice reads grupo criado', () => {
    fc.assert(
      fc.property(anyRow, (row) => {
        const wire = toWireMessage(row);
        expect(wire).toMatchObject({ id: row.id, src: row.sender, ts: row.ts });
        expect(wire.dst).toBe(row.group ?? row.recipient);
        expect(wire.flag).toBe(row.kind === MessageKind.Text && row.wantsReceipt);
        if (row.kind === MessageKind.GroupCreated) expect(wire.data).toBe('grupo criado');
      }),
      { seed: 9, numRuns: 2_000 },
    );
  });

  it('repairs what a frame cannot hold: a lone surrogate becomes U+FFFD, NUL bytes go, text over 217 bytes is cut at a character boundary', () => {
    const row = (body: string): PendingMessage => ({
      id: 1,
      messageId: 1,
      storedAt: 0,
      recipient: '1'.repeat(13),
      sender: '2'.repeat(13),
      group: null,
      ts: 1,
      wantsReceipt: false,
      kind: MessageKind.Text,
      body,
    });
    expect(toWireMessage(row('a\ud800b')).data).toBe('a\uFFFDb');
    expect(toWireMessage(row('a\0b\0\udc00')).data).toBe('ab\uFFFD');
    expect(toWireMessage(row('x'.repeat(213) + '\ud800' + '😀')).data).toBe(
      'x'.repeat(213) + '\uFFFD',
    );
  });
});
