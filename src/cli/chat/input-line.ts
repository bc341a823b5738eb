import { graphemes } from './cells.js';

/** Most sent lines ↑ walks back through. */
export const HISTORY_SIZE = 200;

/**
 * The line being typed, edited like a shell's (readline's emacs keys): the
 * cursor moves and deletes by grapheme cluster (an emoji or `e` + accent is
 * one step), Ctrl-U deletes to the start, Ctrl-W the word before the cursor,
 * Ctrl-K to the end. ↑ / ↓ walk the history of sent lines while the line is
 * empty or still shows a recalled one, so a draft is never replaced by accident.
 */
export class InputLine {
  private clusters: string[] = [];
  /** Cursor position, in clusters from the start (0 to length). */
  private at = 0;
  /** Sent lines, oldest first. */
  private readonly history: string[];
  /** Index into history while recalling, else undefined. */
  private recalled: number | undefined;

  constructor(history: readonly string[] = []) {
    this.history = history.slice(-HISTORY_SIZE);
  }

  get text(): string {
    return this.clusters.join('');
  }

  get cursor(): number {
    return this.at;
  }

  /** Replaces the whole line (the cursor goes to its end). */
  set(text: string): void {
    this.clusters = graphemes(text);
    this.at = this.clusters.length;
    this.recalled = undefined;
  }

  clear(): void {
    this.set('');
  }

  insert(text: string): void {
    const added = graphemes(text);
    // Typing next to a cluster can join it (a combining mark after a letter): re-segment around the cursor.
    const joined = graphemes(
      this.clusters.slice(0, this.at).join('') +
        added.join('') +
        this.clusters.slice(this.at).join(''),
    );
    const after = this.clusters.length - this.at;
    this.clusters = joined;
    this.at = Math.max(0, joined.length - after);
    this.recalled = undefined;
  }

  backspace(): void {
    if (this.at === 0) return;
    this.clusters.splice(this.at - 1, 1);
    this.at--;
    this.recalled = undefined;
  }

  deleteForward(): void {
    if (this.at >= this.clusters.length) return;
    this.clusters.splice(this.at, 1);
    this.recalled = undefined;
  }

  left(): void {
    this.at = Math.max(0, this.at - 1);
  }

  right(): void {
    this.at = Math.min(this.clusters.length, this.at + 1);
  }

  home(): void {
    this.at = 0;
  }

  end(): void {
    this.at = this.clusters.length;
  }

  /** Ctrl-U: deletes from the start of the line to the cursor. */
  deleteToStart(): void {
    this.clusters.splice(0, this.at);
    this.at = 0;
    this.recalled = undefined;
  }

  /** Ctrl-K: deletes from the cursor to the end of the line. */
  deleteToEnd(): void {
    this.clusters.splice(this.at);
    this.recalled = undefined;
  }

  /** Ctrl-W: deletes the word before the cursor and the spaces after it (bash's unix-word-rubout). */
  deleteWordBack(): void {
    let from = this.at;
    while (from > 0 && /^\s$/u.test(this.clusters[from - 1]!)) from--;
    while (from > 0 && !/^\s$/u.test(this.clusters[from - 1]!)) from--;
    this.clusters.splice(from, this.at - from);
    this.at = from;
    this.recalled = undefined;
  }

  /** A line was sent: it becomes the newest history entry (not twice in a row), and the line empties. */
  sent(text: string): void {
    if (text.trim() !== '' && this.history.at(-1) !== text) {
      this.history.push(text);
      if (this.history.length > HISTORY_SIZE) this.history.shift();
    }
    this.clear();
  }

  /** ↑: the previous sent line. False (nothing done) when the line holds a draft. */
  up(): boolean {
    if (!this.browsing()) return false;
    const next = (this.recalled ?? this.history.length) - 1;
    if (next < 0) return this.history.length > 0;
    this.show(next);
    return true;
  }

  /** ↓: the next sent line, then the empty line again. False when the line holds a draft. */
  down(): boolean {
    if (!this.browsing()) return false;
    if (this.recalled === undefined) return this.history.length > 0;
    const next = this.recalled + 1;
    if (next >= this.history.length) this.clear();
    else this.show(next);
    return true;
  }

  /** The line is empty, or shows a recalled line unchanged. */
  private browsing(): boolean {
    return this.clusters.length === 0 || this.recalled !== undefined;
  }

  private show(index: number): void {
    this.set(this.history[index]!);
    this.recalled = index;
  }
}
