import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DATA_SIZE, splitText, truncateUtf8 } from '../../../src/protocol/index.js';

const bytesOf = (s: string) => Buffer.byteLength(s, 'utf8');

/** True when `s` survives UTF-8 encoding unchanged: no character was cut in two. */
function isWholeCharacters(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

/** The first code point of `s`, or '' for the empty string. */
function firstChar(s: string): string {
  const cp = s.codePointAt(0);
  return cp === undefined ? '' : String.fromCodePoint(cp);
}

function expectValidSplit(text: string, maxBytes: number, pieces: string[]): void {
  expect(pieces.join('')).toBe(text);
  for (const [i, piece] of pieces.entries()) {
    expect(bytesOf(piece)).toBeLessThanOrEqual(maxBytes);
    expect(isWholeCharacters(piece), `piece ${i} is whole characters`).toBe(true);
    if (text.length > 0) expect(piece.length, `piece ${i} is not empty`).toBeGreaterThan(0);
    // Greedy: a piece ends early only because the next character would not fit.
    const next = pieces[i + 1];
    if (next !== undefined)
      expect(bytesOf(piece) + bytesOf(firstChar(next))).toBeGreaterThan(maxBytes);
  }
}

const CHARACTERS = [
  { name: 'a 2-byte character (é)', ch: 'é', bytes: 2 },
  { name: 'a 3-byte character (€)', ch: '€', bytes: 3 },
  { name: 'a 3-byte CJK character (語)', ch: '語', bytes: 3 },
  { name: 'a 4-byte character (𝄞)', ch: '𝄞', bytes: 4 },
  { name: 'a 4-byte emoji (😀)', ch: '😀', bytes: 4 },
];

describe('splitText', () => {
  it('returns short text whole, as a single piece', () => {
    expect(splitText('olá')).toEqual(['olá']);
    expect(splitText('x'.repeat(DATA_SIZE))).toEqual(['x'.repeat(DATA_SIZE)]);
  });

  it('returns the empty string as one empty piece', () => {
    expect(splitText('')).toEqual(['']);
  });

  it(`cuts at ${DATA_SIZE} bytes by default`, () => {
    expect(splitText('x'.repeat(DATA_SIZE + 1))).toEqual(['x'.repeat(DATA_SIZE), 'x']);
  });

  it.each(CHARACTERS)(
    'never splits inside $name, wherever it falls against the limit',
    ({ ch, bytes }) => {
      const maxBytes = 16;
      expect(bytesOf(ch)).toBe(bytes);
      // Shift the character across every position around each cut, with one-byte
      // filler before it and copies of it after.
      for (let lead = 0; lead <= 2 * maxBytes; lead++) {
        const text = 'a'.repeat(lead) + ch + 'b' + ch.repeat(5);
        expectValidSplit(text, maxBytes, splitText(text, maxBytes));
      }
    },
  );

  it.each(CHARACTERS)('splits a run of $name at every limit from 4 to 20 bytes', ({ ch }) => {
    const text = ch.repeat(30);
    for (let maxBytes = 4; maxBytes <= 20; maxBytes++) {
      expectValidSplit(text, maxBytes, splitText(text, maxBytes));
    }
  });

  it('may split an emoji ZWJ sequence between its code points, never inside one', () => {
    const family = '👩‍👩‍👧';
    const pieces = splitText(family.repeat(3), 8);
    expectValidSplit(family.repeat(3), 8, pieces);
  });

  it('refuses a limit that cannot hold every character', () => {
    expect(() => splitText('abc', 3)).toThrow(RangeError);
    expect(() => splitText('abc', 0)).toThrow(RangeError);
    expect(() => splitText('abc', 4.5)).toThrow(RangeError);
    expect(() => splitText('abc', Number.NaN)).toThrow(RangeError);
  });
});

describe('truncateUtf8', () => {
  it('returns text that fits unchanged', () => {
    expect(truncateUtf8('olá', 10)).toBe('olá');
    expect(truncateUtf8('', 10)).toBe('');
  });

  it('returns the longest prefix that fits, cut before a character that would not', () => {
    expect(truncateUtf8('ab€', 4)).toBe('ab');
    expect(truncateUtf8('abc€', 6)).toBe('abc€');
    expect(truncateUtf8('a😀b', 4)).toBe('a');
    expect(truncateUtf8('a😀b', 5)).toBe('a😀');
  });

  it(`cuts at ${DATA_SIZE} bytes by default`, () => {
    const cut = truncateUtf8('😀'.repeat(100));
    expect(cut).toBe('😀'.repeat(54));
    expect(bytesOf(cut)).toBe(216);
  });
});

const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 200, size: 'max' }),
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\u200D'), maxLength: 200, size: 'max' }),
);
const anyLimit = fc.integer({ min: 4, max: 300 });

describe('properties', () => {
  it('splitText gives whole-character pieces within the limit that concatenate to the input', () => {
    fc.assert(
      fc.property(anyText, anyLimit, (text, maxBytes) => {
        expectValidSplit(text, maxBytes, splitText(text, maxBytes));
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('truncateUtf8 gives the longest whole-character prefix that fits', () => {
    fc.assert(
      fc.property(anyText, anyLimit, (text, maxBytes) => {
        const prefix = truncateUtf8(text, maxBytes);
        expect(text.startsWith(prefix)).toBe(true);
        expect(bytesOf(prefix)).toBeLessThanOrEqual(maxBytes);
        expect(isWholeCharacters(prefix)).toBe(true);
        const rest = text.slice(prefix.length);
        if (rest.length > 0)
          expect(bytesOf(prefix) + bytesOf(firstChar(rest))).toBeGreaterThan(maxBytes);
      }),
      { seed: 42, numRuns: 2000 },
    );
  });
});
