import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  LEGACY_NONE_PENDING,
  type LegacyParse,
  type LegacyRequest,
  legacyDeliver,
  legacyRegistered,
  legacyRequestMayGrow,
  legacyValidity,
  parseLegacyRequest,
} from '../../../src/protocol/index.js';

const ALICE = '5511999990001';
const BOB = '5511999990002';
const CAROL = '5521988880003';
const TS = '1700000000';

const bytes = (s: string) => Buffer.from(s, 'utf8');
const INCOMPLETE: LegacyParse = { kind: 'incomplete' };
const invalid = expect.objectContaining({ kind: 'invalid', reason: expect.stringMatching(/./) });

// Requests whose length is fixed: complete as soon as that length is reached.
const fixedRequests: { name: string; wire: string; parsed: LegacyRequest }[] = [
  { name: '01 register', wire: '01', parsed: { kind: 'register' } },
  { name: '19 is this number valid', wire: '19' + BOB, parsed: { kind: 'validate', number: BOB } },
  { name: '03 poll', wire: '03' + ALICE, parsed: { kind: 'poll', number: ALICE } },
];

// Requests that end only when the client has finished writing.
const variableRequests: { name: string; wire: Buffer; parsed: LegacyRequest }[] = [
  {
    name: '05 send with text',
    wire: bytes('05' + ALICE + BOB + TS + 'oi, tudo bem?'),
    parsed: { kind: 'send', src: ALICE, dst: BOB, ts: 1_700_000_000, text: 'oi, tudo bem?' },
  },
  {
    name: '05 send with empty text',
    wire: bytes('05' + ALICE + BOB + TS),
    parsed: { kind: 'send', src: ALICE, dst: BOB, ts: 1_700_000_000, text: '' },
  },
  {
    name: '05 send with unicode text',
    wire: bytes('05' + ALICE + BOB + '0000000042' + 'olá 😀 語'),
    parsed: { kind: 'send', src: ALICE, dst: BOB, ts: 42, text: 'olá 😀 語' },
  },
  {
    name: '05 send whose text is digits that look like more fields',
    wire: bytes('05' + ALICE + BOB + TS + BOB + TS),
    parsed: { kind: 'send', src: ALICE, dst: BOB, ts: 1_700_000_000, text: BOB + TS },
  },
  {
    name: '05 send of a receipt, as the original sent them',
    wire: bytes('05' + BOB + ALICE + TS + 'recebida ' + TS),
    parsed: { kind: 'send', src: BOB, dst: ALICE, ts: 1_700_000_000, text: 'recebida ' + TS },
  },
  {
    name: '10 create group with one member',
    wire: bytes('10' + TS + BOB),
    parsed: { kind: 'createGroup', ts: 1_700_000_000, members: [BOB] },
  },
  {
    name: '10 create group with three members, in the order sent',
    wire: bytes('10' + TS + CAROL + ALICE + BOB),
    parsed: { kind: 'createGroup', ts: 1_700_000_000, members: [CAROL, ALICE, BOB] },
  },
];

describe('parseLegacyRequest: complete requests', () => {
  it.each(fixedRequests)(
    'parses $name as soon as its bytes are there, ended or not',
    ({ wire, parsed }) => {
      expect(parseLegacyRequest(bytes(wire), false)).toEqual(parsed);
      expect(parseLegacyRequest(bytes(wire), true)).toEqual(parsed);
    },
  );

  it.each(variableRequests)(
    'parses $name once the client has finished writing',
    ({ wire, parsed }) => {
      expect(parseLegacyRequest(wire, true)).toEqual(parsed);
    },
  );

  it.each(variableRequests)(
    'waits for more of $name while the client may still write',
    ({ wire }) => {
      expect(parseLegacyRequest(wire, false)).toEqual(INCOMPLETE);
    },
  );
});

describe('parseLegacyRequest: incomplete requests', () => {
  it.each(fixedRequests)(
    'waits at every offset of $name until its last byte',
    ({ wire, parsed }) => {
      const full = bytes(wire);
      for (let i = 0; i < full.length; i++) {
        expect(parseLegacyRequest(full.subarray(0, i), false), `${i} bytes`).toEqual(INCOMPLETE);
      }
      expect(parseLegacyRequest(full, false)).toEqual(parsed);
    },
  );

  it.each(fixedRequests)(
    'refuses every prefix of $name once the client has finished writing',
    ({ wire }) => {
      const full = bytes(wire);
      for (let i = 0; i < full.length; i++) {
        expect(parseLegacyRequest(full.subarray(0, i), true), `${i} bytes`).toEqual(invalid);
      }
    },
  );

  it.each(variableRequests)(
    'waits at every offset of $name while the client may still write',
    ({ wire }) => {
      for (let i = 0; i <= wire.length; i++) {
        expect(parseLegacyRequest(wire.subarray(0, i), false), `${i} bytes`).toEqual(INCOMPLETE);
      }
    },
  );

  it('reads a 05 cut short after its fixed part as a send with the text received so far', () => {
    const wire = bytes('05' + ALICE + BOB + TS + 'olá!');
    expect(parseLegacyRequest(wire.subarray(0, wire.length - 1), true)).toEqual({
      kind: 'send',
      src: ALICE,
      dst: BOB,
      ts: 1_700_000_000,
      text: 'olá',
    });
  });

  it('refuses a 05 cut short inside a character: its text is not valid UTF-8', () => {
    const wire = bytes('05' + ALICE + BOB + TS + 'olá');
    // Cut inside the 2-byte á.
    expect(parseLegacyRequest(wire.subarray(0, wire.length - 1), true)).toEqual(invalid);
  });
});

const invalidRequests: { name: string; wire: Buffer | string; ended: boolean }[] = [
  { name: 'an empty request', wire: '', ended: true },
  { name: 'a single byte', wire: '0', ended: true },
  { name: 'the unknown code 02 (an answer)', wire: '02' + ALICE, ended: false },
  { name: 'the unknown code 06 (an answer)', wire: '06', ended: false },
  { name: 'the unknown code 20 (an answer)', wire: '20', ended: true },
  { name: 'the version 1 code 04', wire: '04' + ALICE, ended: false },
  { name: 'the version 1 code 08', wire: '08', ended: false },
  {
    name: 'the version 1 code 12 (docs/protocol.md §Names)',
    wire: '12' + ALICE + BOB,
    ended: false,
  },
  {
    name: 'the version 1 code 14 (docs/protocol.md §Names)',
    wire: '14' + ALICE + BOB + 'x',
    ended: true,
  },
  { name: 'the unknown code 99', wire: '99', ended: false },
  { name: 'a code that is not digits', wire: 'ab', ended: false },
  {
    name: 'a version 1 frame padded to 256 bytes',
    wire: Buffer.concat([bytes('03' + ALICE), Buffer.alloc(241)]),
    ended: false,
  },
  { name: '01 followed by another byte', wire: '01x', ended: false },
  { name: '01 sent twice', wire: '0101', ended: false },
  { name: '19 with 12 digits', wire: '19' + BOB.slice(1), ended: true },
  { name: '19 with 14 digits', wire: '19' + BOB + '0', ended: false },
  { name: '19 with a letter', wire: '19' + BOB.slice(0, 12) + 'x', ended: false },
  { name: '03 with 12 digits', wire: '03' + ALICE.slice(1), ended: true },
  { name: '03 with a trailing newline', wire: '03' + ALICE + '\n', ended: false },
  { name: '03 with a space', wire: '03 ' + ALICE.slice(1), ended: false },
  { name: '05 shorter than its fixed part', wire: '05' + ALICE + BOB + TS.slice(1), ended: true },
  { name: '05 with a letter in src', wire: '05' + 'x' + ALICE.slice(1) + BOB + TS, ended: false },
  {
    name: '05 with a letter in dst',
    wire: '05' + ALICE + BOB.slice(1) + 'x' + TS + 'oi',
    ended: false,
  },
  {
    name: '05 with a sign in ts',
    wire: '05' + ALICE + BOB + '-' + TS.slice(1) + 'oi',
    ended: true,
  },
  // docs/protocol.md §Frame: the store takes only text a version 1 `06` can carry.
  {
    name: '05 whose text is invalid UTF-8 (a lone continuation byte)',
    wire: Buffer.concat([bytes('05' + ALICE + BOB + TS + 'a'), Buffer.from([0x80, 0x62])]),
    ended: true,
  },
  {
    name: '05 whose text ends inside a character',
    wire: Buffer.concat([bytes('05' + ALICE + BOB + TS + 'a'), Buffer.from([0xe2, 0x82])]),
    ended: true,
  },
  {
    name: '05 whose text is a UTF-8-encoded surrogate (CESU-8)',
    wire: Buffer.concat([bytes('05' + ALICE + BOB + TS), Buffer.from([0xed, 0xa0, 0x80])]),
    ended: true,
  },
  {
    name: '05 whose text is an overlong encoding',
    wire: Buffer.concat([bytes('05' + ALICE + BOB + TS), Buffer.from([0xc0, 0xaf])]),
    ended: true,
  },
  {
    name: '05 whose text contains a 0x00 byte',
    wire: Buffer.concat([bytes('05' + ALICE + BOB + TS + 'a'), Buffer.from([0x00]), bytes('b')]),
    ended: true,
  },
  { name: '10 shorter than its ts', wire: '10' + TS.slice(1), ended: true },
  { name: '10 with a letter in ts', wire: '10' + 'x' + TS.slice(1) + BOB, ended: false },
  { name: '10 with no member', wire: '10' + TS, ended: true },
  { name: '10 with a member of 12 digits', wire: '10' + TS + BOB.slice(1), ended: true },
  { name: '10 with a member and one byte more', wire: '10' + TS + BOB + '1', ended: true },
  {
    name: '10 with a member that is not digits',
    wire: '10' + TS + BOB + 'x' + CAROL.slice(1),
    ended: true,
  },
];

describe('parseLegacyRequest: invalid requests', () => {
  it.each(invalidRequests)('refuses $name (ended: $ended), giving a reason', ({ wire, ended }) => {
    const buf = typeof wire === 'string' ? bytes(wire) : wire;
    expect(parseLegacyRequest(buf, ended)).toEqual(invalid);
  });
});

/** Text a `05` may carry: any code points (surrogates only paired), no 0x00. */
const storableText = fc.string({ unit: 'binary' }).map((text) => text.replaceAll('\0', ''));

const anyRequestBytes = fc.oneof(
  fc.uint8Array({ maxLength: 80 }),
  // Valid codes with random tails reach every branch.
  fc
    .tuple(
      fc.constantFrom('01', '03', '05', '10', '19'),
      fc.oneof(
        fc.uint8Array({ maxLength: 80 }),
        fc.string({ unit: fc.constantFrom(...'0123456789x'), maxLength: 80 }).map(bytes),
      ),
    )
    .map(([code, tail]) => Buffer.concat([bytes(code), tail])),
);

describe('parseLegacyRequest: properties', () => {
  it('never throws, and says incomplete only while the client may still write', () => {
    fc.assert(
      fc.property(anyRequestBytes, fc.boolean(), (raw, ended) => {
        const result = parseLegacyRequest(Buffer.from(raw), ended);
        expect([
          'incomplete',
          'invalid',
          'register',
          'validate',
          'send',
          'createGroup',
          'poll',
        ]).toContain(result.kind);
        if (ended) expect(result.kind).not.toBe('incomplete');
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('never changes a verdict reached before the end when the client then finishes', () => {
    fc.assert(
      fc.property(anyRequestBytes, (raw) => {
        const early = parseLegacyRequest(Buffer.from(raw), false);
        if (early.kind !== 'incomplete')
          expect(parseLegacyRequest(Buffer.from(raw), true)).toEqual(early);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('never yields a 05 whose text a version 1 frame could not carry (invalid UTF-8, a lone surrogate, 0x00)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), (tail) => {
        const result = parseLegacyRequest(
          Buffer.concat([bytes('05' + ALICE + BOB + TS), tail]),
          true,
        );
        if (result.kind !== 'send') return;
        expect(result.text.includes('\0')).toBe(false);
        expect(Buffer.from(result.text, 'utf8').equals(tail)).toBe(true);
      }),
      { seed: 42, numRuns: 5000 },
    );
  });

  it('keeps refusing once it has refused, however many bytes follow', () => {
    fc.assert(
      fc.property(
        anyRequestBytes,
        fc.uint8Array({ minLength: 1, maxLength: 20 }),
        fc.boolean(),
        (raw, more, ended) => {
          if (parseLegacyRequest(Buffer.from(raw), false).kind !== 'invalid') return;
          expect(parseLegacyRequest(Buffer.concat([raw, more]), ended).kind).toBe('invalid');
        },
      ),
      { seed: 42, numRuns: 2000 },
    );
  });
});

describe('legacy answers', () => {
  it('answers 01 with 02 and the new number, 15 bytes', () => {
    const answer = legacyRegistered(ALICE);
    expect(answer.equals(Buffer.from('025511999990001', 'latin1'))).toBe(true);
    expect(answer).toHaveLength(15);
  });

  it.each(['', '551199999000', '55119999900012', '551199999000x'])(
    'refuses to register the number %j',
    (number) => {
      expect(() => legacyRegistered(number)).toThrow(RangeError);
    },
  );

  it('answers 19 with 201 for a registered number and 200 otherwise', () => {
    expect(legacyValidity(true).toString('latin1')).toBe('201');
    expect(legacyValidity(false).toString('latin1')).toBe('200');
  });

  it('answers a 03 with nothing pending with the bare 06', () => {
    expect(LEGACY_NONE_PENDING.equals(Buffer.from([0x30, 0x36]))).toBe(true);
  });

  it('delivers a message as 06, src, dst, zero-padded ts and the UTF-8 text, with no padding', () => {
    const answer = legacyDeliver({ src: BOB, dst: ALICE, ts: 42, text: 'olá' });
    const expected = Buffer.concat([
      Buffer.from('06' + BOB + ALICE + '0000000042', 'latin1'),
      Buffer.from([0x6f, 0x6c, 0xc3, 0xa1]),
    ]);
    expect(answer.equals(expected)).toBe(true);
    expect(answer).toHaveLength(2 + 13 + 13 + 10 + 4);
  });

  it('delivers a message with empty text as its 38-byte head alone', () => {
    const answer = legacyDeliver({ src: BOB, dst: ALICE, ts: 1_700_000_000, text: '' });
    expect(answer.toString('latin1')).toBe('06' + BOB + ALICE + TS);
  });

  it('delivers long text whole: the legacy protocol has no 217-byte limit', () => {
    const text = '😀'.repeat(100);
    expect(legacyDeliver({ src: BOB, dst: ALICE, ts: 1, text }).subarray(38).toString('utf8')).toBe(
      text,
    );
  });

  it.each([
    { name: 'a src of 12 digits', message: { src: BOB.slice(1), dst: ALICE, ts: 1, text: '' } },
    {
      name: 'a dst with a letter',
      message: { src: BOB, dst: 'x' + ALICE.slice(1), ts: 1, text: '' },
    },
    { name: 'a negative ts', message: { src: BOB, dst: ALICE, ts: -1, text: '' } },
    { name: 'a fractional ts', message: { src: BOB, dst: ALICE, ts: 1.5, text: '' } },
    { name: 'a ts of 11 digits', message: { src: BOB, dst: ALICE, ts: 10_000_000_000, text: '' } },
  ])('refuses to deliver a message with $name', ({ message }) => {
    expect(() => legacyDeliver(message)).toThrow(RangeError);
  });

  it('delivers in the layout of a 05: the same message parses back from it', () => {
    const digits = fc.string({
      unit: fc.constantFrom(...'0123456789'),
      minLength: 13,
      maxLength: 13,
    });
    fc.assert(
      fc.property(
        digits,
        digits,
        fc.integer({ min: 0, max: 9_999_999_999 }),
        storableText,
        (src, dst, ts, text) => {
          const wire = legacyDeliver({ src, dst, ts, text });
          wire.write('05', 0, 'latin1');
          expect(parseLegacyRequest(wire, true)).toEqual({ kind: 'send', src, dst, ts, text });
        },
      ),
      { seed: 42, numRuns: 1000 },
    );
  });
});

describe('legacyRequestMayGrow: bytes that cannot yet be a whole request (docs/protocol.md §Legacy listener)', () => {
  const SRC = '5511999990001';
  const DST = '5511999990002';
  const TS = '1700000000';
  const cases: [string, Buffer, boolean][] = [
    ['nothing yet', Buffer.alloc(0), true],
    ['half a code', Buffer.from('0'), true],
    ['01, whole', Buffer.from('01'), false],
    ['19 with 12 digits', Buffer.from('19551199999000'), true],
    ['03 with its number', Buffer.from('03' + SRC), false],
    ['05 short of its ts', Buffer.from('05' + SRC + DST + '17'), true],
    ['05 with its fixed part and no text', Buffer.from('05' + SRC + DST + TS), false],
    ['05 with text', Buffer.from('05' + SRC + DST + TS + 'oi'), false],
    [
      '05 cut after a 2-byte lead',
      Buffer.concat([Buffer.from('05' + SRC + DST + TS + 'a'), Buffer.from([0xc3])]),
      true,
    ],
    ['05 ending in a whole 2-byte character', Buffer.from('05' + SRC + DST + TS + 'ção'), false],
    [
      '05 cut inside a 4-byte character',
      Buffer.concat([Buffer.from('05' + SRC + DST + TS), Buffer.from('😀').subarray(0, 3)]),
      true,
    ],
    ['05 ending in a whole 4-byte character', Buffer.from('05' + SRC + DST + TS + '😀'), false],
    ['10 with no member', Buffer.from('10' + TS), true],
    ['10 with part of a number', Buffer.from('10' + TS + '55119'), true],
    ['10 with two members', Buffer.from('10' + TS + SRC + DST), false],
    ['an unknown code', Buffer.from('77'), false],
  ];
  it.each(cases)('%s -> %s', (_name, bytes, grows) => {
    expect(legacyRequestMayGrow(bytes)).toBe(grows);
  });
});
