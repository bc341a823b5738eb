import type { MessagePort } from 'node:worker_threads';
import { TurnBatch } from './turn-batch.js';

interface PortLike {
  postMessage(value: unknown, transferList?: readonly (ArrayBuffer | MessagePort)[]): void;
}

/** A port whose every message is an array: what one turn sent (see TurnBatch). Receivers always get arrays. */
export class BatchedPort<T> extends TurnBatch<T> {
  constructor(port: PortLike) {
    super((batch) => port.postMessage(batch));
  }
}

/**
 * Copies buffers into one exact-size Uint8Array. Structured clone copies a
 * typed array's whole backing ArrayBuffer, and small Buffers share an 8 KiB
 * pool slab, so sending a Buffer view as-is would copy 8 KiB per message.
 */
export function packBytes(chunks: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const c of chunks) total += c.length;
  const out = new Uint8Array(total);
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.length;
  }
  return out;
}

export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
