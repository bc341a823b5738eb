/**
 * The handlers of `12` and `14` (docs/protocol.md §Names) in a Session on a
 * fake host port: what they check themselves, in the documented order, what
 * they ask the broker, and the frames they answer with. Whether the broker
 * says 403 or 404 is the broker's (broker-names.test.ts); here the fake
 * answers for it.
 */
import { describe, expect, it } from 'vitest';
import { Code } from '../../../../src/protocol/codes.js';
import { NOBODY } from '../../../../src/protocol/frame.js';
import { Status } from '../../../../src/protocol/status.js';
import { ALICE, BOB, bytesOf, openedSession, statusOf } from './fake-host-port.js';

const GROUP = '9000000000001';
const TS = 1_700_000_000;
const nameOf = (dst: string, src = ALICE) => ({ code: Code.NameOf, src, dst, ts: TS });
const nameGroup = (data: string, src = ALICE) => ({
  code: Code.NameGroup,
  src,
  dst: GROUP,
  ts: TS,
  data,
});

// That 12 and 14 need a session (401 before 04) is in session.test.ts, with the other codes.
describe('docs/protocol.md §Names: who may send 12 and 14', () => {
  it.each([
    ['12', nameOf(BOB, BOB)],
    ['14', nameGroup('Família', BOB)],
  ])('answers %s whose src is not the session number with 09 403, and stays open', (_, frame) => {
    const { session, port } = openedSession();
    session.receive(bytesOf(frame));
    expect(statusOf(port.answerOf(1).frames[0]!)).toBe(Status.Forbidden);
    expect(port.answerOf(1).close).toBe(false);
    expect(port.requests.map((r) => r.op)).toEqual(['open']);
  });

  it.each([
    ['13', Code.Name],
    ['15', Code.GroupNamed],
  ])('refuses %s from a client (only the server sends it): 09 400, close', (_, code) => {
    const { session, port } = openedSession();
    session.receive(bytesOf({ code, src: ALICE, dst: GROUP, data: 'x' }));
    expect(statusOf(port.answerOf(1).frames[0]!)).toBe(Status.Malformed);
    expect(port.answerOf(1).close).toBe(true);
  });
});

describe('docs/protocol.md §Names: 12 -> 13', () => {
  it("asks the broker for dst's name as the session's number sees it", () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(nameOf(BOB)));
    expect(port.requests.at(-1)).toEqual({ op: 'nameOf', asker: ALICE, number: BOB });
  });

  it("answers a user's name with 13: dst the number, flag 0, data the name", () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(nameOf(BOB)));
    port.reply('nameOf', { kind: 'user', name: 'Bob 🐝' });
    expect(port.answerOf(1).frames).toEqual([
      { code: Code.Name, src: NOBODY, dst: BOB, ts: 0, flag: false, data: 'Bob 🐝' },
    ]);
  });

  it("answers a group's name with flag 1, and a group never named with empty data", () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(nameOf(GROUP), nameOf(GROUP)));
    port.reply('nameOf', { kind: 'group', name: 'Família' });
    port.reply('nameOf', { kind: 'group', name: '' });
    expect(port.answerOf(1).frames[0]).toMatchObject({ dst: GROUP, flag: true, data: 'Família' });
    expect(port.answerOf(2).frames[0]).toMatchObject({ dst: GROUP, flag: true, data: '' });
  });

  it("turns the broker's refusal into a 09 echoing the 12, and stays open", () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(nameOf(GROUP)));
    port.refuse('nameOf', Status.Forbidden, 'not a member of the group');
    const answer = port.answerOf(1);
    expect(answer.frames[0]).toMatchObject({ code: Code.Error, src: ALICE, dst: GROUP, ts: TS });
    expect(statusOf(answer.frames[0]!)).toBe(Status.Forbidden);
    expect(answer.close).toBe(false);
  });
});

describe('docs/protocol.md §Names: 14 -> 15', () => {
  it('asks the broker to store the name, and answers 15 with the name stored', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(nameGroup('Família 👪')));
    expect(port.requests.at(-1)).toEqual({
      op: 'nameGroup',
      src: ALICE,
      group: GROUP,
      name: 'Família 👪',
    });
    port.reply('nameGroup', 'Família 👪');
    expect(port.answerOf(1).frames).toEqual([
      { code: Code.GroupNamed, src: NOBODY, dst: GROUP, ts: 0, flag: false, data: 'Família 👪' },
    ]);
  });

  it('refuses an empty name itself: 09 400, and closes, as every 400', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(nameGroup('')));
    expect(statusOf(port.answerOf(1).frames[0]!)).toBe(Status.Malformed);
    expect(port.answerOf(1).close).toBe(true);
    expect(port.waiting).toEqual([]);
  });

  it('refuses a name over 64 bytes itself (09 413, stays open); 64 bytes go to the broker', () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(nameGroup('é'.repeat(33)), nameGroup('é'.repeat(32))));
    expect(statusOf(port.answerOf(1).frames[0]!)).toBe(Status.TooLarge);
    expect(port.answerOf(1).close).toBe(false);
    expect(port.waiting).toEqual(['nameGroup']);
  });

  it("turns the broker's 404 (not a group) into a 09 echoing the 14, and stays open", () => {
    const { session, port } = openedSession();
    session.receive(bytesOf(nameGroup('x')));
    port.refuse('nameGroup', Status.NotFound, 'not a group');
    expect(port.answerOf(1).frames[0]).toMatchObject({ src: ALICE, dst: GROUP, ts: TS });
    expect(statusOf(port.answerOf(1).frames[0]!)).toBe(Status.NotFound);
    expect(port.answerOf(1).close).toBe(false);
  });
});
