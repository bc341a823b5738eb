/**
 * DESIGN.md §The path of one message: every request queued during one
 * broker turn is handled in ONE transaction (group commit), and nothing is
 * answered before it has committed (docs/protocol.md §Delivery guarantees:
 * `07` is sent only after the message is committed). A request refused
 * inside the batch gets its own `09` and leaves the others alone.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Code } from '../../../src/protocol/codes.js';
import { BrokerHarness, send } from './broker-harness.js';

const UNKNOWN = '9999999999999';

describe('Broker: group commit', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it('handles every request queued in one turn in a single transaction', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const before = h.store.counters().commits;
    const replies = await h.run(
      send(alice.number, bob.number, 'one'),
      { op: 'register', name: 'carol', remote: '192.0.2.50' },
      send(alice.number, bob.number, 'two'),
      { op: 'validate', number: bob.number },
    );
    expect(replies.map((r) => r.ok)).toEqual([true, true, true, true]);
    expect(h.store.counters().commits - before).toBe(1);
    expect(h.store.countPending(bob.number)).toBe(2);
  });

  it('emits nothing for queued requests until the turn is flushed', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const emitted = h.events.length;
    h.enqueue(send(alice.number, bob.number, 'queued'), { op: 'validate', number: bob.number });
    expect(h.events.length).toBe(emitted);
    expect(h.store.countPending(bob.number)).toBe(0);
    expect((await h.flush()).length).toBeGreaterThan(0);
  });

  it('writes each 07 only after the transaction holding its row has committed', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const committed = h.store.counters().commits;
    const from = h.events.length;
    h.enqueue(send(alice.number, bob.number, 'a'), send(alice.number, bob.number, 'b'));
    await h.flush();
    const answers = h.events
      .map(([, event], i) => ({ event, commits: h.commitsAtEmit[i]! }))
      .slice(from)
      .filter(({ event }) => event.t === 'answer');
    expect(answers).toHaveLength(2);
    for (const { event, commits } of answers) {
      if (event.t !== 'answer') throw new Error(event.t);
      expect(BrokerHarness.frames(event.bytes).map((f) => f.code)).toEqual([Code.Stored]);
      expect(commits).toBe(committed + 1);
    }
  });

  it('answers a batch in the order its requests came', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    h.enqueue(...['1', '2', '3'].map((text) => send(alice.number, bob.number, text)));
    const slots = (await h.flush()).flatMap(([, event]) =>
      event.t === 'answer' ? [event.slot] : [],
    );
    expect(slots).toEqual([...slots].sort((a, b) => a - b));
    expect(slots).toHaveLength(3);
  });
});

describe('Broker: a request refused in a batch', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it('gets its own 09 status while the others of the batch get their answers', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const replies = await h.run(
      send(alice.number, bob.number, 'before'),
      send(alice.number, UNKNOWN, 'to nobody'),
      { op: 'register', name: 'bad\u0000name', remote: '192.0.2.51' },
      send(alice.number, bob.number, 'after'),
    );
    expect(replies.map((r) => (r.ok ? 'ok' : `${r.status} ${r.reason}`))).toEqual([
      'ok',
      '404 unknown destination',
      '400 name must be well-formed Unicode without 0x00',
      'ok',
    ]);
    expect(h.store.pendingFor(bob.number, 0, 10).map((row) => row.body)).toEqual([
      'before',
      'after',
    ]);
  });

  it('leaves nothing of what it wrote before it was refused: a 10 with an unknown member creates no group', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const [refused, kept] = await h.run(
      { op: 'createGroup', src: alice.number, ts: 1, members: [bob.number, UNKNOWN] },
      send(alice.number, bob.number, 'kept'),
    );
    expect(refused).toMatchObject({ ok: false, status: 404 });
    expect(kept!.ok).toBe(true);
    expect(h.store.pendingFor(bob.number, 0, 10).map((row) => row.body)).toEqual(['kept']);
  });
});
