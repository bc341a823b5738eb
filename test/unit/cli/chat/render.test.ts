import { describe, expect, it } from 'vitest';
import { textWidth } from '../../../../src/cli/chat/cells.js';
import type { StoredMessage } from '../../../../src/cli/chat/chat-store.js';
import {
  checkmark,
  cursorPosition,
  FOOTER,
  fit,
  frame,
  pageSize,
  render,
  scrollLimit,
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
      { number: '2000000000002', nickname: 'Bob', kind: 'user', name: '', unread: 0 },
      { number: '9000000000009', nickname: 'Friends', kind: 'group', name: '', unread: 3 },
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

  describe('wide characters, clusters and combining marks', () => {
    const TEXTS = [
      `${'😀'.repeat(30)} END`,
      'oi Alice 👋 ça va?',
      '中文字幕很长的一句话，没有空格也要换行显示完整',
      'cafe\u0301 Å\u030a n\u0303 👨\u200d👩\u200d👧 🇧🇷 ❤️ 👍🏽 done',
    ];
    for (const text of TEXTS) {
      it(`fills every row exactly and shows all of ${JSON.stringify(text.slice(0, 12))}… at 30 to 120 columns`, () => {
        for (const cols of [30, 34, 41, 80, 120]) {
          const lines = render(
            view({
              cols,
              rows: 24,
              conversations: [
                { number: '2000000000002', nickname: text, kind: 'user', name: '', unread: 2 },
              ],
              open: {
                title: `${text} (2000000000002)`,
                messages: [out(text, 'delivered')],
                nameOf: () => 'Bob',
                group: false,
              },
              input: text,
            }),
          );
          for (const line of lines) expect(textWidth(strip(line))).toBe(cols);
          // Every cluster of the message is on screen, in order, with its check mark.
          const right = Math.max(0, cols - Math.min(24, Math.max(10, Math.floor(cols / 3))) - 1);
          const shown = lines
            .slice(2, 22)
            .map((l) => strip(l).split('│')[1] ?? '')
            .join('')
            .replace(/\d\d:\d\d you: /, '')
            .replace(/ /g, '');
          expect(shown, `${cols} cols (right pane ${right})`).toContain(
            `${text.replace(/ /g, '')}✓✓`,
          );
        }
      });

      it(`shows all of ${JSON.stringify(text.slice(0, 12))}… from a sender named by number, down to 30 columns`, () => {
        for (const cols of [30, 34, 80]) {
          const lines = render(
            view({
              cols,
              open: {
                title: 'x',
                messages: [{ ...out(text, 'unread'), direction: 'in', sender: '7275141742612' }],
                nameOf: (n) => n,
                group: false,
              },
            }),
          ).map(strip);
          for (const line of lines) expect(textWidth(line)).toBe(cols);
          const pane = lines
            .slice(2, 22)
            .map((l) => l.split('│')[1] ?? '')
            .join('')
            .replace(/ /g, '');
          expect(pane, `${cols} cols`).toContain(`7275141742612:${text.replace(/ /g, '')}`);
        }
      });
    }
  });

  it('shows the list with unread counts, the footer keys and the input line', () => {
    const lines = render(view({ input: 'typing' })).map(strip);
    expect(lines[0]).toContain('online · Alice (1000000000001)');
    expect(lines[2]).toMatch(/^> Bob/);
    expect(lines[3]).toMatch(/^ # Friends +\(3\)│/);
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

  it('scrolls back a page at a time and says what is above and below', () => {
    const messages = Array.from({ length: 50 }, (_, i) => out(`message ${i}`, 'stored', i));
    const open = { title: 'Bob', messages, nameOf: () => 'Bob', group: false };
    const v = view({ open });
    expect(scrollLimit(v)).toBe(50 - 20);
    expect(pageSize(v)).toBe(19);
    const back = render(view({ open: { ...open, scroll: 19 } })).map(strip);
    expect(back[1]).toMatch(/PgUp ↑11 PgDn ↓19 $/);
    expect(back[21]).toContain('message 30 ');
    expect(back[2]).toContain('message 11 ');
    // Past the oldest line it stays at the top.
    const top = render(view({ open: { ...open, scroll: 1_000 } })).map(strip);
    expect(top[2]).toContain('message 0 ');
    expect(top[1]).toMatch(/ PgDn ↓30 $/);
    expect(top[1]).not.toContain('PgUp');
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

    it('shows the controls in a message, a nickname, a server name, a notice and the input escaped, and draws nothing else from them', () => {
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
              {
                number: '2000000000002',
                nickname: 'Bob\x1b[8m',
                kind: 'user',
                name: '',
                unread: 1,
              },
              {
                number: '9000000000009',
                nickname: '',
                kind: 'group',
                name: 'Eve\x1b[8m',
                unread: 0,
              },
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
          // A name is anyone's to choose, so it is escaped like a message.
          expect(shown).toContain('# Eve\\x1b[8m');
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
    // The border and the right pane are positioned too: a misjudged width cannot push them.
    expect(f).toContain('\x1b[3;25H│\x1b[0m\x1b[3;26H');
    // Autowrap is off while drawing, so nothing a terminal finds too wide wraps or scrolls.
    expect(f).toContain('\x1b[?7l');
  });

  it('puts the cursor where the input line is edited, scrolling a long line', () => {
    expect(cursorPosition(view({ input: 'héllo', cursor: 1 }))).toEqual({ row: 23, col: 4 });
    expect(cursorPosition(view({ input: '中文', cursor: 1 }))).toEqual({ row: 23, col: 5 });
    const long = 'x'.repeat(200);
    const lines = render(view({ input: long })).map(strip);
    expect(lines[22]).toBe(`> ${'x'.repeat(77)} `);
    expect(cursorPosition(view({ input: long }))).toEqual({ row: 23, col: 80 });
  });
});
