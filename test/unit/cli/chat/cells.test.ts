import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  anchored,
  fit,
  graphemes,
  textWidth,
  uncertainWidth,
  window,
  wrap,
} from '../../../../src/cli/chat/cells.js';
import { terminalText } from '../../../../src/cli/terminal-text.js';

const FAMILY = '👨\u200d👩\u200d👧';
const THUMB_TONE = '👍🏽';
const HEART = '❤️';
const E_ACUTE = 'e\u0301';

/** Text made of the clusters terminals find hard, ASCII, spaces and a control or two. */
const hardText = fc
  .array(
    fc.constantFrom(
      'a',
      'Z',
      ' ',
      '😀',
      '👋',
      '中',
      '文',
      '한',
      'ｱ',
      E_ACUTE,
      'ç',
      FAMILY,
      THUMB_TONE,
      HEART,
      '🇧🇷',
      '\x1b',
      '\n',
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

describe('cells', () => {
  it('splits text into the clusters a reader sees as one character', () => {
    expect(graphemes(`a${E_ACUTE}${FAMILY}🇧🇷${THUMB_TONE}中`)).toEqual([
      'a',
      E_ACUTE,
      FAMILY,
      '🇧🇷',
      THUMB_TONE,
      '中',
    ]);
  });

  it('counts wide characters as two cells and combining marks as none', () => {
    expect(textWidth('😀')).toBe(2);
    expect(textWidth('中文字')).toBe(6);
    expect(textWidth('한글')).toBe(4);
    expect(textWidth(E_ACUTE)).toBe(1);
    expect(textWidth('oi Alice 👋 ça va?')).toBe(18);
    expect(textWidth(FAMILY)).toBe(2);
    // Controls are measured as drawn: escaped.
    expect(textWidth('a\x1bb')).toBe(6);
  });

  it('fits any text to exactly n cells, never splitting a cluster', () => {
    expect(fit('中文字', 5)).toBe('中文…');
    expect(fit('中文字', 4)).toBe('中… ');
    expect(fit('😀😀', 4)).toBe('😀😀');
    expect(fit(`ab${E_ACUTE}`, 4)).toBe(`ab${E_ACUTE} `);
    fc.assert(
      fc.property(hardText, fc.integer({ min: 1, max: 40 }), (text, n) => {
        const out = fit(text, n);
        expect(textWidth(out)).toBe(n);
        const kept = graphemes(out.replace(/…? *$/, ''));
        expect(graphemes(terminalText(text)).slice(0, kept.length)).toEqual(kept);
      }),
    );
  });

  it('wraps at spaces or between clusters, losing nothing but the spaces it breaks at', () => {
    expect(wrap('hello big world', 9)).toEqual(['hello big', 'world']);
    expect(wrap('中文字中文字', 5)).toEqual(['中文', '字中', '文字']);
    const emoji = `${'😀'.repeat(30)} END`;
    const lines = wrap(emoji, 54);
    expect(lines).toEqual(['😀'.repeat(27), `${'😀'.repeat(3)} END`]);
    fc.assert(
      fc.property(hardText, fc.integer({ min: 2, max: 40 }), (text, n) => {
        const out = wrap(text, n);
        for (const line of out) expect(textWidth(line)).toBeLessThanOrEqual(n);
        const noSpaces = (s: string) => s.replace(/ /g, '');
        expect(noSpaces(out.join(''))).toBe(noSpaces(terminalText(text)));
      }),
    );
  });

  it('shows the part of an input line around its cursor', () => {
    const line = graphemes('abc中文def');
    expect(window(line, line.length, 40)).toEqual({ text: 'abc中文def', cursorCol: 10 });
    // The end is at the right edge, the start scrolled away.
    expect(window(line, line.length, 6)).toEqual({ text: '文def', cursorCol: 5 });
    expect(window(line, 0, 6)).toEqual({ text: 'abc中', cursorCol: 0 });
    expect(window(line, 4, 6).cursorCol).toBeLessThanOrEqual(5);
  });

  it('anchors the column after each cluster whose width terminals disagree on', () => {
    expect(uncertainWidth('a')).toBe(false);
    expect(uncertainWidth('😀')).toBe(false);
    expect(uncertainWidth('中')).toBe(false);
    for (const c of [HEART, THUMB_TONE, FAMILY, '🇧🇷', E_ACUTE])
      expect(uncertainWidth(c)).toBe(true);
    expect(anchored('ab中😀', 5)).toBe('ab中😀');
    // From column 10: `x` at 10, ❤️ at 11-12, `y` at 13 whatever the terminal makes of ❤️.
    expect(anchored(`x${HEART}y`, 10)).toBe(`x${HEART}\x1b[13Gy`);
    // Style codes take no room.
    expect(anchored(`\x1b[1m${THUMB_TONE}\x1b[0m!`, 1)).toBe(`\x1b[1m${THUMB_TONE}\x1b[3G\x1b[0m!`);
  });
});
