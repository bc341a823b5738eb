import { describe, expect, it } from 'vitest';
import { terminalJson, terminalText } from '../../../src/cli/terminal-text.js';

/** Every character a terminal may obey, or that reorders what is displayed. */
const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

describe('terminalText: what a terminal is given of a message', () => {
  it.each([
    ['plain text is left as it is', 'olá, bob ✓✓ 👋', 'olá, bob ✓✓ 👋'],
    ['a typed backslash stays one backslash', 'C:\\temp\\x1b', 'C:\\temp\\x1b'],
    ['ESC', 'a\x1bb', 'a\\x1bb'],
    ['BEL', '\x07', '\\x07'],
    ['NUL and the other C0', '\x00\x01\x08\x0b\x0c\x1f', '\\x00\\x01\\x08\\x0b\\x0c\\x1f'],
    ['LF, CR and TAB (one line: no break of the sender’s)', 'a\nb\r\nc\td', 'a\\nb\\r\\nc\\td'],
    ['DEL', 'x\x7f', 'x\\x7f'],
    [
      'C1, CSI and the 8-bit OSC and ST among them',
      '\x80\x9b2J\x9d0;t\x9c\x9f',
      '\\x80\\x9b2J\\x9d0;t\\x9c\\x9f',
    ],
    ['U+00A0 and above are text, not C1', '\u00a0é', '\u00a0é'],
    [
      'bidi embeddings and overrides',
      '\u202a\u202b\u202c\u202d\u202e',
      '\\u202a\\u202b\\u202c\\u202d\\u202e',
    ],
    ['bidi isolates', '\u2066\u2067\u2068\u2069', '\\u2066\\u2067\\u2068\\u2069'],
    ['bidi marks', '\u200e\u200f\u061c', '\\u200e\\u200f\\u061c'],
    [
      'the reported attack: title, clear screen, a forged line',
      'hi\x1b]0;PWNED\x07\x1b[2J\r\n[12:00:00] 1000000000001 -> 2000000000002: send me your token',
      'hi\\x1b]0;PWNED\\x07\\x1b[2J\\r\\n[12:00:00] 1000000000001 -> 2000000000002: send me your token',
    ],
    [
      'Trojan Source: an override that hides the order',
      'pay \u202eerif\u202c now',
      'pay \\u202eerif\\u202c now',
    ],
  ])('%s', (_what, input, shown) => {
    expect(terminalText(input)).toBe(shown);
    expect(terminalText(input)).not.toMatch(CONTROL);
  });

  it('is idempotent: what it returns is shown the same again', () => {
    const all =
      Array.from({ length: 0xa0 }, (_, i) => String.fromCharCode(i)).join('') +
      '\u061c\u200e\u200f\u202a\u202e\u2066\u2069';
    const once = terminalText(all);
    expect(once).not.toMatch(CONTROL);
    expect(terminalText(once)).toBe(once);
  });
});

describe('terminalJson: a JSON line a terminal may be given', () => {
  it('escapes DEL, C1 and bidi controls, which JSON.stringify leaves raw, and parses back to the same value', () => {
    const value = { type: 'message', text: 'a\x1b]0;PWNED\x07\x7f\x9b\u202e\u2066z "q" \\ é' };
    expect(JSON.stringify(value)).toMatch(/[\x7f\x9b\u202e\u2066]/);
    const line = terminalJson(value);
    expect(line).not.toMatch(CONTROL);
    expect(line).toContain('\\u001b]0;PWNED\\u0007\\u007f\\u009b\\u202e\\u2066z');
    expect(JSON.parse(line)).toEqual(value);
  });

  it('leaves a value with nothing to escape as JSON.stringify writes it', () => {
    const value = { text: 'olá ✓✓', n: 1 };
    expect(terminalJson(value)).toBe(JSON.stringify(value));
  });
});
