/**
 * A SessionHost on message channels within this thread, the test standing
 * for the main thread on one end and for the broker on the other: how it
 * batches credit for frames finished without an answer (DESIGN.md §Flow
 * control) and ends a session the broker replaced (docs/protocol.md
 * §Sessions, takeover).
 */
import { MessageChannel, type MessagePort } from 'node:worker_threads';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { Code } from '../../../../src/protocol/codes.js';
import { decodeFrame } from '../../../../src/protocol/frame.js';
import { Status } from '../../../../src/protocol/status.js';
import { SessionHost } from '../../../../src/server/session-host/session-host.js';
import type {
  BrokerEvent,
  BrokerRequest,
  HostInbound,
  HostOutbound,
} from '../../../../src/server/threads/thread-messages.js';
import { ALICE, BOB, bytesOf, SID, TOKEN } from './fake-host-port.js';

const MAX_INFLIGHT = 8;
/** DESIGN.md §Flow control: credit leaves on its own once maxInflight / 2 frames have gathered. */
const CREDIT_BATCH = MAX_INFLIGHT / 2;

const ports: MessagePort[] = [];
afterEach(() => {
  for (const port of ports.splice(0)) port.close();
});

/** Waits until `check` holds, a few event-loop turns at a time. */
async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for ${what}`);
}

/** Lets the host run several turns (setImmediate flushes, the ports' deliveries). */
const turns = () => new Promise((r) => setTimeout(r, 30));

/** A host with one push session open for ALICE on connection SID. */
async function hostWithSession() {
  const main = new MessageChannel();
  const broker = new MessageChannel();
  ports.push(main.port1, main.port2, broker.port1, broker.port2);
  new SessionHost(
    {
      hostId: 1,
      mainPort: main.port1,
      brokerPort: broker.port1,
      options: {
        pollBatch: 100,
        logLevel: 'silent',
        anonymousTimeoutMs: 0,
        maxInflight: MAX_INFLIGHT,
      },
    },
    pino({ level: 'silent' }),
  );
  const toMain: HostOutbound[] = [];
  const toBroker: BrokerRequest[] = [];
  main.port2.on('message', (batch: HostOutbound[]) => toMain.push(...batch));
  broker.port2.on('message', (batch: BrokerRequest[]) => toBroker.push(...batch));
  const fromMain = (...messages: HostInbound[]) => main.port2.postMessage(messages);
  const fromBroker = (...events: BrokerEvent[]) => broker.port2.postMessage(events);
  const frames = (...init: Parameters<typeof bytesOf>) =>
    fromMain({ t: 'frames', sid: SID, bytes: bytesOf(...init) });
  /** The rid of the first request `op` not answered yet. */
  const ridOf = async (op: string) => {
    await until(() => toBroker.some((r) => r.op === op), `a ${op} request`);
    const request = toBroker.find((r) => r.op === op) as { rid: number };
    toBroker.splice(toBroker.indexOf(request as BrokerRequest), 1);
    return request.rid;
  };

  fromMain({ t: 'open', sid: SID, remote: '192.0.2.1:40000', address: '192.0.2.1' });
  frames({ code: Code.OpenSession, src: ALICE, flag: true, data: TOKEN });
  fromBroker({ t: 'reply', rid: await ridOf('open'), ok: true, value: null });
  const credits = () =>
    toMain.filter((m) => m.t === 'credit').map((m) => (m as { frames: number }).frames);
  return { toMain, fromBroker, frames, ridOf, credits };
}

const ack = (count: number) => ({ code: Code.Ack, src: ALICE, data: String(count) });

describe('DESIGN.md §Flow control: credit for unanswered frames, batched by the host', () => {
  it('holds back credit below maxInflight / 2, so that an 08 alone does not wake the main thread', async () => {
    const host = await hostWithSession();
    host.frames(...Array.from({ length: CREDIT_BATCH - 1 }, (_, i) => ack(i + 1)));
    await turns();
    expect(host.credits()).toEqual([]);
  });

  it('sends the credit on its own once maxInflight / 2 frames have gathered', async () => {
    const host = await hostWithSession();
    host.frames(...Array.from({ length: CREDIT_BATCH - 1 }, (_, i) => ack(i + 1)));
    await turns();
    host.frames(ack(CREDIT_BATCH));
    await until(() => host.credits().length > 0, 'credit');
    expect(host.credits()).toEqual([CREDIT_BATCH]);
  });

  it("sends the credit held back with the connection's next answer, after it", async () => {
    const host = await hostWithSession();
    host.frames(ack(1), ack(2), { code: Code.IsValid, src: ALICE, dst: BOB });
    host.fromBroker({
      t: 'reply',
      rid: await host.ridOf('validate'),
      ok: true,
      value: true,
    });
    await until(() => host.credits().length > 0, 'credit');
    const kinds = host.toMain.filter((m) => m.t === 'answer' || m.t === 'credit').map((m) => m.t);
    expect(kinds).toEqual(['answer', 'credit']);
    expect(host.credits()).toEqual([2]);
  });
});

describe('docs/protocol.md §Sessions: takeover', () => {
  it('ends the older session when the broker says a newer one replaced it: 09 409 to the main thread, to be written at once', async () => {
    const host = await hostWithSession();
    host.fromBroker({
      t: 'kick',
      sid: SID,
      status: Status.Replaced,
      reason: 'session replaced by a newer one',
    });
    await until(() => host.toMain.some((m) => m.t === 'end'), 'the end');
    const end = host.toMain.find((m) => m.t === 'end') as Extract<HostOutbound, { t: 'end' }>;
    expect(end.sid).toBe(SID);
    expect(end.after).toBeUndefined();
    const frame = decodeFrame(end.bytes);
    expect(frame).toMatchObject({ code: Code.Error, dst: ALICE });
    expect(frame.data).toMatch(/^409 /);
  });
});
