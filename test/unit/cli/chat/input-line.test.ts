import { describe, expect, it } from 'vitest';
import { HISTORY_SIZE, InputLine } from '../../../../src/cli/chat/input-line.js';

function typed(text: string, history: string[] = []): InputLine {
  const line = new InputLine(history);
  line.insert(text);
  return line;
}

describe('InputLine', () => {
  it('moves and deletes by grapheme cluster, inserting at the cursor', () => {
    const line = typed('a👋🏽e\u0301中');
    expect(line.cursor).toBe(4);
    line.left();
    line.backspace(); // e + accent, as one
    expect(line.text).toBe('a👋🏽中');
    line.home();
    line.deleteForward();
    expect(line.text).toBe('👋🏽中');
    line.right();
    line.insert('!');
    expect(line.text).toBe('👋🏽!中');
    line.end();
    line.left();
    // A combining mark typed after a letter joins it into one cluster.
    line.home();
    line.insert('o');
    line.insert('\u0308');
    expect(line.text).toBe('o\u0308👋🏽!中');
    expect(line.cursor).toBe(1);
  });

  it('Ctrl-U deletes to the start, Ctrl-K to the end, Ctrl-W the word before the cursor', () => {
    const line = typed('send this  now');
    line.deleteWordBack();
    expect(line.text).toBe('send this  ');
    line.deleteWordBack();
    expect(line.text).toBe('send ');
    line.set('one two three');
    for (let i = 0; i < 6; i++) line.left();
    line.deleteToStart();
    expect(line.text).toBe(' three');
    expect(line.cursor).toBe(0);
    line.right();
    line.deleteToEnd();
    expect(line.text).toBe(' ');
  });

  it('walks the sent lines with ↑/↓ while the line is empty, never over a draft', () => {
    const line = new InputLine(['first', 'second']);
    expect(line.up()).toBe(true);
    expect(line.text).toBe('second');
    line.up();
    expect(line.text).toBe('first');
    line.up(); // the oldest stays
    expect(line.text).toBe('first');
    line.down();
    expect(line.text).toBe('second');
    line.down();
    expect(line.text).toBe('');
    line.insert('draft');
    expect(line.up()).toBe(false);
    expect(line.text).toBe('draft');
    // Editing a recalled line makes it a draft.
    line.clear();
    line.up();
    line.insert('!');
    expect(line.up()).toBe(false);
    expect(line.text).toBe('second!');
  });

  it('records what was sent (not twice in a row, not blank) and keeps the last HISTORY_SIZE', () => {
    const line = new InputLine();
    line.insert('x');
    line.sent('x');
    line.sent('x');
    line.sent('   ');
    expect(line.text).toBe('');
    line.up();
    expect(line.text).toBe('x');
    line.down();
    line.up();
    line.up();
    expect(line.text).toBe('x');
    const full = new InputLine(Array.from({ length: HISTORY_SIZE + 5 }, (_, i) => `m${i}`));
    for (let i = 0; i < HISTORY_SIZE + 10; i++) full.up();
    expect(full.text).toBe('m5');
  });
});
