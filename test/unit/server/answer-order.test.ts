/**
 * DESIGN.md §Answer order and §Flow control, on the main thread's side of a
 * v1 connection: answers are written in the order of the answer slots the
 * session opened, whether the session's host or the broker made them; the
 * broker's 06 pushes keep the place the broker gave them; a 09 that ends the
 * session comes after the answers before it; and a connection stops being
 * read while too many of its frames are in flight or its socket does not drain.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Code } from '../../../src/protocol/codes.js';
import {
  decodeFrame,
  encodeFrame,
  FRAME_SIZE,
  type FrameInit,
} from '../../../src/protocol/frame.js';
import {
  Connection,
  type FlowState,
  WRITE_HIGH_WATER,
} from '../../../src/server/main-thread/connection.js';
import type { HostHandle } from '../../../src/server/main-thread/host-pool.js';
import type { HostInbound } from '../../../src/server/threads/thread-messages.js';

const SID = 7;

/** What the Connection uses of a net.Socket, recording what is done to it. */
class FakeSocket extends EventEmitter {
  readonly chunks: Buffer[] = [];
  /** Set by a test to stand for output the peer has not read yet. */
  writableLength = 0;
  destroyed = false;
  ended = false;
  /** Whether reading is paused now, and how often it was paused. */
  paused = false;
  pauses = 0;

  write(chunk: Uint8Array): boolean {
    this.chunks.push(Buffer.from(chunk));
    return true;
  }
  pause(): this {
    this.paused = true;
    this.pauses++;
    return this;
  }
  resume(): this {
    this.paused = false;
    return this;
  }
  setNoDelay(): this {
    return this;
  }
  corks = 0;
  cork(): void {
    this.corks++;
  }
  uncork(): void {
    this.corks--;
  }
  end(): this {
    this.ended = true;
    return this;
  }
  destroy(): this {
    this.destroyed = true;
    return this;
  }

  /** The data field of every frame written so far, in wire order. */
  get written(): string[] {
    const bytes = Buffer.concat(this.chunks);
    const out: string[] = [];
    for (let offset = 0; offset < bytes.length; offset += FRAME_SIZE)
      out.push(decodeFrame(bytes.subarray(offset, offset + FRAME_SIZE)).data);
    return out;
  }
}

/** Frames as the host or the broker hands them over: one exact-size Uint8Array, each frame's data naming it. */
function frames(...labels: string[]): Uint8Array {
  return frameBytes(labels.map((data) => ({ code: Code.Stored, data })));
}
function deliveries(...labels: string[]): Uint8Array {
  return frameBytes(labels.map((data) => ({ code: Code.Deliver, data })));
}
function closing(label: string): Uint8Array {
  return frameBytes([{ code: Code.Error, data: label }]);
}
function frameBytes(inits: FrameInit[]): Uint8Array {
  return new Uint8Array(Buffer.concat(inits.map((init) => encodeFrame(init))));
}

/** `n` whole frames as the client sends them. */
function clientFrames(n: number): Buffer {
  return Buffer.concat(
    Array.from({ length: n }, (_, i) => encodeFrame({ code: Code.Poll, ts: i })),
  );
}

interface Fixture {
  connection: Connection;
  socket: FakeSocket;
  /** What the connection told its host. */
  toHost: HostInbound[];
  /** What the connection told the broker through flow.pushesWritable. */
  pushesWritable: { sid: number; writable: boolean }[];
  flow: FlowState;
  onClosed: ReturnType<typeof vi.fn>;
  /** Connections that asked the listener to uncork them once the thread message is handled. */
  corked: Connection[];
}

function connect(maxInflight = 64): Fixture {
  const socket = new FakeSocket();
  const toHost: HostInbound[] = [];
  const host = {
    id: 1,
    inbound: { send: (message: HostInbound) => toHost.push(message) },
  } as unknown as HostHandle;
  const pushesWritable: { sid: number; writable: boolean }[] = [];
  const corked: Connection[] = [];
  const flow: FlowState = {
    maxInflight,
    peakInflight: 0,
    pushesWritable: (sid, writable) => pushesWritable.push({ sid, writable }),
    corked: (c) => corked.push(c),
  };
  const onClosed = vi.fn();
  const connection = new Connection(
    SID,
    socket as unknown as Socket,
    host,
    '192.0.2.1',
    flow,
    pino({ level: 'silent' }),
    onClosed,
  );
  return { connection, socket, toHost, pushesWritable, flow, onClosed, corked };
}

const writableMessages = (toHost: HostInbound[]) => toHost.filter((m) => m.t === 'writable');

// A connection that closed arms a destroy timer (the close grace): keep it from running on.
beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('Connection: answers are written in slot order, whoever made them', () => {
  it('writes the answers of the host and of the broker in slot order, whatever order they arrive in', () => {
    const { connection, socket } = connect();
    // Slots 0 and 3 are the host's, 1, 2 and 4 the broker's (the broker sends its own in order).
    connection.fromTheBroker(1, frames('slot 1'), false);
    connection.answer(3, frames('slot 3'), false);
    connection.fromTheBroker(2, frames('slot 2'), false);
    connection.fromTheBroker(4, frames('slot 4'), false);
    expect(socket.written).toEqual([]);

    connection.answer(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['slot 0', 'slot 1', 'slot 2', 'slot 3', 'slot 4']);
  });

  it('writes an answer whose turn has come at once', () => {
    const { connection, socket } = connect();
    connection.answer(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['slot 0']);
    connection.fromTheBroker(1, frames('slot 1'), false);
    expect(socket.written).toEqual(['slot 0', 'slot 1']);
  });

  it('holds a host answer that comes before its turn until the slots before it are written', () => {
    const { connection, socket } = connect();
    connection.answer(2, frames('slot 2'), false);
    connection.answer(1, frames('slot 1'), false);
    expect(socket.written).toEqual([]);
    connection.fromTheBroker(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['slot 0', 'slot 1', 'slot 2']);
  });

  it('writes an answer of several frames whole, in its own order', () => {
    const { connection, socket } = connect();
    connection.fromTheBroker(1, frames('06 a', '06 b', '03 2'), false);
    connection.answer(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['slot 0', '06 a', '06 b', '03 2']);
  });
});

describe("Connection: the broker's 06 pushes keep the place the broker gave them", () => {
  it('writes a 06 sent after a broker answer that waits only after that answer', () => {
    const { connection, socket } = connect();
    // Slot 0 is the host's and not answered yet; the broker answered slot 1, then pushed.
    connection.fromTheBroker(1, frames('slot 1'), false);
    connection.fromTheBroker(undefined, deliveries('push a', 'push b'), false);
    expect(socket.written).toEqual([]);

    connection.answer(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['slot 0', 'slot 1', 'push a', 'push b']);
  });

  it("writes a 06 at once when nothing of the broker's waits, even while host slots are pending", () => {
    const { connection, socket } = connect();
    connection.answer(1, frames('slot 1'), false);
    connection.fromTheBroker(undefined, deliveries('push a'), false);
    expect(socket.written).toEqual(['push a']);

    connection.answer(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['push a', 'slot 0', 'slot 1']);
  });

  it('keeps pushes and answers that waited behind one another in the order the broker sent them', () => {
    const { connection, socket } = connect();
    connection.fromTheBroker(1, frames('slot 1'), false);
    connection.fromTheBroker(undefined, deliveries('push a'), false);
    connection.fromTheBroker(3, frames('slot 3'), false);
    connection.fromTheBroker(undefined, deliveries('push b'), false);
    connection.answer(0, frames('slot 0'), false);
    // Slot 3 waits for the host's slot 2, and push b waits behind slot 3.
    expect(socket.written).toEqual(['slot 0', 'slot 1', 'push a']);
    connection.answer(2, frames('slot 2'), false);
    expect(socket.written).toEqual(['slot 0', 'slot 1', 'push a', 'slot 2', 'slot 3', 'push b']);
  });
});

describe('Connection: a 09 that ends the session', () => {
  it('with `after`, waits for the answers of the slots before it, then closes, and nothing is written after it', () => {
    const { connection, socket } = connect();
    connection.end(closing('400 bad ack'), 2);
    connection.answer(1, frames('slot 1'), false);
    expect(socket.written).toEqual([]);
    expect(socket.ended).toBe(false);

    connection.fromTheBroker(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['slot 0', 'slot 1', '400 bad ack']);
    expect(socket.ended).toBe(true);

    connection.answer(2, frames('slot 2'), false);
    connection.fromTheBroker(3, frames('slot 3'), false);
    connection.fromTheBroker(undefined, deliveries('push'), false);
    connection.end(closing('503 again'), undefined);
    expect(socket.written).toEqual(['slot 0', 'slot 1', '400 bad ack']);
  });

  it('with `after` already reached, is written at once', () => {
    const { connection, socket } = connect();
    connection.answer(0, frames('slot 0'), false);
    connection.end(closing('400 bad ack'), 1);
    expect(socket.written).toEqual(['slot 0', '400 bad ack']);
    expect(socket.ended).toBe(true);
  });

  it('without `after`, is written and closes at once, even while answers wait, which are never written', () => {
    const { connection, socket } = connect();
    connection.answer(1, frames('slot 1'), false);
    connection.fromTheBroker(2, frames('slot 2'), false);
    connection.end(closing('503 shutting down'), undefined);
    expect(socket.written).toEqual(['503 shutting down']);
    expect(socket.ended).toBe(true);

    connection.answer(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['503 shutting down']);
  });

  it('an answer marked close ends the connection after it: nothing later is written, and frames read later are dropped', () => {
    const { connection, socket, toHost } = connect();
    connection.answer(1, frames('401 wrong token'), true);
    connection.fromTheBroker(0, frames('slot 0'), false);
    expect(socket.written).toEqual(['slot 0', '401 wrong token']);
    expect(socket.ended).toBe(true);

    connection.fromTheBroker(2, frames('slot 2'), false);
    connection.answer(3, frames('slot 3'), false);
    expect(socket.written).toEqual(['slot 0', '401 wrong token']);

    connection.onData(clientFrames(1));
    expect(toHost.filter((m) => m.t === 'frames')).toEqual([]);
  });

  it('a broker answer marked close ends the connection too', () => {
    const { connection, socket } = connect();
    connection.fromTheBroker(0, frames('400 bad frame'), true);
    connection.fromTheBroker(undefined, deliveries('push'), false);
    expect(socket.written).toEqual(['400 bad frame']);
    expect(socket.ended).toBe(true);
  });

  it("reports the socket's close once, through onClosed", () => {
    const { connection, socket, onClosed } = connect();
    socket.emit('close');
    expect(onClosed).toHaveBeenCalledTimes(1);
    expect(onClosed).toHaveBeenCalledWith(connection);
  });
});

describe('Connection: frames in flight (docs/protocol.md §Limits)', () => {
  it('hands the host whole frames only, one message per read', () => {
    const { connection, toHost } = connect();
    const bytes = clientFrames(3);
    connection.onData(bytes.subarray(0, FRAME_SIZE + 10));
    connection.onData(bytes.subarray(FRAME_SIZE + 10));
    const sent = toHost.filter((m) => m.t === 'frames');
    expect(sent.map((m) => m.bytes.length)).toEqual([FRAME_SIZE, 2 * FRAME_SIZE]);
    expect(Buffer.concat(sent.map((m) => m.bytes))).toEqual(bytes);
    expect(connection.inflight).toBe(3);
  });

  it('counts a frame finished when its answer is written (host or broker), and n frames on credit(n)', () => {
    const { connection, flow } = connect();
    connection.onData(clientFrames(5));
    expect(connection.inflight).toBe(5);
    expect(flow.peakInflight).toBe(5);

    connection.answer(1, frames('slot 1'), false);
    expect(connection.inflight).toBe(5); // waiting, not written
    connection.fromTheBroker(0, frames('slot 0'), false);
    expect(connection.inflight).toBe(3);
    connection.fromTheBroker(undefined, deliveries('push'), false);
    expect(connection.inflight).toBe(3); // a push answers no frame
    connection.credit(2);
    expect(connection.inflight).toBe(1);
    expect(flow.peakInflight).toBe(5);
  });

  it('stops reading once more than maxInflight frames are in flight, and reads again once they are back to maxInflight', () => {
    const { connection, socket } = connect(2);
    connection.onData(clientFrames(2));
    expect(socket.paused).toBe(false);
    connection.onData(clientFrames(1));
    expect(connection.inflight).toBe(3);
    expect(socket.paused).toBe(true);
    expect(connection.paused).toBe(true);

    connection.answer(0, frames('slot 0'), false);
    expect(connection.inflight).toBe(2);
    expect(socket.paused).toBe(false);

    connection.onData(clientFrames(2));
    expect(socket.paused).toBe(true);
    connection.credit(1);
    expect(socket.paused).toBe(true); // 3 still in flight
    connection.credit(1);
    expect(socket.paused).toBe(false);
    expect(connection.paused).toBe(false);
  });
});

describe('Connection: a socket that does not drain (DESIGN.md §Flow control)', () => {
  it('once more than WRITE_HIGH_WATER is queued, tells the host and the broker, once, and stops reading', () => {
    const { connection, socket, toHost, pushesWritable } = connect();
    socket.writableLength = WRITE_HIGH_WATER;
    connection.answer(0, frames('slot 0'), false);
    connection.uncork();
    expect(writableMessages(toHost)).toEqual([]); // at the mark, not over it

    socket.writableLength = WRITE_HIGH_WATER + 1;
    connection.fromTheBroker(undefined, deliveries('push'), false);
    connection.answer(1, frames('slot 1'), false);
    // Judged once the thread message's writes have left (uncorked), not while they wait corked.
    expect(writableMessages(toHost)).toEqual([]);
    connection.uncork();
    connection.fromTheBroker(undefined, deliveries('push'), false);
    connection.uncork();
    expect(writableMessages(toHost)).toEqual([{ t: 'writable', sid: SID, writable: false }]);
    expect(pushesWritable).toEqual([{ sid: SID, writable: false }]);
    expect(socket.paused).toBe(true);
  });

  it('on drain, tells both that it drains again and reads again', () => {
    const { connection, socket, toHost, pushesWritable } = connect();
    socket.writableLength = WRITE_HIGH_WATER + 1;
    connection.answer(0, frames('slot 0'), false);
    connection.uncork();
    socket.writableLength = 0;
    connection.onDrain();
    expect(writableMessages(toHost)).toEqual([
      { t: 'writable', sid: SID, writable: false },
      { t: 'writable', sid: SID, writable: true },
    ]);
    expect(pushesWritable).toEqual([
      { sid: SID, writable: false },
      { sid: SID, writable: true },
    ]);
    expect(socket.paused).toBe(false);
  });

  it('says nothing on a drain while it was not blocked', () => {
    const { connection, toHost, pushesWritable } = connect();
    connection.answer(0, frames('slot 0'), false);
    connection.onDrain();
    expect(writableMessages(toHost)).toEqual([]);
    expect(pushesWritable).toEqual([]);
  });

  it('reads again only when neither reason holds: draining with too many frames in flight stays paused', () => {
    const { connection, socket } = connect(1);
    connection.onData(clientFrames(3));
    socket.writableLength = WRITE_HIGH_WATER + 1;
    connection.answer(0, frames('slot 0'), false);
    connection.uncork();
    expect(socket.paused).toBe(true);

    socket.writableLength = 0;
    connection.onDrain();
    expect(connection.inflight).toBe(2);
    expect(socket.paused).toBe(true);
    connection.credit(1);
    expect(socket.paused).toBe(false);
  });

  it('does not read again on credit while the socket still does not drain', () => {
    const { connection, socket } = connect(1);
    connection.onData(clientFrames(3));
    socket.writableLength = WRITE_HIGH_WATER + 1;
    connection.answer(0, frames('slot 0'), false);
    connection.uncork();
    connection.credit(2);
    expect(connection.inflight).toBe(0);
    expect(socket.paused).toBe(true);
  });
});

describe('Connection: the writes of one thread message leave together', () => {
  it('corks the socket at its first write and asks once to be uncorked; uncork writes them', () => {
    const { connection, socket, corked } = connect();
    connection.answer(0, frames('slot 0'), false);
    connection.fromTheBroker(undefined, deliveries('push'), false);
    connection.fromTheBroker(1, frames('slot 1'), false);
    expect(socket.corks).toBe(1);
    expect(corked).toEqual([connection]);
    connection.uncork();
    expect(socket.corks).toBe(0);
    // The next message's writes cork again.
    connection.answer(2, frames('slot 2'), false);
    expect(socket.corks).toBe(1);
    expect(corked).toEqual([connection, connection]);
  });
});
