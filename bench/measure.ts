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
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable across processes on one machine. */
export const now = (): number => performance.timeOrigin + performance.now();
