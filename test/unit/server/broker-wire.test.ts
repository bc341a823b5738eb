/**
 * What the broker writes to a v1 connection itself (DESIGN.md §The path of
 * one message): it counts a connection's 06s in its ledger only once they
 * are sure to reach the wire, after the batch committed, so a cumulative
 * `08` can only ever acknowledge frames the client was sent; and a push
 * session's `04` answer comes before the pushes of its pending rows
 * (docs/protocol.md §Sessions), in the order the main thread writes them.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Code } from '../../../src/protocol/codes.js';
import { MAIN_THREAD } from '../../../src/server/broker/broker.js';
import type { AnswerTo, BrokerEvent } from '../../../src/server/threads/thread-messages.js';
import { ADDRESS, BrokerHarness, HOST, send } from './broker-harness.js';

const NOBODY = '0000000000000';
const POLL_SID = 200;

type Kick = Extract<BrokerEvent, { t: 'kick' }>;

describe("Broker: a poll session's 06s are counted only once they commit", () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  /** bob, with `texts` pending from alice, and a poll session (no pushes) open for him. */
  async function pollSessionWith(...texts: string[]): Promise<{ number: string }> {
    const alice = await h.user();
    const bob = await h.user();
    await h.run(...texts.map((text) => send(alice.number, bob.number, text)));
    await h.openSession(POLL_SID, bob, false);
    return bob;
  }

  const slot = (n: number, number: string): AnswerTo => ({
    sid: POLL_SID,
    slot: n,
    src: number,
    dst: NOBODY,
    ts: 0,
  });

  /** A `03` on answer slot `n`; returns the frames the broker wrote as its answer. */
  async function poll(
    number: string,
    n: number,
    limit: number,
  ): Promise<{ code: string; data: string }[]> {
    h.enqueue({ op: 'poll', to: slot(n, number), number, limit });
    const answer = (await h.flush()).find(
      ([, e]) => e.t === 'answer' && e.sid === POLL_SID && e.slot === n,
    );
    if (answer?.[1].t !== 'answer') throw new Error(`no answer to slot ${n}`);
    return BrokerHarness.frames(answer[1].bytes).map(({ code, data }) => ({ code, data }));
  }

  /** A cumulative `08 count` ordered before slot `after`; returns the kicks it caused. */
  async function ack(number: string, count: number, after: number): Promise<Kick[]> {
    return (await h.ack(POLL_SID, number, count, after)).flatMap(([, e]) =>
      e.t === 'kick' && e.sid === POLL_SID ? [e] : [],
    );
  }

  it('accepts an 08 of as many 06s as a committed poll wrote, and deletes those rows', async () => {
    h = new BrokerHarness();
    const bob = await pollSessionWith('one', 'two', 'three');
    expect(await poll(bob.number, 1, 2)).toEqual([
      { code: Code.Deliver, data: 'one' },
      { code: Code.Deliver, data: 'two' },
      { code: Code.Poll, data: '2' },
    ]);
    expect(await ack(bob.number, 2, 2)).toEqual([]);
    expect(h.store.pendingFor(bob.number, 0, 10).map((row) => row.body)).toEqual(['three']);
  });

  it('deletes what an 08 covered before a poll later in the same group commit reads the rows back', async () => {
    h = new BrokerHarness();
    const bob = await pollSessionWith('one', 'two', 'three');
    await poll(bob.number, 1, 2);
    // One batch: the 08 of both frames, then a poll.
    h.broker.enqueue(HOST, [
      {
        op: 'ack',
        sid: POLL_SID,
        number: bob.number,
        count: 2,
        src: bob.number,
        dst: NOBODY,
        ts: 5,
        after: 2,
      },
    ]);
    h.enqueue({ op: 'poll', to: slot(2, bob.number), number: bob.number, limit: 10 });
    const answer = (await h.flush()).find(
      ([, e]) => e.t === 'answer' && e.sid === POLL_SID && e.slot === 2,
    );
    if (answer?.[1].t !== 'answer') throw new Error('no answer to slot 2');
    expect(BrokerHarness.frames(answer[1].bytes).map(({ code, data }) => ({ code, data }))).toEqual(
      [
        { code: Code.Deliver, data: 'three' },
        { code: Code.Poll, data: '1' },
      ],
    );
  });

  it('takes back an 08 whose batch rolled back: the same 08 sent again deletes the rows', async () => {
    h = new BrokerHarness();
    const bob = await pollSessionWith('one', 'two');
    await poll(bob.number, 1, 2);
    h.broker.setFaults({ failCommits: true });
    expect(await ack(bob.number, 2, 2)).toEqual([]);
    expect(h.store.countPending(bob.number)).toBe(2);
    h.broker.setFaults({});
    expect(await ack(bob.number, 2, 2)).toEqual([]);
    expect(h.store.countPending(bob.number)).toBe(0);
  });

  it('counts none of the 06s of a poll whose batch rolled back: an 08 covering them is refused with 400', async () => {
    h = new BrokerHarness();
    const bob = await pollSessionWith('one', 'two', 'three');
    expect((await poll(bob.number, 1, 1)).map((f) => f.code)).toEqual([Code.Deliver, Code.Poll]);

    // This poll would have written all three again, had its batch committed.
    h.broker.setFaults({ failCommits: true });
    expect(await poll(bob.number, 2, 10)).toEqual([
      { code: Code.Error, data: '503 store unavailable' },
    ]);
    h.broker.setFaults({});

    // One 06 reached the wire: an 08 of four (one plus the three of the failed poll) is beyond it.
    const kicks = await ack(bob.number, 4, 3);
    expect(kicks).toEqual([
      {
        t: 'kick',
        sid: POLL_SID,
        status: 400,
        reason: 'ack of 4 but 1 frames were sent',
        after: 3,
        cause: { src: bob.number, dst: NOBODY, ts: 5 },
      },
    ]);
    // And nothing was deleted for it.
    expect(h.store.countPending(bob.number)).toBe(3);
  });
});

describe("Broker: a push session's 04 answer comes before its pending rows", () => {
  let h: BrokerHarness;
  afterEach(() => h.close());

  /** The frames each event sent to the main thread carries for `sid`, in emission order, as code and data. */
  function onTheWire(events: readonly [number, BrokerEvent][], sid: number): string[] {
    return events.flatMap(([hostId, e]) =>
      hostId === MAIN_THREAD && (e.t === 'answer' || e.t === 'deliver') && e.sid === sid
        ? BrokerHarness.frames(e.bytes).map((f) => `${f.code} ${f.data}`)
        : [],
    );
  }

  it('emits the 04 answer to the main thread before the 06s of the rows that were pending', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    await h.run(send(alice.number, bob.number, 'one'), send(alice.number, bob.number, 'two'));

    h.enqueue({
      op: 'open',
      sid: 300,
      number: bob.number,
      token: bob.token,
      push: true,
      remote: ADDRESS,
    });
    const events = await h.flush();
    expect(onTheWire(events, 300)).toEqual([
      `${Code.OpenSession} ok`,
      `${Code.Deliver} one`,
      `${Code.Deliver} two`,
    ]);
    // The 04 is the answer of the frame's slot; the rows are pushes.
    const kinds = events
      .filter(([hostId, e]) => hostId === MAIN_THREAD && 'sid' in e && e.sid === 300)
      .map(([, e]) => (e.t === 'answer' ? `answer ${e.slot}` : e.t));
    expect(kinds).toEqual(['answer 0', 'deliver']);
  });

  it('pushes a message sent in the same batch as the open after the 04 too', async () => {
    h = new BrokerHarness();
    const alice = await h.user();
    const bob = await h.user();
    await h.run(send(alice.number, bob.number, 'before'));

    h.enqueue(
      { op: 'open', sid: 301, number: bob.number, token: bob.token, push: true, remote: ADDRESS },
      send(alice.number, bob.number, 'during'),
    );
    expect(onTheWire(await h.flush(), 301)).toEqual([
      `${Code.OpenSession} ok`,
      `${Code.Deliver} before`,
      `${Code.Deliver} during`,
    ]);
  });
});
