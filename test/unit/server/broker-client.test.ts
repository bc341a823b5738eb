/**
 * DESIGN.md §The path of one message: an 08's deletions (tellLater) travel
 * with the host's next request, in order, or alone after LATER_MS at most.
 */

import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  BrokerClient,
  LATER_MS,
  type TellRequest,
} from '../../../src/server/threads/broker-client.js';
import type { BrokerRequest } from '../../../src/server/threads/thread-messages.js';

const ack = (count: number): TellRequest => ({
  op: 'ack',
  sid: 1,
  number: '1000000000001',
  count,
  src: '1000000000001',
  dst: '0000000000000',
  ts: 0,
  after: 0,
});

/** A client on one end of a channel, and every batch that reaches the other end. */
function connected(): { client: BrokerClient; batches: BrokerRequest[][]; ports: MessagePort[] } {
  const { port1, port2 } = new MessageChannel();
  const batches: BrokerRequest[][] = [];
  port2.on('message', (batch: BrokerRequest[]) => batches.push(batch));
  return { client: new BrokerClient(port1, () => {}), batches, ports: [port1, port2] };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
};

let open: MessagePort[] = [];
afterEach(() => {
  for (const port of open) port.close();
  open = [];
  vi.useRealTimers();
});

describe('BrokerClient.tellLater', () => {
  it('sends nothing by itself at once, then goes with the next request, before it', async () => {
    const { client, batches, ports } = connected();
    open = ports;
    client.tellLater(ack(1));
    client.tellLater(ack(2));
    client.tell({ op: 'close', sid: 1 });
    await until(() => batches.length > 0);
    expect(batches).toEqual([[ack(1), ack(2), { op: 'close', sid: 1 }]]);
  });

  it(`goes alone after ${LATER_MS} ms when nothing else is sent`, async () => {
    const { client, batches, ports } = connected();
    open = ports;
    client.tellLater(ack(3));
    await new Promise((r) => setTimeout(r, 1));
    expect(batches).toEqual([]);
    await until(() => batches.length > 0);
    expect(batches).toEqual([[ack(3)]]);
  });

  it('goes with flush (a host ending)', async () => {
    const { client, batches, ports } = connected();
    open = ports;
    client.tellLater(ack(4));
    client.flush();
    await until(() => batches.length > 0);
    expect(batches).toEqual([[ack(4)]]);
  });
});
