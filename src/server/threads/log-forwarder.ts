import { TurnBatch } from './turn-batch.js';

/**
 * The log destination of a worker thread: pino writes JSON lines here, and
 * they travel, batched per event-loop turn, to the main thread, which writes
 * them into its root logger's destination (DESIGN.md §Observability: one root
 * logger). Lines written before a target is set wait for it.
 */
export class LogForwarder extends TurnBatch<string> {
  constructor() {
    super(undefined);
  }

  /** Where batches go; set by whoever owns the port to the main thread. */
  set target(target: ((lines: string[]) => void) | undefined) {
    this.sink = target;
  }

  /** pino's destination interface: one JSON line. */
  write(line: string): void {
    this.send(line);
  }
}
