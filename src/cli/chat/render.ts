import { terminalText } from '../terminal-text.js';
import type { Conversation } from './chat-state.js';
import type { MessageStatus, StoredMessage } from './chat-store.js';

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
      }
    | undefined;
  /** The input line: a prompt ("> " or "New contact number: ") and what is typed. */
  prompt: string;
  input: string;
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

/** Terminal cells of a string (characters; wide CJK/emoji are counted as one, an accepted simplification). */
function width(text: string): number {
  return [...text].length;
}

/**
 * Cut or pad plain text to exactly `n` cells. Controls are shown escaped
 * (terminal-text.ts) before measuring, so the width is that of what is drawn.
 */
export function fit(text: string, n: number): string {
  if (n <= 0) return '';
  const chars = [...terminalText(text)];
  if (chars.length > n) return chars.slice(0, Math.max(0, n - 1)).join('') + '…';
  return chars.join('') + ' '.repeat(n - chars.length);
}

/**
 * Wraps plain text into lines of at most `n` cells, breaking after a space when
 * there is one, else mid-word. Controls are shown escaped first (a line break
 * in a message is `\n`, not a line of ours), and the escapes are what is measured.
 */
export function wrap(text: string, n: number): string[] {
  if (n <= 0) return [];
  let rest = [...terminalText(text)];
  const lines: string[] = [];
  while (rest.length > n) {
    let cut = rest.lastIndexOf(' ', n);
    cut = cut > 0 ? cut + 1 : n;
    lines.push(rest.slice(0, cut).join('').trimEnd());
    rest = rest.slice(cut);
  }
  lines.push(rest.join(''));
  return lines;
}

export function clock(ts: number): string {
  const d = new Date(ts * 1000);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** A styled line: cells of plain text, with style codes that take no room. */
type Line = { text: string; styled: string };

/** The conversation's lines, newest at the bottom, `w` cells wide. */
function conversationLines(open: NonNullable<View['open']>, w: number): Line[] {
  const lines: Line[] = [];
  for (const m of open.messages) {
    const who = m.direction === 'out' ? 'you' : terminalText(open.nameOf(m.sender));
    const head = `${clock(m.ts)} ${who}: `;
    const mark = m.direction === 'out' ? checkmark(m.status) : { text: '', style: '' };
    const markRoom = mark.text ? width(mark.text) + 1 : 0;
    const body = wrap(m.text, Math.max(1, w - width(head) - markRoom));
    body.forEach((part, i) => {
      const prefix = i === 0 ? head : ' '.repeat(width(head));
      const last = i === body.length - 1;
      const textPart = fit(prefix + part, w - (last ? markRoom : 0));
      if (last && mark.text) {
        const visible = textPart.trimEnd();
        const pad = ' '.repeat(Math.max(0, w - width(visible) - markRoom));
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

/** The whole screen as `rows` lines of exactly `cols` cells, with ANSI styles. */
export function render(view: View): string[] {
  const { cols, rows } = view;
  const out: string[] = [];
  const status = view.online ? 'online' : 'offline';
  const title = ` zapwire chat · ${view.selfName} (${view.self}) · ${status}`;
  const notice = view.notice ? ` ${terminalText(view.notice)} ` : '';
  const headerText = fit(title, Math.max(0, cols - width(notice))) + notice;
  out.push(`${INVERSE}${fit(headerText, cols)}${RESET}`);

  const bodyRows = Math.max(0, rows - 3);
  const left = Math.min(LEFT_WIDTH, Math.max(10, Math.floor(cols / 3)));
  const right = Math.max(0, cols - left - 1);

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
    const icon = c.kind === 'group' ? '#' : ' ';
    const name = fit(`${icon}${c.nickname}`, left - width(badge) - 1);
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

  // Right pane: the open conversation, its last messages.
  const rightLines: string[] = [];
  if (view.open) {
    rightLines.push(`${BOLD}${fit(` ${view.open.title}`, right)}${RESET}`);
    const lines = conversationLines(view.open, Math.max(1, right - 1));
    const shown = lines.slice(Math.max(0, lines.length - (bodyRows - 1)));
    for (let i = 0; i < bodyRows - 1; i++) {
      const l = shown[i];
      rightLines.push(l ? ` ${l.styled}` : ' '.repeat(right));
    }
  } else {
    rightLines.push(fit('', right));
    const hint =
      view.conversations.length > 0
        ? 'Select a chat and press Enter'
        : 'Press Ctrl-N to add a contact';
    for (let i = 0; i < bodyRows - 1; i++)
      rightLines.push(
        i === Math.floor(bodyRows / 2) - 1
          ? `${DIM}${fit(`  ${hint}`, right)}${RESET}`
          : ' '.repeat(right),
      );
  }
  for (let i = 0; i < bodyRows; i++)
    out.push(`${leftLines[i] ?? ' '.repeat(left)}│${rightLines[i] ?? ''}`);

  const inputRoom = Math.max(0, cols - width(view.prompt));
  const typed = [...terminalText(view.input)];
  const visibleInput = typed.slice(Math.max(0, typed.length - inputRoom + 1)).join('');
  out.push(fit(`${view.prompt}${visibleInput}`, cols));
  out.push(`${DIM}${fit(FOOTER, cols)}${RESET}`);
  return out.slice(0, rows);
}

/** Where the cursor goes: at the end of the input line (1-based row, column). */
export function cursorPosition(view: View): { row: number; col: number } {
  const inputRoom = Math.max(0, view.cols - width(view.prompt));
  const shownInput = Math.min(width(terminalText(view.input)), Math.max(0, inputRoom - 1));
  return {
    row: Math.max(1, view.rows - 1),
    col: Math.min(view.cols, width(view.prompt) + shownInput + 1),
  };
}

/**
 * One frame for the terminal: synchronized-output brackets (terminals that
 * lack them ignore them), each row written whole (exactly `cols` cells) at its own
 * position, so a redraw never scrolls or flickers.
 */
export function frame(view: View): string {
  const lines = render(view);
  const cursor = cursorPosition(view);
  let s = `${ESC}?2026h${ESC}?25l`;
  lines.forEach((line, i) => {
    s += `${ESC}${i + 1};1H${line}${RESET}`;
  });
  s += `${ESC}${cursor.row};${cursor.col}H${view.focus === 'input' ? `${ESC}?25h` : ''}${ESC}?2026l`;
  return s;
}
