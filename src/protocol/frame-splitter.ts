import { FRAME_SIZE } from './frame.js';

/**
 * Cuts a TCP byte stream into 256-byte frames (docs/protocol.md §Frame: frames follow
 * each other with no separator). Keeps at most one partial frame between calls,
 * so its memory is bounded whatever the peer sends.
 */
export class FrameSplitter {
  // Allocated on the first partial frame only: most connections never split
  // a frame, and a server holds tens of thousands of splitters.
  private partial: Buffer | undefined;
  private partialLength = 0;

  /** Bytes held back waiting for the rest of a frame. */
  get buffered(): number {
    return this.partialLength;
  }

  /**
   * Feeds a chunk; calls `onFrame` with each complete frame, in order. The
   * frames passed are views into `chunk` or into an internal buffer that is
   * reused: copy one to keep it past the callback.
   */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    let offset = 0;
    if (this.partialLength > 0 && this.partial) {
      const take = Math.min(FRAME_SIZE - this.partialLength, chunk.length);
      chunk.copy(this.partial, this.partialLength, 0, take);
      this.partialLength += take;
      offset = take;
      if (this.partialLength < FRAME_SIZE) return;
      this.partialLength = 0;
      onFrame(this.partial);
    }
    while (chunk.length - offset >= FRAME_SIZE) {
      onFrame(chunk.subarray(offset, offset + FRAME_SIZE));
      offset += FRAME_SIZE;
    }
    if (offset < chunk.length) {
      this.partial ??= Buffer.alloc(FRAME_SIZE);
      chunk.copy(this.partial, 0, offset);
      this.partialLength = chunk.length - offset;
    }
  }
}
