/**
 * What every process of the benchmark measures with, so that figures from
 * different processes can be merged and compared.
 */
import hdr from 'hdr-histogram-js';

/**
 * A latency histogram in microseconds, from 1 µs to an hour, 3 significant
 * digits (mergeable across processes once encoded). The JavaScript build,
 * not WebAssembly: one per connection-role per process is cheap either way,
 * and it needs no memory of its own to be freed.
 */
export function newHistogram(): hdr.Histogram {
  return hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 3_600_000_000,
    numberOfSignificantValueDigits: 3,
    useWebAssembly: false,
  });
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now();

/**
 * The send times of a connection's unanswered `05`s, oldest first: answers
 * come in frame order, so the oldest is the one each `07` (or `09`) answers.
 * A head index rather than shift(); the consumed front is dropped once it is
 * the larger half.
 */
export class SendTimes {
  private readonly times: number[] = [];
  private head = 0;

  get size(): number {
    return this.times.length - this.head;
  }

  push(t: number): void {
    this.times.push(t);
  }

  /** The oldest send time, taken off. */
  shift(): number {
    const t = this.times[this.head++]!;
    if (this.head > 1024 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head);
      this.head = 0;
    }
    return t;
  }
}
