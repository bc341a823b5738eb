import { isNumber, NUMBER_LENGTH, TS_LENGTH, tsField } from './frame.js';

/**
 * The original system's protocol, spoken by the legacy listener (docs/protocol.md
 * §Legacy listener). Pure: bytes in, values out. Requests carry no padding and no
 * delimiter and there is one per TCP connection, so whether a variable-length
 * request is finished is for the listener to say (`ended`: end of stream or a
 * quiet gap), not for these bytes.
 */
export const LegacyCode = {
  Register: '01',
  Registered: '02',
  Poll: '03',
  Send: '05',
  Deliver: '06',
  CreateGroup: '10',
  IsValid: '19',
  Validity: '20',
} as const;

export type LegacyCode = (typeof LegacyCode)[keyof typeof LegacyCode];

export interface LegacyRegister {
  kind: 'register';
}

export interface LegacyValidate {
  kind: 'validate';
  /** 13 ASCII digits: the number asked about. */
  number: string;
}

export interface LegacySend {
  kind: 'send';
  src: string;
  dst: string;
  /** Unix time in seconds. */
  ts: number;
  /** Valid UTF-8 without 0x00 (otherwise the request is invalid). May be empty. */
  text: string;
}

export interface LegacyCreateGroup {
  kind: 'createGroup';
  ts: number;
  /** At least one, 13 ASCII digits each, in the order sent. */
  members: string[];
}

export interface LegacyPoll {
  kind: 'poll';
  number: string;
}

export type LegacyRequest =
  | LegacyRegister
  | LegacyValidate
  | LegacySend
  | LegacyCreateGroup
  | LegacyPoll;

export type LegacyParse =
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string }
  | LegacyRequest;

const CODE_LENGTH = 2;
/** `01`: the code alone. */
const REGISTER_LENGTH = CODE_LENGTH;
/** `19` / `03` + number. */
const NUMBER_REQUEST_LENGTH = CODE_LENGTH + NUMBER_LENGTH;
/** `05` + src + dst + ts, before the text. */
const SEND_FIXED_LENGTH = CODE_LENGTH + 2 * NUMBER_LENGTH + TS_LENGTH;
/** `10` + ts, before the members. */
const GROUP_FIXED_LENGTH = CODE_LENGTH + TS_LENGTH;
const MAX_TS = 9_999_999_999;

// ignoreBOM: a leading U+FEFF is text the sender wrote, not a mark to swallow.
const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const INCOMPLETE: LegacyParse = Object.freeze({ kind: 'incomplete' });
const REGISTER: LegacyParse = Object.freeze({ kind: 'register' });

function invalid(reason: string): LegacyParse {
  return { kind: 'invalid', reason };
}

function isDigits(buf: Buffer, start: number, length: number): boolean {
  for (let i = start; i < start + length; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/**
 * Parses the bytes received so far on a legacy connection. `ended`: the client
 * has finished writing, so nothing more will come. Fixed-length requests (`01`,
 * `19`, `03`) are complete as soon as their length is reached and invalid beyond
 * it; variable ones (`05`, `10`) only once `ended`. 'incomplete' is returned only
 * when !ended.
 */
export function parseLegacyRequest(buf: Buffer, ended: boolean): LegacyParse {
  if (buf.length < CODE_LENGTH) {
    if (!ended) return INCOMPLETE;
    return invalid(buf.length === 0 ? 'empty request' : 'request shorter than its 2-byte code');
  }
  const code = buf.toString('latin1', 0, CODE_LENGTH);
  switch (code) {
    case LegacyCode.Register:
      // docs/protocol.md §Legacy listener: `01`, exactly those 2 bytes.
      return checkFixedLength(buf, ended, REGISTER_LENGTH, 'a 01 request') ?? REGISTER;
    case LegacyCode.IsValid:
    case LegacyCode.Poll: {
      const what = `a ${code} request`;
      const bad = checkFixedLength(buf, ended, NUMBER_REQUEST_LENGTH, what);
      if (bad) return bad;
      if (!isDigits(buf, CODE_LENGTH, NUMBER_LENGTH))
        return invalid(`${what}: the number is not 13 digits`);
      const number = buf.toString('latin1', CODE_LENGTH, NUMBER_REQUEST_LENGTH);
      return code === LegacyCode.IsValid ? { kind: 'validate', number } : { kind: 'poll', number };
    }
    case LegacyCode.Send:
      return parseSend(buf, ended);
    case LegacyCode.CreateGroup:
      return parseCreateGroup(buf, ended);
    default:
      return invalid(`unknown code ${JSON.stringify(code)}`);
  }
}

/**
 * Whether the bytes received so far cannot yet be a whole request, so the
 * listener should wait for more rather than take them as the request. The
 * original server took one `recv` as the request (docs/protocol.md §Legacy
 * listener); a read can still stop short of what its client wrote in one
 * `send`, and these are the cuts that show it: less than the request's fixed
 * part, a `10` with no member or part of a number, a `05` whose text stops
 * inside a UTF-8 character. Anything else is taken at once.
 */
export function legacyRequestMayGrow(buf: Buffer): boolean {
  if (buf.length < CODE_LENGTH) return true;
  switch (buf.toString('latin1', 0, CODE_LENGTH)) {
    case LegacyCode.IsValid:
    case LegacyCode.Poll:
      return buf.length < NUMBER_REQUEST_LENGTH;
    case LegacyCode.Send:
      return buf.length < SEND_FIXED_LENGTH || endsInsideCharacter(buf, SEND_FIXED_LENGTH);
    case LegacyCode.CreateGroup: {
      const members = buf.length - GROUP_FIXED_LENGTH;
      return members <= 0 || members % NUMBER_LENGTH !== 0;
    }
    default:
      return false;
  }
}

/** The bytes after `from` end with the start of a UTF-8 sequence whose continuation bytes have not come. */
function endsInsideCharacter(buf: Buffer, from: number): boolean {
  // Walk back over at most 3 continuation bytes (10xxxxxx) to the lead byte.
  let i = buf.length - 1;
  let continuation = 0;
  while (i >= from && continuation < 3 && (buf[i]! & 0xc0) === 0x80) {
    i--;
    continuation++;
  }
  if (i < from) return false;
  const lead = buf[i]!;
  const length = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  return length > 1 && continuation < length - 1;
}

/** null when `buf` has exactly `length` bytes; otherwise what to answer. */
function checkFixedLength(
  buf: Buffer,
  ended: boolean,
  length: number,
  what: string,
): LegacyParse | null {
  if (buf.length === length) return null;
  if (buf.length < length && !ended) return INCOMPLETE;
  return invalid(`${what} is ${length} bytes, got ${buf.length}`);
}

/** `05` + src(13) + dst(13) + ts(10) + text. */
function parseSend(buf: Buffer, ended: boolean): LegacyParse {
  if (buf.length < SEND_FIXED_LENGTH) {
    return ended
      ? invalid(`a 05 request is at least ${SEND_FIXED_LENGTH} bytes, got ${buf.length}`)
      : INCOMPLETE;
  }
  const srcAt = CODE_LENGTH;
  const dstAt = srcAt + NUMBER_LENGTH;
  const tsAt = dstAt + NUMBER_LENGTH;
  // The fixed part is all here, so its verdict cannot change: no need to wait.
  if (!isDigits(buf, srcAt, NUMBER_LENGTH)) return invalid('a 05 request: src is not 13 digits');
  if (!isDigits(buf, dstAt, NUMBER_LENGTH)) return invalid('a 05 request: dst is not 13 digits');
  if (!isDigits(buf, tsAt, TS_LENGTH)) return invalid('a 05 request: ts is not 10 digits');
  if (!ended) return INCOMPLETE;
  // docs/protocol.md §Frame: the store takes only text a version 1 `06` can carry,
  // so that what a legacy client sends reaches version 1 clients unchanged
  // (the original decoded whatever came; U+FFFD would store something else).
  const textBytes = buf.subarray(SEND_FIXED_LENGTH);
  if (textBytes.includes(0)) return invalid('a 05 request: the text contains a 0x00 byte');
  let text: string;
  try {
    text = utf8Strict.decode(textBytes);
  } catch {
    return invalid('a 05 request: the text is not valid UTF-8');
  }
  return {
    kind: 'send',
    src: buf.toString('latin1', srcAt, dstAt),
    dst: buf.toString('latin1', dstAt, tsAt),
    ts: Number(buf.toString('latin1', tsAt, SEND_FIXED_LENGTH)),
    text,
  };
}

/** `10` + ts(10) + N >= 1 numbers of 13 digits, nothing else. */
function parseCreateGroup(buf: Buffer, ended: boolean): LegacyParse {
  if (buf.length < GROUP_FIXED_LENGTH) {
    return ended
      ? invalid(`a 10 request is at least ${GROUP_FIXED_LENGTH} bytes, got ${buf.length}`)
      : INCOMPLETE;
  }
  if (!isDigits(buf, CODE_LENGTH, TS_LENGTH)) return invalid('a 10 request: ts is not 10 digits');
  if (!ended) return INCOMPLETE;
  const membersLength = buf.length - GROUP_FIXED_LENGTH;
  if (membersLength === 0) return invalid('a 10 request names no member');
  if (membersLength % NUMBER_LENGTH !== 0) {
    return invalid(
      `a 10 request: ${membersLength} bytes of members is not a whole number of 13-digit numbers`,
    );
  }
  const members: string[] = [];
  for (let at = GROUP_FIXED_LENGTH; at < buf.length; at += NUMBER_LENGTH) {
    if (!isDigits(buf, at, NUMBER_LENGTH))
      return invalid(`a 10 request: member ${members.length + 1} is not 13 digits`);
    members.push(buf.toString('latin1', at, at + NUMBER_LENGTH));
  }
  return {
    kind: 'createGroup',
    ts: Number(buf.toString('latin1', CODE_LENGTH, GROUP_FIXED_LENGTH)),
    members,
  };
}

function checkNumber(name: string, value: string): void {
  if (!isNumber(value))
    throw new RangeError(`${name} must be 13 digits, got ${JSON.stringify(value)}`);
}

/** `02` + the new number: 15 bytes. */
export function legacyRegistered(number: string): Buffer {
  checkNumber('number', number);
  return Buffer.from(LegacyCode.Registered + number, 'latin1');
}

// Answers that never change are built once; they are shared, so never modify them.
const VALID = Buffer.from(`${LegacyCode.Validity}1`, 'latin1');
const NOT_VALID = Buffer.from(`${LegacyCode.Validity}0`, 'latin1');
/** The bare `06` the original sent when nothing was pending. Shared: never modify it. */
export const LEGACY_NONE_PENDING: Buffer = Buffer.from(LegacyCode.Deliver, 'latin1');

/** `201` a registered user, `200` not (the original's answer to `19`). Shared: never modify it. */
export function legacyValidity(valid: boolean): Buffer {
  return valid ? VALID : NOT_VALID;
}

export interface LegacyMessage {
  src: string;
  dst: string;
  ts: number;
  text: string;
}

/** `06` + src + dst + 10-digit zero-padded ts + UTF-8 text, with no padding. */
export function legacyDeliver(message: LegacyMessage): Buffer {
  checkNumber('src', message.src);
  checkNumber('dst', message.dst);
  const { ts } = message;
  if (!Number.isInteger(ts) || ts < 0 || ts > MAX_TS) {
    throw new RangeError(`ts must be an integer from 0 to ${MAX_TS}, got ${ts}`);
  }
  const head = LegacyCode.Deliver + message.src + message.dst + tsField(ts);
  const textLength = Buffer.byteLength(message.text, 'utf8');
  const buf = Buffer.alloc(head.length + textLength);
  buf.write(head, 0, 'latin1');
  buf.write(message.text, head.length, 'utf8');
  return buf;
}
