import { FrameError } from '../errors.js';
import { type Code, isKnownCode } from './codes.js';

/** docs/protocol.md §Frame: every frame is exactly 256 bytes. */
export const FRAME_SIZE = 256;
export const NUMBER_LENGTH = 13;
export const TS_LENGTH = 10;
export const DATA_SIZE = 217;
/**
 * docs/protocol.md §Codes: the most numbers a `10` may list (version 1: the
 * other members; legacy: every member, the creator first).
 */
export const MAX_GROUP_MEMBERS = 16;
/** docs/protocol.md §Codes and §Names: a display name (`01`) or a group's name (`14`) is at most 64 bytes of UTF-8. */
export const MAX_NAME_BYTES = 64;
/** The number that means "nobody": the server, or a client not yet registered. */
export const NOBODY = '0000000000000';

const OFFSET = { code: 0, src: 2, dst: 15, ts: 28, flag: 38, data: 39 } as const;

export interface Frame {
  code: Code;
  /** 13 ASCII digits. */
  src: string;
  /** 13 ASCII digits. */
  dst: string;
  /** Unix time in seconds. */
  ts: number;
  /** true: the sender wants receipts (ASCII `1`). */
  flag: boolean;
  /** UTF-8 text without the 0x00 padding. */
  data: string;
}

/** Which field of a frame is at fault; stable, for tests and logs. */
export type FrameField = 'length' | 'code' | 'src' | 'dst' | 'ts' | 'flag' | 'data';

// ignoreBOM: a leading U+FEFF is text the sender wrote, not a mark to swallow.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** An unpaired UTF-16 surrogate: Buffer.write would silently turn it into U+FFFD. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

function isDigits(buf: Uint8Array, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) {
    const c = buf[i]!;
    if (c < DIGIT_0 || c > DIGIT_9) return false;
  }
  return true;
}

/** Bytes known to be ASCII as a string: one native latin1 slice, no string per character. */
function ascii(buf: Buffer, start: number, length: number): string {
  return buf.toString('latin1', start, start + length);
}

/** The value of `length` ASCII digits, without making a string of them. */
function digitsValue(buf: Uint8Array, start: number, length: number): number {
  let value = 0;
  for (let i = start; i < start + length; i++) value = value * 10 + (buf[i]! - DIGIT_0);
  return value;
}

/** "00" … "99", so that decoding a code allocates nothing. */
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, '0'));

export function isNumber(value: string): boolean {
  return value.length === NUMBER_LENGTH && /^[0-9]{13}$/.test(value);
}

/**
 * Decodes one 256-byte frame. Throws only FrameError, naming the field at fault,
 * in the order docs/protocol.md checks them: length, code, numbers, ts, flag, data.
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length !== FRAME_SIZE) {
    throw new FrameError('length', `a frame is ${FRAME_SIZE} bytes, got ${bytes.length}`);
  }
  // Every server read is a Buffer already; any other Uint8Array gets a view.
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (!isDigits(buf, OFFSET.code, 2)) throw new FrameError('code', 'code is not two digits');
  const code = TWO_DIGITS[digitsValue(buf, OFFSET.code, 2)]!;
  if (!isKnownCode(code)) throw new FrameError('code', `unknown code ${code}`);
  if (!isDigits(buf, OFFSET.src, NUMBER_LENGTH))
    throw new FrameError('src', 'src is not 13 digits');
  if (!isDigits(buf, OFFSET.dst, NUMBER_LENGTH))
    throw new FrameError('dst', 'dst is not 13 digits');
  if (!isDigits(buf, OFFSET.ts, TS_LENGTH)) throw new FrameError('ts', 'ts is not 10 digits');
  const flagByte = buf[OFFSET.flag];
  if (flagByte !== 0x30 && flagByte !== 0x31) throw new FrameError('flag', 'flag is not 0 or 1');

  // docs/protocol.md §Frame: data is right-padded with 0x00 and never contains 0x00.
  let end = FRAME_SIZE;
  while (end > OFFSET.data && buf[end - 1] === 0) end--;
  let onlyAscii = true;
  for (let i = OFFSET.data; i < end; i++) {
    const byte = buf[i]!;
    if (byte === 0) throw new FrameError('data', 'data contains a 0x00 byte before its padding');
    if (byte >= 0x80) onlyAscii = false;
  }
  let data: string;
  if (onlyAscii) data = ascii(buf, OFFSET.data, end - OFFSET.data);
  else {
    try {
      data = utf8Strict.decode(buf.subarray(OFFSET.data, end));
    } catch {
      throw new FrameError('data', 'data is not valid UTF-8');
    }
  }
  return {
    code,
    src: ascii(buf, OFFSET.src, NUMBER_LENGTH),
    dst: ascii(buf, OFFSET.dst, NUMBER_LENGTH),
    ts: digitsValue(buf, OFFSET.ts, TS_LENGTH),
    flag: flagByte === 0x31,
    data,
  };
}

export interface FrameInit {
  code: Code;
  src?: string;
  dst?: string;
  ts?: number;
  flag?: boolean;
  data?: string;
}

function checkNumber(name: 'src' | 'dst', value: string): void {
  if (!isNumber(value))
    throw new FrameError(name, `${name} must be 13 digits, got ${JSON.stringify(value)}`);
}

/**
 * Encodes a frame into a new 256-byte Buffer. Fields not given are zero (numbers,
 * ts), `0` (flag) and empty (data), as docs/protocol.md §Codes says. Refuses text over
 * 217 bytes or containing 0x00: splitting is the caller's decision (see text.ts).
 *
 * The Buffer is a slice of Node's shared pool (`Buffer.allocUnsafe`; every one
 * of its 256 bytes is written): cheap for the one frame a session answers with,
 * but copy it before posting it to another thread, or the whole pool slab goes.
 */
export function encodeFrame(init: FrameInit): Buffer {
  const buf = Buffer.allocUnsafe(FRAME_SIZE);
  encodeFrameInto(buf, 0, init);
  return buf;
}

/** Encodes a frame at `offset` of a larger buffer (batched writes). */
export function encodeFrameInto(buf: Buffer, offset: number, init: FrameInit): void {
  const src = init.src ?? NOBODY;
  const dst = init.dst ?? NOBODY;
  const ts = init.ts ?? 0;
  const data = init.data ?? '';
  if (!isKnownCode(init.code)) throw new FrameError('code', `unknown code ${String(init.code)}`);
  checkNumber('src', src);
  checkNumber('dst', dst);
  if (!Number.isInteger(ts) || ts < 0 || ts > 9_999_999_999) {
    throw new FrameError('ts', `ts must be an integer from 0 to 9999999999, got ${ts}`);
  }
  if (data.includes('\0')) throw new FrameError('data', 'data must not contain 0x00');
  if (LONE_SURROGATE.test(data))
    throw new FrameError('data', 'data must be well-formed Unicode (lone surrogate)');
  const length = Buffer.byteLength(data, 'utf8');
  if (length > DATA_SIZE)
    throw new FrameError('data', `data is ${length} bytes, at most ${DATA_SIZE}`);
  buf.write(init.code, offset + OFFSET.code, 'latin1');
  buf.write(src, offset + OFFSET.src, 'latin1');
  buf.write(dst, offset + OFFSET.dst, 'latin1');
  buf.write(tsField(ts), offset + OFFSET.ts, 'latin1');
  buf[offset + OFFSET.flag] = init.flag ? 0x31 : 0x30;
  buf.fill(0, offset + OFFSET.data, offset + FRAME_SIZE);
  buf.write(data, offset + OFFSET.data, 'utf8');
}

/**
 * A ts as its fixed-width field: ten digits, zero-padded. The one place the
 * width is written, for frames, the legacy `06` and the receipt texts alike.
 */
export function tsField(ts: number): string {
  return String(ts).padStart(TS_LENGTH, '0');
}

/** Reads a frame's code without decoding the rest (a session picking the `08`s out of its inbox). */
export function peekCode(buf: Uint8Array): string {
  return String.fromCharCode(buf[OFFSET.code]!, buf[OFFSET.code + 1]!);
}
