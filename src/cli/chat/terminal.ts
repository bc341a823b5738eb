import { emitKeypressEvents, type Key } from 'node:readline';

export type { Key };

const ESC = '\x1b[';

/**
 * The terminal as the chat uses it: the alternate screen (so quitting gives
 * back what was there), raw-mode keypresses, and resize notices. `stop`
 * restores everything and is safe to call twice.
 */
export class Terminal {
  private started = false;
  private readonly onKeypress = (str: string | undefined, key: Key | undefined) =>
    this.keyHandler(str, key ?? {});
  private readonly onResize = () => this.resizeHandler();

  constructor(
    private readonly input: NodeJS.ReadStream = process.stdin,
    private readonly output: NodeJS.WriteStream = process.stdout,
    private readonly keyHandler: (str: string | undefined, key: Key) => void = () => {},
    private readonly resizeHandler: () => void = () => {},
  ) {}

  get cols(): number {
    return this.output.columns || 80;
  }

  get rows(): number {
    return this.output.rows || 24;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    emitKeypressEvents(this.input);
    if (this.input.isTTY) this.input.setRawMode(true);
    this.input.on('keypress', this.onKeypress);
    this.input.resume();
    this.output.on('resize', this.onResize);
    // Alternate screen, cleared, cursor home.
    this.output.write(`${ESC}?1049h${ESC}2J${ESC}H`);
  }

  write(data: string): void {
    if (this.started) this.output.write(data);
  }

  stop(): void {
    if (!this.started) return;
    this.started = false;
    this.input.off('keypress', this.onKeypress);
    this.output.off('resize', this.onResize);
    if (this.input.isTTY) this.input.setRawMode(false);
    this.input.pause();
    // Styles off, cursor shown, autowrap back on (frames turn it off), back to the main screen.
    this.output.write(`${ESC}0m${ESC}?25h${ESC}?7h${ESC}?1049l`);
  }
}
