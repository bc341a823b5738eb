/**
 * docs/protocol.md §Receipts, in the broker: two checks (delivered) are made
 * by the server when the recipient's `08` covers a message whose `flag` is
 * `1`, stored and forwarded like any other message.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { MessageKind } from '../../../src/store/store.js';
import { BrokerHarness, send } from './broker-harness.js';

const TS = 1_700_000_123;

describe('Broker: receipts', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  function flagged(from: string, to: string, text: string) {
    return { ...send(from, to, text, TS), flag: true };
  }

  it("stores a `recebida <ts>` from the recipient to the sender once the recipient's 08 covers a flagged message", async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const bobSid = await h.pushSession(bob);
    await h.run(flagged(alice.number, bob.number, 'hi'));
    expect(h.store.countPending(alice.number)).toBe(0);

    await h.ack(bobSid, bob.number, 1);
    const [receipt] = h.store.pendingFor(alice.number, 0, 10);
    expect(receipt).toMatchObject({
      sender: bob.number,
      recipient: alice.number,
      group: null,
      kind: MessageKind.Receipt,
      body: `recebida ${TS}`,
      wantsReceipt: false,
    });
    expect(h.store.countPending(bob.number)).toBe(0);
  });

  /** alice and bob both in push sessions; bob acknowledges a flagged message from alice. */
  async function bothOnlineBobAcknowledges() {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const aliceSid = await h.pushSession(alice);
    const bobSid = await h.pushSession(bob);
    await h.run(flagged(alice.number, bob.number, 'hi'));
    return { alice, bob, aliceSid, events: await h.ack(bobSid, bob.number, 1) };
  }

  it('forwards the receipt to the live push session of the sender', async () => {
    const { alice, bob, aliceSid, events } = await bothOnlineBobAcknowledges();
    const pushed = BrokerHarness.pushed(events, aliceSid);
    expect(pushed.map((f) => [f.src, f.dst, f.flag, f.data])).toEqual([
      [bob.number, alice.number, false, `recebida ${TS}`],
    ]);
  });

  it('makes no receipt for a message whose flag is 0', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const bobSid = await h.pushSession(bob);
    await h.run(send(alice.number, bob.number, 'no receipt, please'));
    await h.ack(bobSid, bob.number, 1);
    expect(h.store.countPending(alice.number)).toBe(0);
  });

  it('never asks for a receipt of a receipt: acknowledging one makes none', async () => {
    const { alice, bob, aliceSid } = await bothOnlineBobAcknowledges();
    await h.ack(aliceSid, alice.number, 1);
    expect(h.store.countPending(alice.number)).toBe(0);
    expect(h.store.countPending(bob.number)).toBe(0);
  });

  it('sends the receipt of a group message to its sender, with dst the group', async () => {
    h = new BrokerHarness();
    const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
    const group = await h.group(alice, bob, carol);
    const bobSid = await h.pushSession(bob);
    await h.run(flagged(alice.number, group, 'to all'));
    // bob's pushes: the group's notice, then the message.
    await h.ack(bobSid, bob.number, 2);
    expect(h.store.pendingFor(alice.number, 0, 10)).toMatchObject([
      { sender: bob.number, group, kind: MessageKind.Receipt, body: `recebida ${TS}` },
    ]);
    // carol has not acknowledged: no receipt from her yet.
    expect(h.store.pendingFor(alice.number, 0, 10)).toHaveLength(1);
  });
});
