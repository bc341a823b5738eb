import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Code,
  decodeFrame,
  encodeFrame,
  FRAME_SIZE,
  FrameSplitter,
} from '../../../src/protocol/index.js';

const ALICE = '5511999990001';
const BOB = '5511999990002';

// Several different frames, so that a frame cut in the wrong place or out of
// order cannot go unnoticed.
const frames: Buffer[] = [
  encodeFrame({ code: Code.OpenSession, src: ALICE, flag: true, data: 'token-a' }),
  encodeFrame({
    code: Code.Send,
    src: ALICE,
    dst: BOB,
    ts: 1_700_000_000,
    flag: true,
    data: 'olá 😀',
  }),
  encodeFrame({
    code: Code.Send,
    src: ALICE,
    dst: BOB,
    ts: 1_700_000_001,
    data: '€'.repeat(72) + 'x',
  }),
  encodeFrame({ code: Code.Ack, src: ALICE, data: '2' }),
  encodeFrame({ code: Code.Poll, src: ALICE }),
];
const stream = Buffer.concat(frames);

/** Feeds the chunks in order and returns copies of the frames yielded. */
function feed(chunks: Buffer[], splitter = new FrameSplitter()): Buffer[] {
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    splitter.push(chunk, (frame) => {
      expect(frame).toHaveLength(FRAME_SIZE);
      // Copy: the splitter may reuse the memory behind `frame` after the callback.
      out.push(Buffer.from(frame));
    });
  }
  return out;
}

function expectSameFrames(actual: Buffer[]): void {
  expect(actual).toHaveLength(frames.length);
  for (const [i, frame] of actual.entries())
    expect(frame.equals(frames[i]!), `frame ${i}`).toBe(true);
}

function cutAt(buf: Buffer, cuts: number[]): Buffer[] {
  const points = [0, ...[...cuts].sort((a, b) => a - b), buf.length];
  return points.slice(1).map((end, i) => buf.subarray(points[i]!, end));
}

describe('FrameSplitter', () => {
  it('yields every frame of a stream pushed in one chunk, in order', () => {
    expectSameFrames(feed([stream]));
  });

  it('yields the same frames when the stream is split in two at every offset', () => {
    for (let offset = 0; offset <= stream.length; offset++) {
      expectSameFrames(feed(cutAt(stream, [offset])));
    }
  });

  it('yields the same frames when the stream arrives byte by byte', () => {
    const bytes = Array.from({ length: stream.length }, (_, i) => stream.subarray(i, i + 1));
    expectSameFrames(feed(bytes));
  });

  it('yields the same frames whatever the chunking, empty chunks included', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(stream.length), { maxLength: 40 }), (cuts) => {
        expectSameFrames(feed(cutAt(stream, cuts)));
      }),
      { seed: 42, numRuns: 2000 },
    );
  });

  it('does not yield a frame until all its 256 bytes have arrived', () => {
    const splitter = new FrameSplitter();
    expect(feed([stream.subarray(0, FRAME_SIZE - 1)], splitter)).toHaveLength(0);
    const rest = feed([stream.subarray(FRAME_SIZE - 1, FRAME_SIZE)], splitter);
    expect(rest).toHaveLength(1);
    expect(rest[0]!.equals(frames[0]!)).toBe(true);
  });

  it('reports in buffered the bytes of the partial frame it holds', () => {
    const splitter = new FrameSplitter();
    expect(splitter.buffered).toBe(0);
    feed([stream.subarray(0, 100)], splitter);
    expect(splitter.buffered).toBe(100);
    feed([stream.subarray(100, 256)], splitter);
    expect(splitter.buffered).toBe(0);
    feed([stream.subarray(256, 256 + 300)], splitter);
    expect(splitter.buffered).toBe(300 - FRAME_SIZE);
    feed([Buffer.alloc(0)], splitter);
    expect(splitter.buffered).toBe(300 - FRAME_SIZE);
    feed([stream.subarray(256 + 300)], splitter);
    expect(splitter.buffered).toBe(0);
  });

  it('never holds more than one partial frame, whatever the chunking', () => {
    fc.assert(
      fc.property(fc.array(fc.nat(stream.length), { maxLength: 20 }), (cuts) => {
        const splitter = new FrameSplitter();
        let pushed = 0;
        for (const chunk of cutAt(stream, cuts)) {
          splitter.push(chunk, () => undefined);
          pushed += chunk.length;
          expect(splitter.buffered).toBe(pushed % FRAME_SIZE);
        }
      }),
      { seed: 42, numRuns: 500 },
    );
  });

  it('yields frames that decode inside the callback, and whose copies survive later pushes', () => {
    const splitter = new FrameSplitter();
    const copies: Buffer[] = [];
    // A cut in the middle of every frame forces the internal buffer to be used and reused.
    for (const chunk of cutAt(
      stream,
      frames.map((_, i) => i * FRAME_SIZE + 100),
    )) {
      splitter.push(chunk, (frame) => {
        expect(decodeFrame(frame)).toEqual(decodeFrame(frames[copies.length]!));
        copies.push(Buffer.from(frame));
      });
    }
    expectSameFrames(copies);
  });

  it('cuts without judging: a malformed block of 256 bytes is still yielded as a frame', () => {
    const garbage = Buffer.alloc(FRAME_SIZE, 0xff);
    const out = feed([garbage.subarray(0, 10), garbage.subarray(10)]);
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(garbage)).toBe(true);
  });
});
