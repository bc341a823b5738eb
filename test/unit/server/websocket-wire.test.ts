/**
 * docs/protocol.md §WebSocket, the wire's side: a binary message of whole
 * frames is input as a TCP read is; anything else is refused once, with the
 * reason; a turn's output (corked) leaves as one binary message.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { FRAME_SIZE } from '../../../src/protocol/index.js';
import { malformedMessage, WebSocketWire } from '../../../src/server/main-thread/websocket-wire.js';

/** What the wire uses of a ws WebSocket, recording what is sent. */
class FakeWebSocket extends EventEmitter {
  readyState: number = WebSocket.OPEN;
  bufferedAmount = 0;
  readonly sent: Buffer[] = [];
  closedWith: number | undefined;
  send(data: Buffer): void {
    this.sent.push(data);
  }
  close(code: number): void {
    this.closedWith = code;
    this.readyState = WebSocket.CLOSING;
  }
  pause(): void {}
  resume(): void {}
  terminate(): void {
    this.readyState = WebSocket.CLOSED;
  }
}

function wire() {
  const ws = new FakeWebSocket();
  const socket = new EventEmitter() as unknown as Socket;
  const w = new WebSocketWire(ws as unknown as WebSocket, socket);
  const data: Buffer[] = [];
  const malformed: string[] = [];
  w.on('data', (chunk: Buffer) => data.push(chunk));
  w.on('malformed', (reason: string) => malformed.push(reason));
  return { ws, socket, w, data, malformed };
}

const frames = (n: number, fill = 0x30) => Buffer.alloc(n * FRAME_SIZE, fill);

describe('WebSocketWire: input', () => {
  it('passes a binary message of whole frames on as one chunk', () => {
    const { ws, data, malformed } = wire();
    ws.emit('message', frames(3), true);
    expect(data).toEqual([frames(3)]);
    expect(malformed).toEqual([]);
  });

  it('refuses a text message, or a partial frame, once, and passes nothing on after it', () => {
    const { ws, data, malformed } = wire();
    ws.emit('message', Buffer.from('01'), false);
    ws.emit('message', frames(1), true);
    ws.emit('message', Buffer.alloc(10), true);
    expect(data).toEqual([]);
    expect(malformed).toHaveLength(1);
    expect(malformed[0]).toMatch(/text message/);
  });

  it.each([
    [0, true],
    [1, true],
    [FRAME_SIZE - 1, true],
    [FRAME_SIZE + 1, true],
    [FRAME_SIZE, false],
    [2 * FRAME_SIZE, false],
  ])('a binary message of %i bytes is malformed: %s', (length, refused) => {
    expect(malformedMessage(Buffer.alloc(length), true) !== undefined).toBe(refused);
  });
});

describe('WebSocketWire: output', () => {
  it('uncorked, each write is a message; corked, the turn leaves as one message at uncork', () => {
    const { ws, w } = wire();
    w.write(frames(1, 0x31));
    expect(ws.sent).toEqual([frames(1, 0x31)]);
    w.cork();
    w.write(frames(1, 0x32));
    w.write(frames(2, 0x33));
    expect(ws.sent).toHaveLength(1);
    expect(w.writableLength, 'what waits in the batch counts as queued').toBe(3 * FRAME_SIZE);
    w.uncork();
    expect(ws.sent).toEqual([frames(1, 0x31), Buffer.concat([frames(1, 0x32), frames(2, 0x33)])]);
    expect(w.writableLength).toBe(0);
  });

  it('end() sends what is batched, then closes normally (1000); nothing is written after', () => {
    const { ws, w } = wire();
    w.cork();
    w.write(frames(1));
    w.end();
    expect(ws.sent).toEqual([frames(1)]);
    expect(ws.closedWith).toBe(1000);
    expect(w.destroyed).toBe(true);
    w.write(frames(1));
    expect(ws.sent).toHaveLength(1);
  });

  it("the TCP socket's drain is the wire's, and its queue is ws's bufferedAmount", () => {
    const { ws, socket, w } = wire();
    let drained = 0;
    w.on('drain', () => drained++);
    ws.bufferedAmount = 70_000;
    expect(w.writableLength).toBe(70_000);
    (socket as unknown as EventEmitter).emit('drain');
    expect(drained).toBe(1);
  });
});
