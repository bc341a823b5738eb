/**
 * The few Buffer calls the codec (src/protocol/) makes, on a Uint8Array, for
 * the browser. esbuild injects it wherever the bundled code names the global
 * `Buffer` (package.json `build:web`), so the browser runs the server's own
 * codec, byte for byte, and the server keeps Node's native Buffer. Only the
 * encodings the codec uses exist; any other throws, so that a new use in
 * the codec cannot silently produce other bytes here.
 */

type Encoding = 'latin1' | 'utf8';

const encoder = new TextEncoder();
// ignoreBOM: as the codec's own decoder, a leading U+FEFF is text.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function checkEncoding(encoding: string): Encoding {
  if (encoding === 'latin1' || encoding === 'utf8') return encoding;
  throw new TypeError(`encoding ${encoding} is not supported in the browser`);
}

/** UTF-8 length of a string, counted without encoding it (as Buffer.byteLength). */
function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if (unit < 0x80) bytes += 1;
    else if (unit < 0x800) bytes += 2;
    else if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** What the codec's Buffers are in the browser: bytes that can read and write text. */
export class BrowserBuffer extends Uint8Array {
  override toString(encoding = 'utf8', start = 0, end: number = this.length): string {
    const bytes = this.subarray(start, end);
    if (checkEncoding(encoding) === 'utf8') return decoder.decode(bytes);
    let text = '';
    for (const byte of bytes) text += String.fromCharCode(byte);
    return text;
  }

  /** Writes `text` at `offset`; returns the bytes written (as Buffer#write(string, offset, encoding)). */
  write(text: string, offset = 0, encoding = 'utf8'): number {
    if (checkEncoding(encoding) === 'utf8')
      return encoder.encodeInto(text, this.subarray(offset)).written;
    const length = Math.min(text.length, this.length - offset);
    for (let i = 0; i < length; i++) this[offset + i] = text.charCodeAt(i) & 0xff;
    return length;
  }
}

/** The static side of Buffer the codec uses, injected as the global `Buffer`. */
export const Buffer = {
  isBuffer(value: unknown): value is BrowserBuffer {
    return value instanceof BrowserBuffer;
  },

  /** A view of `buffer` (no copy), as Buffer.from(arrayBuffer, byteOffset, length). */
  from(buffer: ArrayBuffer, byteOffset = 0, length?: number): BrowserBuffer {
    return new BrowserBuffer(buffer, byteOffset, length ?? buffer.byteLength - byteOffset);
  },

  /** Zero-filled, unlike Node's: nothing is gained here by skipping the fill. */
  allocUnsafe(size: number): BrowserBuffer {
    return new BrowserBuffer(size);
  },

  byteLength(text: string, encoding = 'utf8'): number {
    return checkEncoding(encoding) === 'utf8' ? utf8Length(text) : text.length;
  },
};
