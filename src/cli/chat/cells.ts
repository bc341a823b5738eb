import stringWidth from 'string-width';
import { terminalText } from '../terminal-text.js';

/**
 * Text measured the way a terminal lays it out: in grapheme clusters (what a
 * reader sees as one character: `e` + U+0301, 👋🏽, 🇧🇷, 👨‍👩‍👧 are each one), each
 * taking the cells string-width gives it (East Asian Wide and emoji 2,
 * combining marks 0). Counting code points instead cut 😀 and CJK in half and
 * made rows wider than the terminal, which then wrapped or dropped their ends.
 *
 * Every function here takes text as it came (from a message, a nickname, the
 * input line) and shows its controls escaped first (terminal-text.ts), so what
 * is measured is what is drawn.
 */

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' });

/** Printable ASCII: one cluster and one cell per character (most text; string-width costs ~20 µs a call). */
const ASCII = /^[\x20-\x7e]*$/;

/** The grapheme clusters of `text`, in order. */
export function graphemes(text: string): string[] {
  if (ASCII.test(text)) return text.split('');
  return Array.from(segmenter.segment(text), (s) => s.segment);
}

/** Widths of the clusters met so far: a chat redraws the same messages at every keypress. */
const widths = new Map<string, number>();
const MAX_CACHED = 10_000;

/** Terminal cells of one grapheme cluster (or of plain text without controls). */
export function cellWidth(text: string): number {
  if (ASCII.test(text)) return text.length;
  let w = widths.get(text);
  if (w === undefined) {
    w = stringWidth(text);
    if (widths.size >= MAX_CACHED) widths.clear();
    widths.set(text, w);
  }
  return w;
}

/**
 * A cluster whose width terminals disagree on: several code points (emoji with
 * a skin tone or VS16, ZWJ sequences, flags, combining marks) or none drawn
 * (a lone combining mark). tmux 3.3 draws ❤️ in 1 cell and 👍🏽 in 4, where
 * string-width (and most terminals) say 2: see `anchored`.
 */
export function uncertainWidth(cluster: string): boolean {
  if (cluster.length === 1) return false;
  const first = cluster.codePointAt(0)!;
  // One astral code point (a plain emoji, a rare CJK ideograph) is agreed on.
  if (cluster.length === 2 && first > 0xffff) return false;
  return true;
}

/** Graphemes of the escaped text, each with its cells. */
function measured(text: string): { g: string; w: number }[] {
  return graphemes(terminalText(text)).map((g) => ({ g, w: cellWidth(g) }));
}

/** Cells `text` takes once drawn (controls escaped). */
export function textWidth(text: string): number {
  let w = 0;
  for (const m of measured(text)) w += m.w;
  return w;
}

/**
 * Cut or pad text to exactly `n` cells: a cut ends with `…`, and a wide
 * character that would straddle the edge is replaced by a space, never half
 * drawn.
 */
export function fit(text: string, n: number): string {
  if (n <= 0) return '';
  const parts = measured(text);
  const total = parts.reduce((sum, p) => sum + p.w, 0);
  if (total <= n) return parts.map((p) => p.g).join('') + ' '.repeat(n - total);
  let out = '';
  let used = 0;
  for (const p of parts) {
    if (used + p.w > n - 1) break;
    out += p.g;
    used += p.w;
  }
  return out + '…' + ' '.repeat(n - 1 - used);
}

/**
 * Wraps text into lines of at most `n` cells, breaking after a space when
 * there is one, else between graphemes (never inside one). A grapheme wider
 * than `n` gets a line of its own (and is cut by `fit` when drawn).
 */
export function wrap(text: string, n: number): string[] {
  if (n <= 0) return [];
  const parts = measured(text);
  const lines: string[] = [];
  let start = 0;
  while (start < parts.length) {
    let used = 0;
    let end = start;
    let lastSpace = -1;
    while (end < parts.length && (used + parts[end]!.w <= n || end === start)) {
      if (parts[end]!.g === ' ') lastSpace = end;
      used += parts[end]!.w;
      end++;
    }
    // The line is full: break at the space that ends it, else after its last space.
    let next = end;
    if (end < parts.length && parts[end]!.g === ' ') next = end + 1;
    else if (end < parts.length && lastSpace > start) end = next = lastSpace + 1;
    lines.push(
      parts
        .slice(start, end)
        .map((p) => p.g)
        .join('')
        .trimEnd(),
    );
    start = next;
  }
  return lines.length > 0 ? lines : [''];
}

/**
 * The part of a line to show in `room` cells so that grapheme `cursor` (an
 * index; `length` for the end) is on screen, with the cursor's cell offset in
 * it. Shows from the start while that fits, else scrolls so the cursor sits
 * at the right edge.
 */
export function window(
  clusters: readonly string[],
  cursor: number,
  room: number,
): { text: string; cursorCol: number } {
  const shown = clusters.map((g) => {
    const text = terminalText(g);
    return { text, w: textWidth(text) };
  });
  // One cell is kept for the cursor itself when it is at the end.
  const limit = Math.max(1, room);
  let start = 0;
  let before = shown.slice(0, cursor).reduce((sum, s) => sum + s.w, 0);
  const atCursor = shown[cursor]?.w ?? 1;
  while (start < cursor && before + atCursor > limit) {
    before -= shown[start]!.w;
    start++;
  }
  let text = '';
  let used = 0;
  for (let i = start; i < shown.length && used + shown[i]!.w <= limit; i++) {
    text += shown[i]!.text;
    used += shown[i]!.w;
  }
  return { text, cursorCol: before };
}

/** SGR sequences: the only escapes the renderer puts inside a row. */
const SGR = /(\x1b\[[0-9;]*m)/;

/**
 * A styled row segment that starts at column `col` (1-based), with a cursor
 * move (CHA, `ESC[<n>G`) after each cluster of uncertain width to the column
 * where the next one belongs. A terminal that draws such a cluster narrower
 * leaves a blank, one that draws it wider has its excess overwritten: what
 * follows is where it was measured to be either way, so the check marks and
 * the pane edge never shift.
 */
export function anchored(styled: string, col: number): string {
  let out = '';
  let at = col;
  for (const piece of styled.split(SGR)) {
    if (piece.startsWith('\x1b[')) {
      out += piece;
      continue;
    }
    for (const g of graphemes(piece)) {
      out += g;
      at += cellWidth(g);
      if (uncertainWidth(g)) out += `\x1b[${at}G`;
    }
  }
  return out;
}
