import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FrameError } from '../../../src/errors.js';
import {
  Code,
  DATA_SIZE,
  decodeFrame,
  encodeFrame,
  encodeFrameInto,
  FRAME_SIZE,
  type Frame,
  type FrameField,
  NOBODY,
  peekCode,
  tsField,
} from '../../../src/protocol/index.js';

const ALICE = '5511999990001';
const BOB = '5511999990002';
const CAROL = '5521988880003';
const GROUP = '9000000000007';
const TS = 1_700_000_000;
const TOKEN = '3f9c2a7be0d14c58a6e2f1b09d7c4e31';

/**
 * Builds a 256-byte frame by hand, independently of encodeFrame: the 39-byte
 * ASCII header as written on the wire, then the data bytes, then 0x00 padding.
 */
function raw(header: string, data: Buffer | string = ''): Buffer {
  if (header.length !== 39) throw new Error(`a header is 39 bytes, got ${header.length}`);
  const buf = Buffer.alloc(FRAME_SIZE);
  buf.write(header, 0, 'latin1');
  (typeof data === 'string' ? Buffer.from(data, 'utf8') : data).copy(buf, 39);
  return buf;
}

/** A copy of `buf` with `bytes` written at `offset`. */
function patched(buf: Buffer, offset: number, bytes: string | number[]): Buffer {
  const copy = Buffer.from(buf);
  (typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : Buffer.from(bytes)).copy(
    copy,
    offset,
  );
  return copy;
}

function frame(init: Partial<Frame> & { code: Code }): Frame {
  return { src: NOBODY, dst: NOBODY, ts: 0, flag: false, data: '', ...init };
}

interface ValidCase {
  name: string;
  frame: Frame;
  bytes: Buffer;
}

const Z = NOBODY;
const T0 = '0000000000';

const valid: ValidCase[] = [
  {
    name: '01 register with a display name',
    frame: frame({ code: Code.Register, data: 'Maria' }),
    bytes: raw('01' + Z + Z + T0 + '0', 'Maria'),
  },
  {
    name: '01 register with every field zero',
    frame: frame({ code: Code.Register }),
    bytes: raw('01' + Z + Z + T0 + '0'),
  },
  {
    name: '02 registered carrying the new number and its token',
    frame: frame({ code: Code.Registered, dst: ALICE, data: TOKEN }),
    bytes: raw('02' + Z + ALICE + T0 + '0', TOKEN),
  },
  {
    name: '03 poll',
    frame: frame({ code: Code.Poll, src: ALICE }),
    bytes: raw('03' + ALICE + Z + T0 + '0'),
  },
  {
    name: '04 open a push session',
    frame: frame({ code: Code.OpenSession, src: ALICE, flag: true, data: TOKEN }),
    bytes: raw('04' + ALICE + Z + T0 + '1', TOKEN),
  },
  {
    name: '05 send with unicode text, written byte by byte',
    frame: frame({ code: Code.Send, src: ALICE, dst: BOB, ts: TS, flag: true, data: 'olá 😀' }),
    bytes: raw(
      '05' + ALICE + BOB + '1700000000' + '1',
      Buffer.from([0x6f, 0x6c, 0xc3, 0xa1, 0x20, 0xf0, 0x9f, 0x98, 0x80]),
    ),
  },
  {
    name: '05 send whose text begins with U+FEFF',
    frame: frame({ code: Code.Send, src: ALICE, dst: BOB, ts: TS, data: '\uFEFFbom dia' }),
    bytes: raw(
      '05' + ALICE + BOB + '1700000000' + '0',
      Buffer.from([0xef, 0xbb, 0xbf, ...Buffer.from('bom dia')]),
    ),
  },
  {
    name: '06 deliver carrying a receipt',
    frame: frame({
      code: Code.Deliver,
      src: BOB,
      dst: ALICE,
      ts: TS + 5,
      data: 'recebida 1700000000',
    }),
    bytes: raw('06' + BOB + ALICE + '1700000005' + '0', 'recebida 1700000000'),
  },
  {
    name: '07 stored with the message id',
    frame: frame({ code: Code.Stored, src: ALICE, dst: BOB, ts: TS, data: '42' }),
    bytes: raw('07' + ALICE + BOB + '1700000000' + '0', '42'),
  },
  {
    name: '08 ack with a cumulative count',
    frame: frame({ code: Code.Ack, src: ALICE, data: '3' }),
    bytes: raw('08' + ALICE + Z + T0 + '0', '3'),
  },
  {
    name: '09 error with a status and a reason',
    frame: frame({
      code: Code.Error,
      src: ALICE,
      dst: BOB,
      ts: TS,
      data: '404 unknown destination',
    }),
    bytes: raw('09' + ALICE + BOB + '1700000000' + '0', '404 unknown destination'),
  },
  {
    name: '10 create group with two other members',
    frame: frame({ code: Code.CreateGroup, src: ALICE, ts: TS, data: BOB + CAROL }),
    bytes: raw('10' + ALICE + Z + '1700000000' + '0', BOB + CAROL),
  },
  {
    name: '11 group created',
    frame: frame({ code: Code.GroupCreated, src: ALICE, dst: GROUP, ts: TS }),
    bytes: raw('11' + ALICE + GROUP + '1700000000' + '0'),
  },
  {
    name: '12 whose number is this',
    frame: frame({ code: Code.NameOf, src: ALICE, dst: GROUP }),
    bytes: raw('12' + ALICE + GROUP + T0 + '0'),
  },
  {
    name: '13 name of a group (flag 1), in UTF-8',
    frame: frame({ code: Code.Name, dst: GROUP, flag: true, data: 'Família 👪' }),
    bytes: raw('13' + Z + GROUP + T0 + '1', 'Família 👪'),
  },
  {
    name: '13 name of a user that has none (flag 0, empty data)',
    frame: frame({ code: Code.Name, dst: BOB }),
    bytes: raw('13' + Z + BOB + T0 + '0'),
  },
  {
    name: '14 name a group',
    frame: frame({ code: Code.NameGroup, src: ALICE, dst: GROUP, data: 'Família' }),
    bytes: raw('14' + ALICE + GROUP + T0 + '0', 'Família'),
  },
  {
    name: '15 group named',
    frame: frame({ code: Code.GroupNamed, dst: GROUP, data: 'Família' }),
    bytes: raw('15' + Z + GROUP + T0 + '0', 'Família'),
  },
  {
    name: '19 is this number valid',
    frame: frame({ code: Code.IsValid, dst: BOB }),
    bytes: raw('19' + Z + BOB + T0 + '0'),
  },
  {
    name: '20 validity',
    frame: frame({ code: Code.Validity, dst: BOB, data: '1' }),
    bytes: raw('20' + Z + BOB + T0 + '0', '1'),
  },
  {
    name: '05 send with 217 bytes of ASCII data and the largest ts',
    frame: frame({
      code: Code.Send,
      src: ALICE,
      dst: BOB,
      ts: 9_999_999_999,
      data: 'x'.repeat(217),
    }),
    bytes: raw('05' + ALICE + BOB + '9999999999' + '0', 'x'.repeat(217)),
  },
  {
    name: '05 send with 217 bytes of data ending in a 3-byte character',
    frame: frame({ code: Code.Send, src: ALICE, dst: BOB, ts: TS, data: 'x' + '€'.repeat(72) }),
    bytes: raw(
      '05' + ALICE + BOB + '1700000000' + '0',
      Buffer.concat([Buffer.from('x'), ...Array(72).fill(Buffer.from([0xe2, 0x82, 0xac]))]),
    ),
  },
  {
    name: '05 send with 217 bytes of data made of 4-byte emoji',
    frame: frame({ code: Code.Send, src: ALICE, dst: BOB, ts: TS, data: '😀'.repeat(54) + 'a' }),
    bytes: raw('05' + ALICE + BOB + '1700000000' + '0', '😀'.repeat(54) + 'a'),
  },
];

describe('decodeFrame', () => {
  it.each(valid)('decodes $name', ({ frame, bytes }) => {
    expect(decodeFrame(bytes)).toEqual(frame);
  });

  it('decodes a plain Uint8Array as well as a Buffer', () => {
    const bytes = valid[5]!.bytes;
    expect(decodeFrame(new Uint8Array(bytes))).toEqual(valid[5]!.frame);
  });
});

describe('encodeFrame', () => {
  it.each(valid)('encodes $name into exactly its 256 bytes', ({ frame, bytes }) => {
    const encoded = encodeFrame(frame);
    expect(encoded).toHaveLength(FRAME_SIZE);
    expect(encoded.equals(bytes)).toBe(true);
  });

  it('fills the fields not given with zero numbers, a zero ts, flag 0 and empty data', () => {
    expect(encodeFrame({ code: Code.Register }).equals(raw('01' + Z + Z + T0 + '0'))).toBe(true);
  });

  it('encodes at an offset of a larger buffer without touching the bytes around it', () => {
    const batch = Buffer.alloc(FRAME_SIZE * 2 + 2, 0xaa);
    encodeFrameInto(batch, 1, valid[5]!.frame);
    encodeFrameInto(batch, 1 + FRAME_SIZE, valid[6]!.frame);
    expect(batch[0]).toBe(0xaa);
    expect(batch.subarray(1, 1 + FRAME_SIZE).equals(valid[5]!.bytes)).toBe(true);
    expect(batch.subarray(1 + FRAME_SIZE, 1 + 2 * FRAME_SIZE).equals(valid[6]!.bytes)).toBe(true);
    expect(batch[batch.length - 1]).toBe(0xaa);
  });

  it('overwrites stale bytes when encoding into a reused buffer', () => {
    const reused = Buffer.alloc(FRAME_SIZE, 0xff);
    encodeFrameInto(reused, 0, valid[3]!.frame);
    expect(reused.equals(valid[3]!.bytes)).toBe(true);
  });
});

describe('round trip', () => {
  it.each(valid)('decoding the encoding of $name gives the frame back', ({ frame }) => {
    expect(decodeFrame(encodeFrame(frame))).toEqual(frame);
  });

  it.each(valid)('encoding the decoding of $name gives the bytes back', ({ bytes }) => {
    expect(encodeFrame(decodeFrame(bytes)).equals(bytes)).toBe(true);
  });

  it('reads the code without decoding the rest', () => {
    expect(peekCode(valid[5]!.bytes)).toBe('05');
  });
});

describe('tsField', () => {
  it.each([
    [0, '0000000000'],
    [42, '0000000042'],
    [TS, '1700000000'],
    [9_999_999_999, '9999999999'],
  ])('writes %i as the ten-digit field %s', (ts, field) => {
    expect(tsField(ts)).toBe(field);
  });
});

const base = raw('05' + ALICE + BOB + '1700000000' + '1', 'hello');
const header05 = '05' + ALICE + BOB + '1700000000' + '1';

interface MalformedCase {
  name: string;
  bytes: Uint8Array;
  field: FrameField;
}

const malformed: MalformedCase[] = [
  { name: 'an empty buffer', bytes: Buffer.alloc(0), field: 'length' },
  { name: 'a frame one byte short', bytes: base.subarray(0, 255), field: 'length' },
  {
    name: 'a frame one byte too long',
    bytes: Buffer.concat([base, Buffer.alloc(1)]),
    field: 'length',
  },
  { name: 'two frames at once', bytes: Buffer.concat([base, base]), field: 'length' },
  { name: 'a code with a letter', bytes: patched(base, 0, 'a5'), field: 'code' },
  { name: 'a code with a space', bytes: patched(base, 0, ' 5'), field: 'code' },
  { name: 'a code of 0x00 bytes', bytes: patched(base, 0, [0, 0]), field: 'code' },
  { name: 'the unknown code 00', bytes: patched(base, 0, '00'), field: 'code' },
  { name: 'the unknown code 16', bytes: patched(base, 0, '16'), field: 'code' },
  { name: 'the unknown code 99', bytes: patched(base, 0, '99'), field: 'code' },
  { name: 'a src with a letter in its first byte', bytes: patched(base, 2, 'x'), field: 'src' },
  { name: 'a src with a space in its last byte', bytes: patched(base, 14, ' '), field: 'src' },
  { name: 'a src with a plus sign', bytes: patched(base, 2, '+'), field: 'src' },
  { name: 'a dst with "/" (just below "0")', bytes: patched(base, 15, '/'), field: 'dst' },
  { name: 'a dst with 0x00 in its last byte', bytes: patched(base, 27, [0]), field: 'dst' },
  { name: 'a ts with ":" (just above "9")', bytes: patched(base, 28, ':'), field: 'ts' },
  { name: 'a ts with a minus sign', bytes: patched(base, 28, '-'), field: 'ts' },
  { name: 'a ts padded with spaces', bytes: patched(base, 28, '  17000000'), field: 'ts' },
  { name: 'a flag of "2"', bytes: patched(base, 38, '2'), field: 'flag' },
  { name: 'a flag of 0x00', bytes: patched(base, 38, [0]), field: 'flag' },
  { name: 'a flag of "t"', bytes: patched(base, 38, 't'), field: 'flag' },
  {
    name: 'a 0x00 inside data before non-zero bytes',
    bytes: raw(header05, Buffer.from('ab\0cd', 'latin1')),
    field: 'data',
  },
  {
    name: 'data starting with 0x00 followed by text',
    bytes: raw(header05, Buffer.from('\0hello', 'latin1')),
    field: 'data',
  },
  {
    name: 'a 0x00 between data and a last non-zero byte',
    bytes: patched(raw(header05, 'hi'), 255, 'x'),
    field: 'data',
  },
  {
    name: 'a lone continuation byte',
    bytes: raw(header05, Buffer.from([0x61, 0x80, 0x62])),
    field: 'data',
  },
  {
    name: 'a truncated 3-byte sequence at the end of data',
    bytes: raw(header05, Buffer.from([0x61, 0xe2, 0x82])),
    field: 'data',
  },
  {
    name: 'a truncated 4-byte sequence filling the last data bytes',
    bytes: raw(
      header05,
      Buffer.concat([Buffer.from('x'.repeat(214)), Buffer.from([0xf0, 0x9f, 0x98])]),
    ),
    field: 'data',
  },
  {
    name: 'an overlong 2-byte encoding of "/"',
    bytes: raw(header05, Buffer.from([0xc0, 0xaf])),
    field: 'data',
  },
  {
    name: 'an overlong 3-byte encoding of "/"',
    bytes: raw(header05, Buffer.from([0xe0, 0x80, 0xaf])),
    field: 'data',
  },
  {
    name: 'a UTF-16 surrogate encoded as UTF-8',
    bytes: raw(header05, Buffer.from([0xed, 0xa0, 0x80])),
    field: 'data',
  },
  {
    name: 'a byte that never occurs in UTF-8 (0xff)',
    bytes: raw(header05, Buffer.from([0xff])),
    field: 'data',
  },
  {
    name: 'a code point above U+10FFFF',
    bytes: raw(header05, Buffer.from([0xf4, 0x90, 0x80, 0x80])),
    field: 'data',
  },
];

describe('decodeFrame refuses a malformed frame', () => {
  it.each(malformed)('blames $field for $name', ({ bytes, field }) => {
    let caught: unknown;
    try {
      decodeFrame(bytes);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(FrameError);
    expect((caught as FrameError).field).toBe(field);
  });

  it('throws a FrameError carrying status 400 and a stable code', () => {
    const err = (() => {
      try {
        decodeFrame(patched(base, 0, '16'));
      } catch (e) {
        return e as FrameError;
      }
      throw new Error('expected a FrameError');
    })();
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('FrameError');
    expect(err.status).toBe(400);
    expect(err.code).toBe('ZAPWIRE_MALFORMED_FRAME');
    expect(err.message).toMatch(/16/);
  });

  it('blames the first field at fault, in the order length, code, src, dst, ts, flag, data', () => {
    let bad = raw(header05, Buffer.from([0xff]));
    const faults: [number, string, FrameField][] = [
      [38, '9', 'flag'],
      [28, 'x', 'ts'],
      [15, 'x', 'dst'],
      [2, 'x', 'src'],
      [0, '16', 'code'],
    ];
    expect(() => decodeFrame(bad)).toThrow(expect.objectContaining({ field: 'data' }));
    for (const [offset, bytes, field] of faults) {
      bad = patched(bad, offset, bytes);
      expect(() => decodeFrame(bad)).toThrow(expect.objectContaining({ field }));
    }
    expect(() => decodeFrame(bad.subarray(1))).toThrow(
      expect.objectContaining({ field: 'length' }),
    );
  });
});

describe('encodeFrame refuses what it cannot put on the wire', () => {
  const ok = { code: Code.Send, src: ALICE, dst: BOB, ts: TS } as const;
  const refusals: { name: string; init: Parameters<typeof encodeFrame>[0]; field: FrameField }[] = [
    { name: '218 bytes of ASCII data', init: { ...ok, data: 'x'.repeat(218) }, field: 'data' },
    {
      name: '218 bytes of 2-byte characters',
      init: { ...ok, data: 'é'.repeat(109) },
      field: 'data',
    },
    {
      name: '216 bytes of data plus a 4-byte emoji',
      init: { ...ok, data: 'x'.repeat(216) + '😀' },
      field: 'data',
    },
    { name: 'data containing \\0', init: { ...ok, data: 'a\0b' }, field: 'data' },
    { name: 'data ending in \\0', init: { ...ok, data: 'ab\0' }, field: 'data' },
    { name: 'data with a lone high surrogate', init: { ...ok, data: 'a\uD83Db' }, field: 'data' },
    { name: 'data with a lone low surrogate', init: { ...ok, data: '\uDE00' }, field: 'data' },
    { name: 'a src of 12 digits', init: { ...ok, src: '551199999000' }, field: 'src' },
    { name: 'a src of 14 digits', init: { ...ok, src: '55119999900012' }, field: 'src' },
    { name: 'a src with a letter', init: { ...ok, src: '551199999000a' }, field: 'src' },
    { name: 'a src with a sign', init: { ...ok, src: '+551199999000' }, field: 'src' },
    { name: 'an empty dst', init: { ...ok, dst: '' }, field: 'dst' },
    {
      name: 'a dst with full-width digits',
      init: { ...ok, dst: '５５１１９９９９９０００１' },
      field: 'dst',
    },
    { name: 'a negative ts', init: { ...ok, ts: -1 }, field: 'ts' },
    { name: 'a fractional ts', init: { ...ok, ts: 1.5 }, field: 'ts' },
    { name: 'a ts of 11 digits', init: { ...ok, ts: 10_000_000_000 }, field: 'ts' },
    { name: 'a NaN ts', init: { ...ok, ts: Number.NaN }, field: 'ts' },
    { name: 'an infinite ts', init: { ...ok, ts: Number.POSITIVE_INFINITY }, field: 'ts' },
    { name: 'an unknown code', init: { ...ok, code: '16' as Code }, field: 'code' },
  ];

  it.each(refusals)('refuses $name (blaming $field)', ({ init, field }) => {
    expect(() => encodeFrame(init)).toThrow(FrameError);
    expect(() => encodeFrame(init)).toThrow(expect.objectContaining({ field }));
  });

  it(`accepts exactly ${DATA_SIZE} bytes of data`, () => {
    expect(() => encodeFrame({ ...ok, data: 'é'.repeat(108) + 'x' })).not.toThrow();
  });
});

// Properties. Seeded so that a failure is reproducible; the seed is in the report.
const PROPERTY = { seed: 42, numRuns: 2000 } as const;

function decodesOrThrowsFrameError(bytes: Uint8Array): void {
  try {
    const decoded = decodeFrame(bytes);
    // Whatever decodes is canonical: encoding it gives back the very same bytes.
    expect(Buffer.from(bytes).equals(encodeFrame(decoded))).toBe(true);
  } catch (err) {
    if (!(err instanceof FrameError)) throw err;
  }
}

const digits = (length: number) =>
  fc.string({ unit: fc.constantFrom(...'0123456789'), minLength: length, maxLength: length });

const validData = fc
  .oneof(
    fc.string({ unit: 'binary' }),
    fc.string({ unit: 'grapheme', maxLength: 60, size: 'max' }),
    fc.string({ unit: 'binary', maxLength: 217, size: 'medium' }),
    fc.string({ unit: 'binary-ascii', minLength: 200, maxLength: 217 }),
    // Characters a decoder is tempted to treat specially: BOM, U+FFFD, noncharacters.
    fc.string({
      unit: fc.constantFrom('\uFEFF', '\uFFFD', '\uFFFF', '\u{10FFFF}', 'é', '€', '😀', ' ', 'a'),
      maxLength: 40,
    }),
  )
  .filter((s) => !s.includes('\0') && Buffer.byteLength(s, 'utf8') <= DATA_SIZE);

const validFrame: fc.Arbitrary<Frame> = fc.record({
  code: fc.constantFrom(...Object.values(Code)),
  src: digits(13),
  dst: digits(13),
  ts: fc.integer({ min: 0, max: 9_999_999_999 }),
  flag: fc.boolean(),
  data: validData,
});

describe('properties', () => {
  it('decoding any 256 bytes returns a frame or throws a FrameError, nothing else', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: FRAME_SIZE, maxLength: FRAME_SIZE }),
        decodesOrThrowsFrameError,
      ),
      PROPERTY,
    );
  });

  it('decoding bytes of any length returns a frame or throws a FrameError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2 * FRAME_SIZE }), decodesOrThrowsFrameError),
      PROPERTY,
    );
  });

  it('decoding a valid frame with random bytes overwritten returns a frame or throws a FrameError', () => {
    // Random bytes alone nearly always fail at the code; this reaches every field.
    const damaged = fc
      .tuple(
        validFrame,
        fc.array(fc.tuple(fc.nat(FRAME_SIZE - 1), fc.integer({ min: 0, max: 255 })), {
          minLength: 1,
          maxLength: 4,
        }),
      )
      .map(([f, edits]) => {
        const bytes = encodeFrame(f);
        for (const [at, value] of edits) bytes[at] = value;
        return bytes;
      });
    fc.assert(fc.property(damaged, decodesOrThrowsFrameError), PROPERTY);
  });

  it('encoding then decoding any valid frame gives the same frame', () => {
    fc.assert(
      fc.property(validFrame, (f) => {
        const bytes = encodeFrame(f);
        expect(bytes).toHaveLength(FRAME_SIZE);
        expect(decodeFrame(bytes)).toEqual(f);
      }),
      PROPERTY,
    );
  });
});
