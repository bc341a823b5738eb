/**
 * One v1 connection's Session, on a fake host port (fake-host-port.ts): the
 * rules of docs/protocol.md it enforces itself, and how it orders answers,
 * credits frames and ends (DESIGN.md §Answer order, §Flow control,
 * §Containment). What the broker decides (tokens, 404, 429, the ledger's
 * counts) is the broker's and tested there; here the fake answers for it.
 */
import { describe, expect, it } from 'vitest';
import { Code } from '../../../../src/protocol/codes.js';
import { encodeFrame, NOBODY } from '../../../../src/protocol/frame.js';
import { Status } from '../../../../src/protocol/status.js';
import {
  ALICE,
  BOB,
  bytesOf,
  newSession,
  openedSession,
  SID,
  statusOf,
  TOKEN,
} from './fake-host-port.js';

const TS = 1_700_000_000;
const isValid = (src = ALICE) => ({ code: Code.IsValid, src, dst: BOB, ts: TS });
const send = (src = ALICE) => ({ code: Code.Send, src, dst: BOB, ts: TS, data: 'hi' });
const ack = (count: number | string) => ({ code: Code.Ack, src: ALICE, data: String(count) });
const poll = { code: Code.Poll, src: ALICE };
const open = { code: Code.OpenSession, src: ALICE, flag: true, data: TOKEN };

describe('docs/protocol.md §Codes: checks in order (frame, state, src, request), the first that fails answers', () => {
  it('checks the frame first: a malformed 05 from an anonymous connection is 09 400 (not 401), echoing the src, dst and ts it could read, and closes', () => {
    const { session, port } = newSession();
    const raw = encodeFrame(send(BOB));
    raw[38] = 'x'.charCodeAt(0); // flag must be 0 or 1
    session.receive(raw);
    const [answer] = port.answers;
    expect(answer?.slot).toBe(0);
    expect(answer?.close).toBe(true);
    expect(statusOf(answer!.frames[0]!)).toBe(Status.Malformed);
    expect(answer?.frames[0]).toMatchObject({ src: BOB, dst: BOB, ts: TS });
    expect(session.state).toBe('closed');
  });

  it('refuses a code only the server sends (07) as malformed: 09 400', () => {
    const { session, port } = newSession();
    session.receive(bytesOf({ code: Code.Stored, src: ALICE }));
    expect(statusOf(port.answerOf(0).frames[0]!)).toBe(Status.Malformed);
    expect(port.answerOf(0).close).toBe(true);
  });

  it.each([
    ['03', poll],
    ['05', send()],
    ['08', ack(1)],
    ['10', { code: Code.CreateGroup, src: ALICE, data: BOB }],
    ['12', { code: Code.NameOf, src: ALICE, dst: BOB }],
    ['14', { code: Code.NameGroup, src: ALICE, dst: BOB, data: 'Família' }],
  ])(
    'checks the state next: an anonymous connection may not send %s (09 401, close), whatever its src',
    (_code, frame) => {
      const { session, port } = newSession();
      session.receive(bytesOf(frame));
      const answer = port.answerOf(0);
      expect(statusOf(answer.frames[0]!)).toBe(Status.Unauthorized);
      expect(answer.close).toBe(true);
      expect(port.requests).toEqual([]);
      expect(port.told).toEqual([]);
    },
  );

  it('lets an anonymous connection send 01, 04 and 19, each to its handler', () => {
    const { session, port } = newSession();
    session.receive(bytesOf({ code: Code.Register, data: 'alice' }, isValid(NOBODY)));
    expect(port.waiting).toEqual(['register', 'validate']);
    session.receive(bytesOf(open));
    expect(port.waiting).toEqual(['register', 'validate', 'open']);
    expect(port.answers).toEqual([]);
  });

  it('checks src next: after 04, a frame whose src is not the session number is 09 403, and the connection stays open', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(isValid(BOB), isValid(ALICE)));
    const refused = port.answerOf(1);
    expect(statusOf(refused.frames[0]!)).toBe(Status.Forbidden);
    expect(refused.frames[0]).toMatchObject({ src: BOB, dst: BOB, ts: TS });
    expect(refused.close).toBe(false);
    expect(port.waiting).toEqual(['validate']);
  });

  it('checks the request last: a 10 with malformed members is 403 from the wrong src, 400 from the right one', () => {
    const bad = { code: Code.CreateGroup, ts: TS, data: 'not numbers' };
    const wrong = openedSession();
    wrong.session.receive(bytesOf({ ...bad, src: BOB }));
    expect(statusOf(wrong.port.answerOf(1).frames[0]!)).toBe(Status.Forbidden);
    const right = openedSession();
    right.session.receive(bytesOf({ ...bad, src: ALICE }));
    expect(statusOf(right.port.answerOf(1).frames[0]!)).toBe(Status.Malformed);
  });

  it('passes a 05 that passed its checks to the broker, with the slot its 07 (or its 404, 429) fills: the session writes nothing for it', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(send()));
    expect(port.told).toEqual([
      {
        request: {
          op: 'send',
          to: { sid: SID, slot: 1, src: ALICE, dst: BOB, ts: TS },
          flag: false,
          text: 'hi',
        },
        later: false,
      },
    ]);
    expect(port.answers).toHaveLength(0);
    expect(session.nextSlot).toBe(2);
  });

  it('answers a display name over 64 bytes with 09 413, and the connection stays open', () => {
    const { session, port } = newSession();
    session.receive(bytesOf({ code: Code.Register, data: 'é'.repeat(33) }, isValid(NOBODY)));
    expect(statusOf(port.answerOf(0).frames[0]!)).toBe(Status.TooLarge);
    expect(port.answerOf(0).close).toBe(false);
    expect(port.waiting).toEqual(['validate']);
  });
});

describe('docs/protocol.md §Sessions: opening a session', () => {
  it('handles the frames after a 04 only once the broker accepted it, as frames of the open session', () => {
    const { session, port } = newSession();
    session.receive(bytesOf(open, send()));
    expect(port.told).toEqual([]);
    port.reply('open', null);
    expect(session.state).toBe('open');
    expect(session.number).toBe(ALICE);
    expect(port.told.map((t) => t.request.op)).toEqual(['send']);
  });

  it('gives the 04 the first answer slot, for the broker to write its answer in', () => {
    const { session, port } = newSession();
    session.receive(bytesOf(open));
    expect(port.requests[0]).toMatchObject({
      op: 'open',
      to: { sid: SID, slot: 0, src: ALICE },
      number: ALICE,
      token: TOKEN,
      push: true,
      remote: '192.0.2.1',
    });
  });

  it('closes on a refused 04 (the broker wrote its 09 401): the frames that waited are credited, never handled', () => {
    const { session, port } = newSession();
    session.receive(bytesOf(open, send(), isValid()));
    port.refuse('open', Status.Unauthorized, 'wrong number or token');
    expect(session.state).toBe('closed');
    expect(port.credited).toBe(2);
    expect(port.told).toEqual([]);
    expect(port.waiting).toEqual([]);
  });

  it('refuses a second 04 on an open session: 09 400', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(open));
    expect(statusOf(port.answerOf(1).frames[0]!)).toBe(Status.Malformed);
  });

  it('does not open a session whose connection closed while its token was checked', () => {
    const { session, port } = newSession();
    session.receive(bytesOf(open));
    session.closedByClient();
    port.reply('open', null);
    expect(session.state).toBe('closed');
    expect(session.number).toBe(NOBODY);
  });
});

describe('docs/protocol.md §Sessions: 08, the cumulative ack', () => {
  it('tells the broker the count, ordered at the next answer slot, to travel with the next request; nothing answers it', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(isValid(), ack(3)));
    expect(port.told).toEqual([
      {
        request: expect.objectContaining({
          op: 'ack',
          sid: SID,
          number: ALICE,
          count: 3,
          after: 2,
        }),
        later: true,
      },
    ]);
    port.reply('validate', true);
    expect(port.answers.map((a) => a.slot)).toEqual([1]);
  });

  it('opens no answer slot for an 08: the frame after five 08s takes the next slot', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(ack(1), ack(2), ack(3), ack(4), ack(5), isValid()));
    expect(port.told.map((t) => t.request.count)).toEqual([1, 2, 3, 4, 5]);
    expect(port.requests.at(-1)).toMatchObject({ op: 'validate' });
    port.reply('validate', false);
    expect(port.answers.map((a) => a.slot)).toEqual([1]);
  });

  it.each([['-1'], ['1.5'], ['three'], ['']])(
    'refuses an 08 whose data %j is not a decimal count: 09 400, close',
    (data) => {
      const { session, port } = openedSession();
      session.receive(bytesOf(ack(data)));
      expect(statusOf(port.answerOf(1).frames[0]!)).toBe(Status.Malformed);
      expect(port.answerOf(1).close).toBe(true);
      expect(port.told).toEqual([]);
    },
  );
});

describe('DESIGN.md §Answer order: every answered frame opens the next slot, in frame order, whoever answers it', () => {
  it('fills each slot once, however late and in whatever order the answers come', () => {
    const { session, port } = openedSession();
    // slot 1: a 19 (this host), 2: a 05 (the broker), 3: a 403 (at once), 4: a 19, then an 08 (no slot)
    session.receive(bytesOf(isValid(), send(), isValid(BOB), isValid(), ack(1)));
    port.reply('validate', false, 1);
    port.reply('validate', true);
    expect(port.answers.map((a) => a.slot)).toEqual([3, 4, 1]);
    expect(port.told.map((t) => [t.request.op, (t.request.to as { slot?: number })?.slot])).toEqual(
      [
        ['send', 2],
        ['ack', undefined],
      ],
    );
    expect(port.answerOf(1).frames[0]).toMatchObject({ code: Code.Validity, data: '1' });
    expect(port.answerOf(4).frames[0]).toMatchObject({ code: Code.Validity, data: '0' });
    expect(session.nextSlot).toBe(5);
  });

  it('answers a request the broker refused in its own slot, echoing the frame; a 503 leaves the connection open', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(isValid(), isValid()));
    port.refuse('validate', Status.Unavailable, 'internal error');
    const answer = port.answerOf(1);
    expect(statusOf(answer.frames[0]!)).toBe(Status.Unavailable);
    expect(answer.frames[0]).toMatchObject({ src: ALICE, dst: BOB, ts: TS });
    expect(answer.close).toBe(false);
    expect(session.state).toBe('open');
  });

  it('handles the frames after a 03 only once the broker wrote its answer (handlers/poll.ts)', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(poll, isValid()));
    expect(port.waiting).toEqual(['poll']);
    expect(port.requests.at(-1)).toMatchObject({ to: { slot: 1 }, number: ALICE, limit: 100 });
    port.reply('poll', null);
    expect(port.waiting).toEqual(['validate']);
    port.reply('validate', true);
    expect(port.answers.map((a) => a.slot)).toEqual([2]);
  });
});

describe('DESIGN.md §Flow control: credit for frames finished without an answer', () => {
  it('credits an 08 at once, and leaves an answered frame for the main thread to count when it writes the answer', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(ack(1), isValid()));
    port.reply('validate', true);
    expect(port.credited).toBe(1);
  });

  it('handles nothing while the socket does not drain, and the frames that waited once it drains', () => {
    const { session, port } = openedSession();
    session.setWritable(false);
    session.receive(bytesOf(ack(1), isValid()));
    expect(port.told).toEqual([]);
    expect(port.waiting).toEqual([]);
    session.setWritable(true);
    expect(port.told.map((t) => t.request.op)).toEqual(['ack']);
    expect(port.waiting).toEqual(['validate']);
    expect(port.credited).toBe(1);
  });

  it('credits the frames read after an answer that closes, without handling them', () => {
    const { session, port } = newSession();
    session.receive(bytesOf(send(), isValid(NOBODY), isValid(NOBODY)));
    expect(port.answers).toHaveLength(1);
    expect(port.credited).toBe(2);
    session.receive(bytesOf(isValid(NOBODY)));
    expect(port.credited).toBe(3);
    expect(port.waiting).toEqual([]);
  });

  it('counts an anonymous connection as idle only while no request of it waits for an answer (docs/protocol.md §Limits)', () => {
    const { session, port } = newSession();
    expect(session.idle).toBe(true);
    session.receive(bytesOf(isValid(NOBODY)));
    expect(session.idle).toBe(false);
    port.reply('validate', false);
    expect(session.idle).toBe(true);
  });
});

describe('docs/protocol.md §Sessions: a newer push session replaces this one (takeover)', () => {
  it('ends the session with 09 409 to its number, at once, when the broker says so; what it reads next is only credited', () => {
    const { session, port } = openedSession();
    session.end(Status.Replaced, 'session replaced by a newer one');
    expect(port.ends).toHaveLength(1);
    expect(port.ends[0]?.after).toBeUndefined();
    expect(port.ends[0]?.frame).toMatchObject({ src: NOBODY, dst: ALICE });
    expect(statusOf(port.ends[0]!.frame)).toBe(Status.Replaced);
    session.receive(bytesOf(isValid()));
    expect(port.credited).toBe(1);
    expect(port.waiting).toEqual([]);
  });

  it('still writes an answer that was under way: the end is ordered after it by the main thread', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(isValid()));
    session.end(Status.Replaced, 'session replaced by a newer one');
    port.reply('validate', true);
    expect(port.answerOf(1).frames[0]).toMatchObject({ code: Code.Validity });
  });

  it('ends a session once: a later end (a shutdown) writes nothing', () => {
    const { session, port } = openedSession();
    session.end(Status.Replaced, 'session replaced by a newer one');
    session.end(Status.Unavailable, 'server shutting down', true, session.nextSlot);
    expect(port.ends).toHaveLength(1);
  });
});

describe('closedByClient: the client closed', () => {
  it('acts on the 08s that waited (the client received what it acknowledged) and drops every other frame', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(poll, ack(2), isValid(), ack(3)));
    session.closedByClient();
    expect(port.told.map((t) => [t.request.op, t.request.count])).toEqual([
      ['ack', 2],
      ['ack', 3],
    ]);
    port.reply('poll', null);
    expect(port.waiting).toEqual([]);
    expect(session.state).toBe('closed');
  });

  it('drops the 08s of a connection that never opened a session', () => {
    const { session, port } = newSession();
    session.receive(bytesOf(open, ack(1)));
    session.closedByClient();
    expect(port.told).toEqual([]);
  });
});

describe('DESIGN.md §Containment: an unexpected failure ends this session alone', () => {
  it('ends the session with 09 503 at once when handling its frame throws; that frame and the ones after it are credited', () => {
    const { session, port } = openedSession({ faults: { frameData: 'boom' } });
    session.receive(bytesOf({ ...isValid(), data: 'boom' }, isValid()));
    expect(port.ends).toHaveLength(1);
    expect(statusOf(port.ends[0]!.frame)).toBe(Status.Unavailable);
    expect(port.ends[0]?.after).toBeUndefined();
    expect(session.state).toBe('closed');
    expect(port.credited).toBe(2);
  });
});
