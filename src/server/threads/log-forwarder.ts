/**
 * The log destination of a worker thread: pino writes JSON lines here, and
 * they travel, batched per event-loop turn, to the main thread, which writes
 * them into its root logger's destination (DESIGN.md §Observability: one root
 * logger). Lines written before a target is set wait for it.
 */
export class LogForwarder {
  /** Where batches go; set by whoever owns the port to the main thread. */
  target: ((lines: string[]) => void) | undefined;
  private lines: string[] = [];
  private scheduled = false;

  write(line: string): void {
    this.lines.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Sends what is queued now (a thread about to end calls it before its last message). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (!this.target || this.lines.length === 0) return;
    const lines = this.lines;
    this.lines = [];
    this.target(lines);
  };
}
