import { describe, expect, it } from 'vitest';
import type { StoredMessage } from '../../../../src/cli/chat/chat-store.js';
import {
  checkmark,
  cursorPosition,
  FOOTER,
  fit,
  frame,
  render,
  type View,
  wrap,
} from '../../../../src/cli/chat/render.js';

const strip = (s: string) => s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');

function out(text: string, status: StoredMessage['status'], id = 1): StoredMessage {
  return {
    id,
    chat: '2000000000002',
    direction: 'out',
    sender: '1000000000001',
    ts: 1_700_000_000,
    text,
    status,
    wantsReceipt: true,
  };
}

function view(over: Partial<View> = {}): View {
  return {
    cols: 80,
    rows: 24,
    self: '1000000000001',
    selfName: 'Alice',
    online: true,
    notice: '',
    conversations: [
      { number: '2000000000002', nickname: 'Bob', kind: 'user', unread: 0 },
      { number: '9000000000009', nickname: 'Friends', kind: 'group', unread: 3 },
    ],
    selected: 0,
    focus: 'input',
    open: { title: 'Bob (2000000000002)', messages: [], nameOf: () => 'Bob', group: false },
    prompt: '> ',
    input: '',
    ...over,
  };
}

describe('render', () => {
  it('fills exactly rows × cols cells at 80x24 and at other sizes', () => {
    for (const [cols, rows] of [
      [80, 24],
      [120, 40],
      [40, 10],
    ] as const) {
      const lines = render(
        view({
          cols,
          rows,
          open: {
            title: 'Bob',
            messages: [out('x'.repeat(300), 'read')],
            nameOf: () => 'Bob',
            group: false,
          },
        }),
      );
      expect(lines).toHaveLength(rows);
      for (const line of lines) expect([...strip(line)]).toHaveLength(cols);
    }
  });

  it('shows the list with unread counts, the footer keys and the input line', () => {
    const lines = render(view({ input: 'typing' })).map(strip);
    expect(lines[0]).toContain('Alice (1000000000001) · online');
    expect(lines[2]).toMatch(/^> Bob/);
    expect(lines[3]).toMatch(/^ #Friends +\(3\)│/);
    expect(lines[22]).toMatch(/^> typing/);
    expect(lines[23]).toBe(FOOTER.padEnd(80));
    expect(cursorPosition(view({ input: 'typing' }))).toEqual({ row: 23, col: 9 });
  });

  it('draws ✓ for stored, ✓✓ for delivered and blue ✓✓ for read', () => {
    const messages = [
      out('one', 'stored', 1),
      out('two', 'delivered', 2),
      out('three', 'read', 3),
      out('four', 'sending', 4),
    ];
    const lines = render(
      view({ open: { title: 'Bob', messages, nameOf: () => 'Bob', group: false } }),
    );
    const plain = lines.map(strip);
    expect(plain[2]).toMatch(/you: one ✓ +$/);
    expect(plain[3]).toMatch(/you: two ✓✓ +$/);
    expect(plain[4]).toMatch(/you: three ✓✓ +$/);
    expect(lines[3]).not.toContain('\x1b[1;34m✓✓');
    expect(lines[4]).toContain('\x1b[1;34m✓✓');
    expect(plain[5]).toMatch(/you: four … +$/);
    expect(checkmark('unread').text).toBe('');
  });

  it('keeps the newest messages in view', () => {
    const messages = Array.from({ length: 50 }, (_, i) => out(`message ${i}`, 'stored', i));
    const plain = render(
      view({ open: { title: 'Bob', messages, nameOf: () => 'Bob', group: false } }),
    ).map(strip);
    expect(plain[21]).toContain('message 49');
    expect(plain.join('\n')).not.toContain('message 0 ');
  });

  it('wraps at spaces, cuts what has none, and fits text with an ellipsis', () => {
    expect(wrap('hello big world', 9)).toEqual(['hello big', 'world']);
    expect(wrap('abcdefghij', 4)).toEqual(['abcd', 'efgh', 'ij']);
    expect(wrap('', 4)).toEqual(['']);
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('ab', 4)).toBe('ab  ');
    expect(fit('a\tb', 4)).toBe('a\\tb');
  });

  describe('text from the network', () => {
    const ATTACK = 'hi\x1b]0;PWNED\x07\x1b[2J\r\n12:00 Bob: forged \x9b31m\u202eevil\u2066';
    /** The style codes render itself writes; anything else starting with ESC came from a message. */
    const OWN_STYLES = /\x1b\[(?:0|7|1|2|1;34|31)m/g;
    const CONTROL = /[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

    function inbound(text: string, id = 1): StoredMessage {
      return {
        id,
        chat: '2000000000002',
        direction: 'in',
        sender: '2000000000002',
        ts: 1_700_000_000,
        text,
        status: 'unread',
        wantsReceipt: true,
      };
    }

    it('shows the controls in a message, a nickname, a notice and the input escaped, and draws nothing else from them', () => {
      for (const [cols, rows] of [
        [120, 24],
        [40, 10],
      ] as const) {
        const lines = render(
          view({
            cols,
            rows,
            notice: 'err\x1b[2J',
            input: 'typed\u202e',
            conversations: [
              { number: '2000000000002', nickname: 'Bob\x1b[8m', kind: 'user', unread: 1 },
            ],
            open: {
              title: 'Bob\x07 (2000000000002)',
              messages: [inbound(ATTACK)],
              nameOf: () => 'Bob\x1b[5m',
              group: false,
            },
          }),
        );
        for (const line of lines) {
          const withoutOwnStyles = line.replace(OWN_STYLES, '');
          expect(withoutOwnStyles).not.toMatch(CONTROL);
          // The escaped form is wider than the raw text: still exactly cols cells per row.
          expect([...withoutOwnStyles]).toHaveLength(cols);
        }
        if (cols === 120) {
          const shown = lines.map((l) => l.replace(OWN_STYLES, '')).join('\n');
          expect(shown).toContain(
            'Bob\\x1b[5m: hi\\x1b]0;PWNED\\x07\\x1b[2J\\r\\n12:00 Bob: forged \\x9b31m\\u202eevil\\u2066',
          );
          expect(shown).toContain(' err\\x1b[2J ');
          expect(shown).toContain('Bob\\x1b[8m');
          expect(shown).toContain('> typed\\u202e');
        }
      }
    });

    it('puts the cursor after the input as drawn (escapes included)', () => {
      expect(cursorPosition(view({ input: 'a\x1b' }))).toEqual({
        row: 23,
        col: 3 + 'a\\x1b'.length,
      });
    });

    it('wraps the escaped text, so no row is wider than its pane', () => {
      const w = 10;
      const parts = wrap('\x1b\x1b\x1b\x1b\x1b', w);
      expect(parts.join('')).toBe('\\x1b'.repeat(5));
      for (const part of parts) expect([...part].length).toBeLessThanOrEqual(w);
    });
  });

  it('frames a redraw in synchronized output with every row positioned', () => {
    const f = frame(view());
    expect(f.startsWith('\x1b[?2026h')).toBe(true);
    expect(f.endsWith('\x1b[?2026l')).toBe(true);
    for (let row = 1; row <= 24; row++) expect(f).toContain(`\x1b[${row};1H`);
  });
});
