/**
 * Text that came over the network, made safe to write to a terminal.
 *
 * A message is whatever its sender typed, so it may hold the bytes a terminal
 * obeys: ESC starts a sequence that can retitle the window, clear the screen or
 * move the cursor (`\x1b]0;PWNED\x07\x1b[2J` and a forged line did all three in
 * `zapwire listen`), CR/LF start a line the sender wrote to look like ours, C1
 * (U+0080-U+009F) are the same controls in one character to terminals that
 * read them, and the bidirectional controls make text display in an order
 * other than the one it has (Trojan Source, CVE-2021-42574). Every one of them
 * is shown as a visible escape instead, one way everywhere (listen, poll,
 * chat): `\n` `\r` `\t`, `\xHH` for the other C0, DEL and C1, `\uHHHH` for the
 * bidirectional controls. Everything else is left as it is: a backslash the
 * sender typed stays one backslash (so `\x1b` in a message may have been typed;
 * it is harmless either way, and doubling every backslash would garble paths).
 */

/**
 * C0, DEL, C1; the bidirectional embeddings and overrides (U+202A-U+202E),
 * isolates (U+2066-U+2069), and marks (U+200E, U+200F, U+061C): invisible, and
 * they too reorder what follows them.
 */
const UNSAFE = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'g');
/** What JSON.stringify leaves raw: it escapes only C0 (and `"`, `\`). */
const UNSAFE_IN_JSON = /[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function hex(char: string, digits: number): string {
  return char.charCodeAt(0).toString(16).padStart(digits, '0');
}

function escapeOne(char: string): string {
  const code = char.charCodeAt(0);
  return SHORT[char] ?? (code <= 0xff ? `\\x${hex(char, 2)}` : `\\u${hex(char, 4)}`);
}

/**
 * `text` with every terminal control shown as a visible escape; one line
 * (LF and TAB are escaped too). Idempotent: what it returns holds no control,
 * so applying it again changes nothing. Text without controls is returned as
 * is, without a copy (the common case, once per message).
 */
export function terminalText(text: string): string {
  return UNSAFE.test(text) ? text.replace(UNSAFE_ALL, escapeOne) : text;
}

/**
 * `value` as one JSON line safe for a terminal: JSON.stringify, then the
 * controls it leaves raw (DEL, C1, bidirectional) as `\uHHHH` escapes. Still
 * valid JSON that parses to the same value: those characters can only be
 * inside strings, where `\uHHHH` means the character itself.
 */
export function terminalJson(value: unknown): string {
  return JSON.stringify(value).replace(UNSAFE_IN_JSON, (char) => `\\u${hex(char, 4)}`);
}
