/**
 * docs/protocol.md §Sessions, push sessions, in the broker: right after the
 * `04` answer every pending message is sent as `06`, oldest first, and each
 * new one as it is stored; at most `pushWindow` unacknowledged at a time
 * (DESIGN.md §Flow control), the rest read back from the store in order as
 * the client acknowledges. A newer push session replaces the older (409).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Status } from '../../../src/protocol/status.js';
import { BrokerHarness, send } from './broker-harness.js';

const WINDOW = 2;

describe('Broker: backlog catch-up of a push session', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  async function withPending(count: number) {
    const alice = await h.user();
    const bob = await h.user();
    const texts = Array.from({ length: count }, (_, i) => `m${i + 1}`);
    await h.run(...texts.map((text) => send(alice.number, bob.number, text)));
    return { alice, bob, texts };
  }

  it('sends the rows pending at the 04 oldest first, no more than the push window at a time', async () => {
    h = new BrokerHarness({ pushWindow: WINDOW });
    const { bob } = await withPending(5);
    const from = h.events.length;
    const sid = await h.pushSession(bob);
    expect(BrokerHarness.pushed(h.events.slice(from), sid).map((f) => f.data)).toEqual([
      'm1',
      'm2',
    ]);
  });

  it('sends the next rows, in order, as the client acknowledges, until the backlog is caught up', async () => {
    h = new BrokerHarness({ pushWindow: WINDOW });
    const { bob, texts } = await withPending(5);
    const from = h.events.length;
    const sid = await h.pushSession(bob);
    const received = BrokerHarness.pushed(h.events.slice(from), sid).map((f) => f.data);
    for (let acked = WINDOW; received.length < texts.length; acked += WINDOW) {
      const pushed = BrokerHarness.pushed(await h.ack(sid, bob.number, acked), sid);
      expect(pushed.length).toBeGreaterThan(0);
      expect(pushed.length).toBeLessThanOrEqual(WINDOW);
      received.push(...pushed.map((f) => f.data));
    }
    expect(received).toEqual(texts);
    expect(h.broker.hasWork).toBe(false);
  });

  it('keeps rows stored while the window is full in the store and sends them after the backlog, in order', async () => {
    h = new BrokerHarness({ pushWindow: WINDOW });
    const { alice, bob } = await withPending(2);
    const sid = await h.pushSession(bob);
    const keys = h.enqueue(send(alice.number, bob.number, 'late'));
    const whileFull = await h.flush();
    expect(BrokerHarness.replies(keys, whileFull)[0]!.ok).toBe(true);
    expect(BrokerHarness.pushed(whileFull, sid)).toEqual([]);
    expect(h.store.countPending(bob.number)).toBe(3);
    const pushed = BrokerHarness.pushed(await h.ack(sid, bob.number, 2), sid);
    expect(pushed.map((f) => f.data)).toEqual(['late']);
  });

  it('pushes nothing to a socket that does not drain, and resumes in order when it drains', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const sid = await h.pushSession(bob);
    h.broker.enqueue(1, [{ op: 'writable', sid, writable: false }]);
    await h.flush();
    const held = h.events.length;
    await h.run(send(alice.number, bob.number, 'x'), send(alice.number, bob.number, 'y'));
    expect(BrokerHarness.pushed(h.events.slice(held), sid)).toEqual([]);

    h.broker.enqueue(1, [{ op: 'writable', sid, writable: true }]);
    expect(BrokerHarness.pushed(await h.flush(), sid).map((f) => f.data)).toEqual(['x', 'y']);
  });
});

describe('Broker: a newer push session replaces the older', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it('ends the older with 409 and pushes to the newer only', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const older = await h.pushSession(bob);
    const from = h.events.length;
    const newer = await h.pushSession(bob);
    expect(
      h.events.slice(from).flatMap(([, e]) => (e.t === 'kick' ? [[e.sid, e.status]] : [])),
    ).toEqual([[older, Status.Replaced]]);

    const after = h.events.length;
    await h.run(send(alice.number, bob.number, 'for the newer'));
    expect(BrokerHarness.pushed(h.events.slice(after), older)).toEqual([]);
    expect(BrokerHarness.pushed(h.events.slice(after), newer).map((f) => f.data)).toEqual([
      'for the newer',
    ]);
  });
});
