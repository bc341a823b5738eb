/**
 * What crosses threads goes as one array per event-loop turn (TurnBatch),
 * for ports (BatchedPort) and log lines (LogForwarder) alike.
 */
import { describe, expect, it } from 'vitest';
import { BatchedPort } from '../../../src/server/threads/batched-port.js';
import { LogForwarder } from '../../../src/server/threads/log-forwarder.js';
import { TurnBatch } from '../../../src/server/threads/turn-batch.js';

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

function recording<T>(): { batches: T[][]; sink: (batch: T[]) => void } {
  const batches: T[][] = [];
  return { batches, sink: (batch) => batches.push(batch) };
}

describe('TurnBatch', () => {
  it('hands everything sent in one turn to the sink as one array, once the turn ends', async () => {
    const { batches, sink } = recording<number>();
    const batch = new TurnBatch(sink);
    batch.send(1);
    batch.send(2);
    batch.send(3);
    expect(batches).toEqual([]);
    await nextTurn();
    expect(batches).toEqual([[1, 2, 3]]);
  });

  it('makes one batch per turn, in order', async () => {
    const { batches, sink } = recording<string>();
    const batch = new TurnBatch(sink);
    batch.send('a');
    await nextTurn();
    batch.send('b');
    batch.send('c');
    await nextTurn();
    expect(batches).toEqual([['a'], ['b', 'c']]);
  });

  it('flush hands on at once, and the turn that was scheduled sends no empty batch', async () => {
    const { batches, sink } = recording<number>();
    const batch = new TurnBatch(sink);
    batch.send(7);
    batch.flush();
    expect(batches).toEqual([[7]]);
    await nextTurn();
    expect(batches).toEqual([[7]]);
  });
});

describe('BatchedPort', () => {
  it('posts one message per turn: the array of what was sent', async () => {
    const posted: unknown[] = [];
    const port = new BatchedPort<{ n: number }>({ postMessage: (value) => posted.push(value) });
    for (let n = 0; n < 64; n++) port.send({ n });
    await nextTurn();
    expect(posted).toHaveLength(1);
    expect(posted[0]).toEqual(Array.from({ length: 64 }, (_, n) => ({ n })));
  });
});

describe('LogForwarder', () => {
  it('keeps the lines written before it has a target, and sends them with the first flush after', async () => {
    const forwarder = new LogForwarder();
    forwarder.write('{"msg":"early"}\n');
    await nextTurn();
    const { batches, sink } = recording<string>();
    forwarder.target = sink;
    forwarder.write('{"msg":"later"}\n');
    forwarder.flush();
    expect(batches).toEqual([['{"msg":"early"}\n', '{"msg":"later"}\n']]);
  });

  it('keeps lines again once its target is taken away (a host that ended)', async () => {
    const { batches, sink } = recording<string>();
    const forwarder = new LogForwarder();
    forwarder.target = sink;
    forwarder.target = undefined;
    forwarder.write('{"msg":"between hosts"}\n');
    await nextTurn();
    expect(batches).toEqual([]);
    forwarder.target = sink;
    forwarder.flush();
    expect(batches).toEqual([['{"msg":"between hosts"}\n']]);
  });
});
