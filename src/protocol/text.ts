import { DATA_SIZE } from './frame.js';

/**
 * Splits text into pieces of at most `maxBytes` UTF-8 bytes, never inside a
 * character (docs/protocol.md §Frame: a client splits longer text). Surrogate pairs
 * are kept whole because iteration is by code point.
 */
export function splitText(text: string, maxBytes: number = DATA_SIZE): string[] {
  if (!Number.isInteger(maxBytes) || maxBytes < 4)
    throw new RangeError('maxBytes must be an integer of at least 4');
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return [text];
  const pieces: string[] = [];
  let piece = '';
  let pieceBytes = 0;
  for (const ch of text) {
    const bytes = utf8Length(ch);
    if (pieceBytes + bytes > maxBytes) {
      pieces.push(piece);
      piece = '';
      pieceBytes = 0;
    }
    piece += ch;
    pieceBytes += bytes;
  }
  if (piece.length > 0) pieces.push(piece);
  return pieces;
}

/** The longest prefix of `text` that fits `maxBytes` UTF-8 bytes, cut at a character boundary. */
export function truncateUtf8(text: string, maxBytes: number = DATA_SIZE): string {
  return splitText(text, maxBytes)[0] ?? '';
}

function utf8Length(ch: string): number {
  const cp = ch.codePointAt(0)!;
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp < 0x10000) return 3;
  return 4;
}
