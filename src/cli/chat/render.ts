import { terminalText } from '../terminal-text.js';
import { anchored, fit, graphemes, textWidth, window, wrap } from './cells.js';
import type { Conversation } from './chat-state.js';
import type { MessageStatus, StoredMessage } from './chat-store.js';
import { displayName } from './display-name.js';

/** Everything one frame shows; the app builds it from ChatState and its own input state. */
export interface View {
  cols: number;
  rows: number;
  self: string;
  selfName: string;
  online: boolean;
  /** One line of news (errors, "contact added"), shown in the header. */
  notice: string;
  conversations: Conversation[];
  selected: number;
  focus: 'list' | 'input';
  open:
    | {
        title: string;
        messages: StoredMessage[];
        nameOf: (number: string) => string;
        group: boolean;
        /** Lines scrolled back from the newest (PgUp); 0 shows the end. */
        scroll?: number;
      }
    | undefined;
  /** The input line: a prompt ("> " or "New contact number: ") and what is typed. */
  prompt: string;
  input: string;
  /** The cursor in the input, in grapheme clusters from its start (default: the end). */
  cursor?: number;
}

const ESC = '\x1b[';
const RESET = `${ESC}0m`;
const INVERSE = `${ESC}7m`;
const BOLD = `${ESC}1m`;
const DIM = `${ESC}2m`;
const BLUE = `${ESC}1;34m`;
const RED = `${ESC}31m`;

export const FOOTER = 'Tab pane  ↑↓ select  Enter open/send  ^N contact  ^G group  ^C/^Q quit';
const LEFT_WIDTH = 24;

/** A checkmark for an own message: `✓` stored, `✓✓` delivered, blue `✓✓` read. */
export function checkmark(status: MessageStatus): { text: string; style: string } {
  switch (status) {
    case 'sending':
      return { text: '…', style: DIM };
    case 'stored':
      return { text: '✓', style: '' };
    case 'delivered':
      return { text: '✓✓', style: '' };
    case 'read':
      return { text: '✓✓', style: BLUE };
    case 'failed':
      return { text: '!', style: RED };
    case 'unread':
      return { text: '', style: '' };
  }
}

export { fit, wrap } from './cells.js';

export function clock(ts: number): string {
  const d = new Date(ts * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** A styled line: cells of plain text, with style codes that take no room. */
type Line = { text: string; styled: string };

/** Narrower than this beside its `HH:MM name: `, a message goes under it instead. */
const MIN_BODY = 12;

/** The conversation's lines, oldest first, `w` cells wide. */
function conversationLines(open: NonNullable<View['open']>, w: number): Line[] {
  const lines: Line[] = [];
  for (const m of open.messages) {
    const who = m.direction === 'out' ? 'you' : open.nameOf(m.sender);
    const head = `${clock(m.ts)} ${terminalText(who)}: `;
    const mark = m.direction === 'out' ? checkmark(m.status) : { text: '', style: '' };
    const markRoom = mark.text ? textWidth(mark.text) + 1 : 0;
    // In a narrow pane (or beside a long name, a number) the head takes a line of its own.
    const below = w - textWidth(head) - markRoom < MIN_BODY;
    if (below)
      for (const part of wrap(head.trimEnd(), w)) {
        const own = fit(part, w);
        lines.push({ text: own, styled: own });
      }
    const headWidth = below ? 0 : textWidth(head);
    const body = wrap(m.text, Math.max(1, w - headWidth - markRoom));
    body.forEach((part, i) => {
      const prefix = below ? '' : i === 0 ? head : ' '.repeat(headWidth);
      const last = i === body.length - 1;
      const textPart = fit(prefix + part, w - (last ? markRoom : 0));
      if (last && mark.text) {
        const visible = textPart.trimEnd();
        const pad = ' '.repeat(Math.max(0, w - textWidth(visible) - markRoom));
        const markText = mark.style ? `${mark.style}${mark.text}${RESET}` : mark.text;
        lines.push({
          text: `${visible} ${mark.text}${pad}`,
          styled: `${visible} ${markText}${pad}`,
        });
      } else {
        lines.push({ text: textPart, styled: textPart });
      }
    });
  }
  return lines;
}

/** The panes' widths and the rows the conversation has for its messages. */
function geometry(view: Pick<View, 'cols' | 'rows'>) {
  const bodyRows = Math.max(0, view.rows - 3);
  const left = Math.min(LEFT_WIDTH, Math.max(10, Math.floor(view.cols / 3)));
  const right = Math.max(0, view.cols - left - 1);
  return { bodyRows, left, right, messageRows: Math.max(0, bodyRows - 1) };
}

/** How far the open conversation can scroll back: lines above the first screenful. */
export function scrollLimit(view: View): number {
  if (!view.open) return 0;
  const { right, messageRows } = geometry(view);
  const total = conversationLines(view.open, Math.max(1, right - 1)).length;
  return Math.max(0, total - messageRows);
}

/** Lines one PgUp / PgDn moves: a screenful less one, so a line of context stays. */
export function pageSize(view: Pick<View, 'cols' | 'rows'>): number {
  return Math.max(1, geometry(view).messageRows - 1);
}

/** A piece of a row drawn from column `col` (1-based). */
export interface Segment {
  col: number;
  styled: string;
}

/** The input line as drawn: the prompt, the part of the input around the cursor. */
function inputLine(view: View): { text: string; cursorCol: number } {
  const promptWidth = textWidth(view.prompt);
  const room = Math.max(1, view.cols - promptWidth);
  const clusters = graphemes(view.input);
  const cursor = Math.min(view.cursor ?? clusters.length, clusters.length);
  const shown = window(clusters, cursor, room);
  return {
    text: fit(`${view.prompt}${shown.text}`, view.cols),
    cursorCol: Math.min(view.cols, promptWidth + shown.cursorCol + 1),
  };
}

/** The screen as rows of segments (the left pane, its border and the right pane are separate). */
export function layout(view: View): Segment[][] {
  const { cols } = view;
  const out: Segment[][] = [];
  const status = view.online ? 'online' : 'offline';
  // The status first: a narrow terminal cuts the end of the line.
  const title = ` zapwire chat · ${status} · ${view.selfName} (${view.self})`;
  const notice = view.notice ? ` ${terminalText(view.notice)} ` : '';
  const headerText = fit(title, Math.max(0, cols - textWidth(notice))) + notice;
  out.push([{ col: 1, styled: `${INVERSE}${fit(headerText, cols)}${RESET}` }]);

  const { bodyRows, left, right, messageRows } = geometry(view);

  // Left pane: the conversations, scrolled so the selected one shows.
  const listRows = bodyRows - 1;
  const first = Math.max(0, view.selected - listRows + 1);
  const leftLines: string[] = [];
  const heading =
    view.focus === 'list' ? `${BOLD}${fit(' Chats', left)}${RESET}` : fit(' Chats', left);
  leftLines.push(heading);
  for (let i = 0; i < listRows; i++) {
    const c = view.conversations[first + i];
    if (!c) {
      leftLines.push(
        i === 0 && view.conversations.length === 0
          ? `${DIM}${fit(' ^N adds a contact', left)}${RESET}`
          : ' '.repeat(left),
      );
      continue;
    }
    const badge = c.unread > 0 ? ` (${c.unread})` : '';
    // A group's `#` stands where a user's name has a space before it.
    const shown = terminalText(displayName(c));
    const name = fit(c.kind === 'group' ? shown : ` ${shown}`, left - textWidth(badge) - 1);
    const row = `${first + i === view.selected ? '>' : ' '}${name}${badge}`;
    const style =
      first + i === view.selected
        ? view.focus === 'list'
          ? INVERSE
          : BOLD
        : c.unread > 0
          ? BOLD
          : '';
    leftLines.push(style ? `${style}${fit(row, left)}${RESET}` : fit(row, left));
  }

  // Right pane: the open conversation, its last messages (or earlier ones, scrolled back).
  const rightLines: string[] = [];
  if (view.open) {
    const lines = conversationLines(view.open, Math.max(1, right - 1));
    const limit = Math.max(0, lines.length - messageRows);
    const scroll = Math.min(Math.max(0, view.open.scroll ?? 0), limit);
    const end = lines.length - scroll;
    const shown = lines.slice(Math.max(0, end - messageRows), end);
    const where = [
      end - shown.length > 0 ? `PgUp ↑${end - shown.length}` : '',
      scroll > 0 ? `PgDn ↓${scroll}` : '',
    ]
      .filter((s) => s !== '')
      .join(' ');
    const hint = where ? ` ${where} ` : '';
    rightLines.push(
      `${BOLD}${fit(` ${terminalText(view.open.title)}`, Math.max(0, right - textWidth(hint)))}${RESET}${DIM}${fit(hint, Math.min(right, textWidth(hint)))}${RESET}`,
    );
    for (let i = 0; i < messageRows; i++) {
      const l = shown[i];
      rightLines.push(l ? ` ${l.styled}` : ' '.repeat(right));
    }
  } else {
    rightLines.push(fit('', right));
    const hint =
      view.conversations.length > 0
        ? 'Select a chat and press Enter'
        : 'Press Ctrl-N to add a contact';
    for (let i = 0; i < messageRows; i++)
      rightLines.push(
        i === Math.floor(bodyRows / 2) - 1
          ? `${DIM}${fit(`  ${hint}`, right)}${RESET}`
          : ' '.repeat(right),
      );
  }
  for (let i = 0; i < bodyRows; i++)
    out.push([
      { col: 1, styled: leftLines[i] ?? ' '.repeat(left) },
      { col: left + 1, styled: '│' },
      { col: left + 2, styled: rightLines[i] ?? ' '.repeat(right) },
    ]);

  out.push([{ col: 1, styled: inputLine(view).text }]);
  out.push([{ col: 1, styled: `${DIM}${fit(FOOTER, cols)}${RESET}` }]);
  return out.slice(0, view.rows);
}

/** The whole screen as `rows` lines of exactly `cols` cells, with ANSI styles. */
export function render(view: View): string[] {
  return layout(view).map((row) => row.map((s) => s.styled).join(''));
}

/** Where the cursor goes: in the input line, after what is left of it (1-based row, column). */
export function cursorPosition(view: View): { row: number; col: number } {
  return { row: Math.max(1, view.rows - 1), col: inputLine(view).cursorCol };
}

/**
 * One frame for the terminal: synchronized-output brackets (terminals that
 * lack them ignore them), autowrap off (a row a terminal finds wider than
 * measured is clipped, never wrapped onto the next or scrolling the screen),
 * and each segment written at its own position, with clusters of uncertain
 * width anchored (cells.ts), so a redraw never scrolls or flickers and a
 * misjudged emoji cannot push the pane border or the check marks.
 */
export function frame(view: View): string {
  const rows = layout(view);
  const cursor = cursorPosition(view);
  let s = `${ESC}?2026h${ESC}?25l${ESC}?7l`;
  rows.forEach((row, i) => {
    for (const segment of row)
      s += `${ESC}${i + 1};${segment.col}H${anchored(segment.styled, segment.col)}${RESET}`;
  });
  s += `${ESC}${cursor.row};${cursor.col}H${view.focus === 'input' ? `${ESC}?25h` : ''}${ESC}?2026l`;
  return s;
}
