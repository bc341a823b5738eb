/**
 * DESIGN.md §Containment, in the broker: every request of a group commit runs
 * in a savepoint of its own, so a request that throws unexpectedly fails
 * alone (503 `internal error`, logged with its stack) and leaves nothing
 * behind: no row, no push, no count, no charge; the rest of the batch commits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BrokerHarness, HOST, send } from './broker-harness.js';

const FAULT = 'this text makes the broker throw';

describe('Broker: a request that throws fails alone', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it('answers it 503 and commits the rest of the batch: rows, replies and pushes for the others only', async () => {
    h = new BrokerHarness({ faults: { storeText: FAULT } });
    const alice = await h.user();
    const bob = await h.user();
    const bobSid = await h.pushSession(bob);

    const texts = ['one', 'two', FAULT, 'four', 'five'];
    const keys = h.enqueue(...texts.map((text) => send(alice.number, bob.number, text)));
    const events = await h.flush();
    const replies = BrokerHarness.replies(keys, events);

    expect(replies.map((r) => (r.ok ? 'stored' : `${r.status} ${r.reason}`))).toEqual([
      'stored',
      'stored',
      '503 internal error',
      'stored',
      'stored',
    ]);
    // Stored: exactly the four others (the faulty INSERT was rolled back).
    expect(h.store.pendingFor(bob.number, 0, 100).map((row) => row.body)).toEqual([
      'one',
      'two',
      'four',
      'five',
    ]);
    // Pushed: the same four, in order, and never the failed one.
    expect(BrokerHarness.pushed(events, bobSid).map((m) => m.data)).toEqual([
      'one',
      'two',
      'four',
      'five',
    ]);
    expect(h.broker.stats().messagesStored).toBe(4);
  });

  it('logs the failure at error with its stack, naming the request but not its token', async () => {
    h = new BrokerHarness({ faults: { storeText: FAULT } });
    const alice = await h.user();
    const bob = await h.user();
    await h.run(send(alice.number, bob.number, FAULT));
    const errors = h.logs.filter((line) => line.level === 50);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ op: 'send', hostId: HOST });
    expect(errors[0]!.err?.stack).toMatch(/storeText[\s\S]*at /);
    expect(JSON.stringify(h.logs)).not.toContain(alice.token);
  });

  it("does not count the failed request against the recipient's pending quota", async () => {
    // Room for exactly the three good messages: had the failed one been
    // counted, the last of them would be refused.
    h = new BrokerHarness({
      faults: { storeText: FAULT },
      quotas: {
        rateLimit: 0,
        groupRateLimit: 0,
        maxPendingPerRecipient: 3,
        registerRate: 0,
        registerBurst: 1,
        authFailuresPerMinute: 0,
      },
    });
    const alice = await h.user();
    const bob = await h.user();
    const replies = await h.run(
      send(alice.number, bob.number, 'a'),
      send(alice.number, bob.number, FAULT),
      send(alice.number, bob.number, 'b'),
    );
    expect(replies.map((r) => r.ok)).toEqual([true, false, true]);
    // Given back once it failed (the turn's requests are checked side by side): the next turn has its room.
    const [third] = await h.run(send(alice.number, bob.number, 'c'));
    expect(third!.ok).toBe(true);
    // And the count is right afterwards: the quota is full now.
    const [over] = await h.run(send(alice.number, bob.number, 'd'));
    expect(over).toMatchObject({
      ok: false,
      status: 429,
      reason: expect.stringContaining('maxPendingPerRecipient'),
    });
    expect(h.store.countPending(bob.number)).toBe(3);
  });

  it("does not charge the failed request to the sender's rate", async () => {
    // rateLimit 2: bursts of 4, exactly the good messages of the batch.
    h = new BrokerHarness({
      faults: { storeText: FAULT },
      quotas: {
        rateLimit: 2,
        groupRateLimit: 0,
        maxPendingPerRecipient: 0,
        registerRate: 0,
        registerBurst: 1,
        authFailuresPerMinute: 0,
      },
    });
    const alice = await h.user();
    const bob = await h.user();
    // The requests of a turn are checked side by side, so the one that fails
    // is given back what it was charged once it has failed: the next turn has it.
    const texts = ['a', FAULT, 'b', 'c'];
    const replies = await h.run(...texts.map((text) => send(alice.number, bob.number, text)));
    expect(replies.map((r) => r.ok)).toEqual([true, false, true, true]);
    const [fourth] = await h.run(send(alice.number, bob.number, 'd'));
    expect(fourth!.ok).toBe(true);
    const [fifth] = await h.run(send(alice.number, bob.number, 'e'));
    expect(fifth).toMatchObject({ ok: false, status: 429 });
  });

  it('rolls back a failed group message for every member, and the group goes on', async () => {
    h = new BrokerHarness({ faults: { storeText: FAULT } });
    const [alice, bob, carol] = [await h.user(), await h.user(), await h.user()];
    const group = await h.group(alice, bob, carol);
    const replies = await h.run(
      send(alice.number, group, FAULT),
      send(alice.number, group, 'after'),
    );
    expect(replies.map((r) => r.ok)).toEqual([false, true]);
    for (const member of [bob, carol]) {
      expect(h.store.pendingFor(member.number, 0, 10).map((row) => row.body)).toEqual([
        alice.number + bob.number + carol.number,
        'after',
      ]);
    }
  });

  it('keeps an HTTP send whole: a failure in one of its texts stores none of them', async () => {
    h = new BrokerHarness({ faults: { storeText: FAULT } });
    const alice = await h.user();
    const bob = await h.user();
    const [reply] = await h.run({
      op: 'authSend',
      number: alice.number,
      token: alice.token,
      dst: bob.number,
      ts: 1,
      flag: false,
      texts: ['first part', FAULT],
      remote: '192.0.2.9',
    });
    // Its first text was written when the second failed: without a savepoint
    // per request, that fails the whole turn (DESIGN.md §The store contract).
    expect(reply).toMatchObject({ ok: false, status: 503 });
    expect(h.store.countPending(bob.number)).toBe(0);
  });

  it('answers later batches normally once the fault is gone (setFaults)', async () => {
    h = new BrokerHarness({ faults: { storeText: FAULT } });
    const alice = await h.user();
    const bob = await h.user();
    expect((await h.run(send(alice.number, bob.number, FAULT)))[0]!.ok).toBe(false);
    h.broker.setFaults({});
    expect((await h.run(send(alice.number, bob.number, FAULT)))[0]).toMatchObject({
      ok: true,
      value: expect.any(Number),
    });
  });
});

describe('Broker: a commit that fails fails the whole batch (failCommits)', () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  it('answers every request 503, stores nothing, ends push sessions, and says why in commitError until the next good commit', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    const bobSid = await h.pushSession(bob);
    expect(h.broker.commitError).toBeUndefined();

    h.broker.setFaults({ failCommits: true });
    const keys = h.enqueue(
      send(alice.number, bob.number, 'lost'),
      send(alice.number, bob.number, 'lost too'),
    );
    const events = await h.flush();
    for (const reply of BrokerHarness.replies(keys, events))
      expect(reply).toMatchObject({ ok: false, status: 503, reason: 'store unavailable' });
    expect(events.some(([, e]) => e.t === 'kick' && e.sid === bobSid)).toBe(true);
    expect(BrokerHarness.pushed(events, bobSid)).toEqual([]);
    expect(h.store.countPending(bob.number)).toBe(0);
    expect(h.broker.stats().messagesStored).toBe(0);
    expect(h.broker.commitError).toMatch(/failCommits/);

    // An empty turn commits nothing: still failing as far as anyone knows.
    await h.flush();
    expect(h.broker.commitError).toMatch(/failCommits/);

    h.broker.setFaults({});
    expect((await h.run(send(alice.number, bob.number, 'kept')))[0]!.ok).toBe(true);
    expect(h.broker.commitError).toBeUndefined();
    expect(h.store.pendingFor(bob.number, 0, 10).map((row) => row.body)).toEqual(['kept']);
  });
});
