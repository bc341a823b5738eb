import crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageKind, type NewMessage, type Store } from '../../../src/store/store.js';

/**
 * The Store contract as one suite, run against every implementation (as
 * aedes-persistence's abstract.js is): MemoryStore is the reference,
 * SqliteStore the product. docs/protocol.md §Delivery guarantees is tested here once.
 */

const ALICE = '1000000000001';
const BOB = '1000000000002';
const CAROL = '1000000000003';
const DAVE = '1000000000004';
const GROUP = '9000000000001';
const NOBODY = '0000000000000';

function message(overrides: Partial<NewMessage> = {}): NewMessage {
  return {
    recipient: BOB,
    sender: ALICE,
    group: null,
    ts: 1_700_000_000,
    wantsReceipt: false,
    kind: MessageKind.Text,
    body: 'oi',
    ...overrides,
  };
}

/** Makes crypto.randomInt return `values` in turn, then behave again. */
function fixRandomInt(...values: number[]): void {
  const original = crypto.randomInt.bind(crypto) as (min: number, max: number) => number;
  vi.spyOn(crypto, 'randomInt').mockImplementation(((min: number, max: number) =>
    values.length > 0 ? values.shift()! : original(min, max)) as typeof crypto.randomInt);
}

export function describeStoreConformance(
  name: string,
  makeStore: () => Store | Promise<Store>,
): void {
  describe(`${name} (Store conformance)`, () => {
    let store: Store;

    beforeEach(async () => {
      store = await makeStore();
    });

    afterEach(() => {
      vi.restoreAllMocks();
      store.close();
    });

    describe('users', () => {
      it('createUser hands out a 13-digit number', () => {
        const user = store.createUser('Alice', null);
        expect(user.number).toMatch(/^\d{13}$/);
        expect(user.number).not.toBe(NOBODY);
      });

      it('createUser never hands out the same number twice', () => {
        const numbers = new Set<string>();
        for (let i = 0; i < 200; i++) numbers.add(store.createUser(`u${i}`, null).number);
        expect(numbers.size).toBe(200);
      });

      it('getUser returns the name and token hash given at creation', () => {
        const hash = crypto.createHash('sha256').update('secret').digest();
        const { number } = store.createUser('Alice ☕', hash);
        expect(store.getUser(number)).toEqual({ number, name: 'Alice ☕', tokenHash: hash });
      });

      it('a user registered without a token has a null token hash', () => {
        const { number } = store.createUser('legacy', null);
        expect(store.getUser(number)?.tokenHash).toBeNull();
      });

      it("the stored token hash does not change when the caller's Buffer does", () => {
        const hash = Buffer.alloc(32, 7);
        const { number } = store.createUser('Alice', hash);
        hash.fill(0);
        expect(store.getUser(number)?.tokenHash).toEqual(Buffer.alloc(32, 7));
      });

      it('getUser of an unknown number is undefined', () => {
        expect(store.getUser(ALICE)).toBeUndefined();
      });

      it('0000000000000 is never handed out, since it means nobody', () => {
        fixRandomInt(0, 42);
        expect(store.createUser('Alice', null).number).toBe('0000000000042');
      });

      it('a number already taken by a user or a group is drawn again', () => {
        fixRandomInt(111, 111, 222, 111, 222, 333);
        const first = store.createUser('Alice', null).number;
        const group = store.createGroup(first, []);
        const second = store.createUser('Bob', null).number;
        expect([first, group, second]).toEqual(['0000000000111', '0000000000222', '0000000000333']);
      });
    });

    describe('numberKind', () => {
      it("a user's number is a user", () => {
        expect(store.numberKind(store.createUser('Alice', null).number)).toBe('user');
      });

      it("a group's number is a group", () => {
        const alice = store.createUser('Alice', null).number;
        expect(store.numberKind(store.createGroup(alice, [BOB]))).toBe('group');
      });

      it('a number never handed out is neither', () => {
        expect(store.numberKind(ALICE)).toBeUndefined();
        expect(store.numberKind(NOBODY)).toBeUndefined();
      });
    });

    describe('groups', () => {
      it('the creator is the first member, then the others in the order given', () => {
        const group = store.createGroup(ALICE, [DAVE, BOB, CAROL]);
        expect(group).toMatch(/^\d{13}$/);
        expect(store.groupMembers(group)).toEqual([ALICE, DAVE, BOB, CAROL]);
      });

      it('listing the creator again or a member twice changes nothing', () => {
        const group = store.createGroup(ALICE, [BOB, ALICE, BOB, CAROL, CAROL]);
        expect(store.groupMembers(group)).toEqual([ALICE, BOB, CAROL]);
      });

      it('a group created with no other members has the creator alone', () => {
        expect(store.groupMembers(store.createGroup(ALICE, []))).toEqual([ALICE]);
      });

      it('isMember is true for the creator and every member, false for anyone else', () => {
        const group = store.createGroup(ALICE, [BOB]);
        expect(store.isMember(group, ALICE)).toBe(true);
        expect(store.isMember(group, BOB)).toBe(true);
        expect(store.isMember(group, CAROL)).toBe(false);
      });

      it('membership of one group says nothing about another', () => {
        const first = store.createGroup(ALICE, [BOB]);
        const second = store.createGroup(CAROL, [DAVE]);
        expect(store.isMember(second, BOB)).toBe(false);
        expect(store.isMember(first, DAVE)).toBe(false);
      });

      it('an unknown group has no members', () => {
        expect(store.groupMembers(GROUP)).toEqual([]);
        expect(store.isMember(GROUP, ALICE)).toBe(false);
      });

      it('changing the list groupMembers returned does not change the group', () => {
        const group = store.createGroup(ALICE, [BOB]);
        store.groupMembers(group).push(CAROL);
        expect(store.groupMembers(group)).toEqual([ALICE, BOB]);
      });
    });

    describe('insertMessage', () => {
      it('ids increase in storage order', () => {
        const ids = [
          ...store.insertMessage([message()]),
          ...store.insertMessage([message({ recipient: CAROL }), message({ recipient: DAVE })]),
          ...store.insertMessage([message()]),
        ].map((row) => row.id);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(ids).size).toBe(4);
      });

      it("a single copy's messageId is its own id", () => {
        const [row] = store.insertMessage([message()]);
        expect(row!.messageId).toBe(row!.id);
      });

      it('every copy of one message shares the id of the first as messageId', () => {
        const rows = store.insertMessage(
          [BOB, CAROL, DAVE].map((recipient) => message({ recipient, group: GROUP })),
        );
        expect(rows.map((row) => row.recipient)).toEqual([BOB, CAROL, DAVE]);
        expect(rows.map((row) => row.messageId)).toEqual([rows[0]!.id, rows[0]!.id, rows[0]!.id]);
        expect(rows[0]!.id).toBeLessThan(rows[1]!.id);
        expect(rows[1]!.id).toBeLessThan(rows[2]!.id);
        for (const row of rows) {
          expect(store.pendingFor(row.recipient, 0, 10)[0]?.messageId).toBe(rows[0]!.id);
        }
      });

      it('every field survives the round trip, including a unicode body and a null group', () => {
        const direct = message({
          ts: 1_712_345_678,
          wantsReceipt: true,
          body: 'olá, 世界 🎉 — "quoted" \\ back',
        });
        const before = Date.now();
        const [row] = store.insertMessage([direct]);
        expect(row).toEqual({
          ...direct,
          id: row!.id,
          messageId: row!.id,
          storedAt: row!.storedAt,
        });
        expect(row!.storedAt).toBeGreaterThanOrEqual(before);
        expect(row!.storedAt).toBeLessThanOrEqual(Date.now());
        expect(store.pendingFor(BOB, 0, 10)).toEqual([row]);
        expect(store.pendingFor(BOB, 0, 10)[0]!.group).toBeNull();
      });

      it('a group message, a group notice and a receipt keep their group and kind', () => {
        const copies = [
          message({ group: GROUP, body: 'para todos' }),
          message({ group: GROUP, kind: MessageKind.GroupCreated, body: 'grupo criado' }),
          message({ group: GROUP, kind: MessageKind.Receipt, body: 'recebida 1700000000' }),
        ];
        for (const copy of copies) store.insertMessage([copy]);
        const found = store.pendingFor(BOB, 0, 10);
        expect(found.map(({ id: _id, messageId: _m, storedAt: _s, ...rest }) => rest)).toEqual(
          copies,
        );
      });

      it("countAllPending counts every recipient's rows, and drops as they are deleted", () => {
        expect(store.countAllPending()).toBe(0);
        const rows = store.insertMessage([
          message({ recipient: BOB }),
          message({ recipient: CAROL }),
          message({ recipient: CAROL }),
        ]);
        expect(store.countAllPending()).toBe(3);
        store.deletePending(CAROL, [rows[1]!.id]);
        expect(store.countAllPending()).toBe(2);
      });

      it('inserting no copies stores nothing and returns nothing', () => {
        expect(store.insertMessage([])).toEqual([]);
        expect(store.countPending(BOB)).toBe(0);
      });
    });

    describe('pendingFor', () => {
      it("returns a recipient's rows oldest first", () => {
        for (const body of ['one', 'two', 'three']) store.insertMessage([message({ body })]);
        expect(store.pendingFor(BOB, 0, 10).map((row) => row.body)).toEqual([
          'one',
          'two',
          'three',
        ]);
      });

      it('returns only rows after afterId', () => {
        const ids = ['one', 'two', 'three'].map(
          (body) => store.insertMessage([message({ body })])[0]!.id,
        );
        expect(store.pendingFor(BOB, ids[0]!, 10).map((row) => row.body)).toEqual(['two', 'three']);
        expect(store.pendingFor(BOB, ids[2]!, 10)).toEqual([]);
      });

      it('returns at most limit rows, the oldest', () => {
        for (const body of ['one', 'two', 'three']) store.insertMessage([message({ body })]);
        expect(store.pendingFor(BOB, 0, 2).map((row) => row.body)).toEqual(['one', 'two']);
      });

      it('a limit of 0 or less returns nothing', () => {
        store.insertMessage([message()]);
        expect(store.pendingFor(BOB, 0, 0)).toEqual([]);
        expect(store.pendingFor(BOB, 0, -1)).toEqual([]);
      });

      it("never returns another recipient's rows", () => {
        store.insertMessage([message({ recipient: CAROL, body: 'for carol' })]);
        store.insertMessage([message({ body: 'for bob' })]);
        store.insertMessage([message({ recipient: CAROL, body: 'for carol too' })]);
        expect(store.pendingFor(BOB, 0, 10).map((row) => row.body)).toEqual(['for bob']);
        expect(store.pendingFor(DAVE, 0, 10)).toEqual([]);
      });

      it('paging with the last id seen walks every row once, in order', () => {
        for (let i = 0; i < 25; i++) store.insertMessage([message({ body: `m${i}` })]);
        const seen: string[] = [];
        let after = 0;
        for (;;) {
          const page = store.pendingFor(BOB, after, 10);
          if (page.length === 0) break;
          seen.push(...page.map((row) => row.body));
          after = page[page.length - 1]!.id;
        }
        expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
      });
    });

    describe('countPending', () => {
      it("counts only the recipient's rows and follows inserts and deletes", () => {
        expect(store.countPending(BOB)).toBe(0);
        const rows = store.insertMessage([message(), message({ recipient: CAROL })]);
        store.insertMessage([message()]);
        expect(store.countPending(BOB)).toBe(2);
        expect(store.countPending(CAROL)).toBe(1);
        store.deletePending(BOB, [rows[0]!.id]);
        expect(store.countPending(BOB)).toBe(1);
      });
    });

    describe('deleteAcknowledged (the 08s of one group commit)', () => {
      it("deletes each recipient's rows among its ids in one call, returns them in id order, and leaves the rest", () => {
        const [b1, c1, b2, b3] = store
          .insertMessage([message({ body: 'b1' })])
          .concat(
            store.insertMessage([message({ recipient: CAROL, body: 'c1' })]),
            store.insertMessage([message({ body: 'b2' })]),
            store.insertMessage([message({ body: 'b3' })]),
          );
        const deleted = store.deleteAcknowledged([
          { recipient: CAROL, ids: [c1!.id] },
          { recipient: BOB, ids: [b3!.id, b1!.id] },
        ]);
        expect(deleted).toEqual([b1, c1, b3]);
        expect(store.pendingFor(BOB, 0, 10)).toEqual([b2]);
        expect(store.pendingFor(CAROL, 0, 10)).toEqual([]);
      });

      it('never deletes a row for a recipient that is not its own, and acts on each row once', () => {
        const [forBob] = store.insertMessage([message()]);
        expect(store.deleteAcknowledged([{ recipient: CAROL, ids: [forBob!.id] }])).toEqual([]);
        expect(
          store.deleteAcknowledged([
            { recipient: BOB, ids: [forBob!.id] },
            { recipient: BOB, ids: [forBob!.id] },
          ]),
        ).toEqual([forBob]);
        expect(store.deleteAcknowledged([{ recipient: BOB, ids: [forBob!.id] }])).toEqual([]);
      });

      it('one id alone works the same way', () => {
        const [row] = store.insertMessage([message()]);
        expect(store.deleteAcknowledged([{ recipient: BOB, ids: [row!.id] }])).toEqual([row]);
        expect(store.pendingFor(BOB, 0, 10)).toEqual([]);
      });
    });

    describe('deletePending', () => {
      it('returns the rows it deleted, in id order, and they are gone', () => {
        const rows = ['one', 'two', 'three'].map(
          (body) => store.insertMessage([message({ body })])[0]!,
        );
        const deleted = store.deletePending(BOB, [rows[2]!.id, rows[0]!.id]);
        expect(deleted).toEqual([rows[0], rows[2]]);
        expect(store.pendingFor(BOB, 0, 10)).toEqual([rows[1]]);
      });

      it('a second delete of the same ids returns nothing, so each row is acted on once', () => {
        const [row] = store.insertMessage([message({ wantsReceipt: true })]);
        expect(store.deletePending(BOB, [row!.id])).toHaveLength(1);
        expect(store.deletePending(BOB, [row!.id])).toEqual([]);
      });

      it("ids of another recipient's rows are neither deleted nor returned", () => {
        const [forBob, forCarol] = store.insertMessage([message(), message({ recipient: CAROL })]);
        expect(store.deletePending(BOB, [forBob!.id, forCarol!.id])).toEqual([forBob]);
        expect(store.pendingFor(CAROL, 0, 10)).toEqual([forCarol]);
      });

      it('unknown ids are ignored', () => {
        const [row] = store.insertMessage([message()]);
        expect(store.deletePending(BOB, [row!.id + 1000, -5, 0])).toEqual([]);
        expect(store.deletePending(BOB, [row!.id, row!.id + 1000])).toEqual([row]);
      });

      it('an id given twice in one call is deleted and returned once', () => {
        const [row] = store.insertMessage([message()]);
        expect(store.deletePending(BOB, [row!.id, row!.id])).toEqual([row]);
      });

      it('an empty list deletes nothing', () => {
        store.insertMessage([message()]);
        expect(store.deletePending(BOB, [])).toEqual([]);
        expect(store.countPending(BOB)).toBe(1);
      });

      it('thousands of ids in one call are all deleted', () => {
        const copies = Array.from({ length: 2500 }, (_, i) => message({ body: `m${i}` }));
        const rows = store.transaction(() => copies.map((copy) => store.insertMessage([copy])[0]!));
        const deleted = store.deletePending(
          BOB,
          rows.map((row) => row.id),
        );
        expect(deleted).toHaveLength(2500);
        expect(deleted.map((row) => row.id)).toEqual(rows.map((row) => row.id));
        expect(store.countPending(BOB)).toBe(0);
      });
    });

    describe('ids', () => {
      it('an id is never handed out again after the newest row is deleted', () => {
        const [first] = store.insertMessage([message()]);
        store.deletePending(BOB, [first!.id]);
        const [second] = store.insertMessage([message()]);
        expect(second!.id).toBeGreaterThan(first!.id);
      });

      it('an id is never handed out again after every row is deleted', () => {
        const rows = store.insertMessage([message(), message({ recipient: CAROL })]);
        store.deletePending(BOB, [rows[0]!.id]);
        store.deletePending(CAROL, [rows[1]!.id]);
        const [next] = store.insertMessage([message()]);
        expect(next!.id).toBeGreaterThan(rows[1]!.id);
      });
    });

    describe('transactions', () => {
      it('a transaction returns what its body returns', () => {
        expect(store.transaction(() => 42)).toBe(42);
      });

      it('a body that throws leaves nothing of it stored, and the error reaches the caller', () => {
        const failure = new Error('boom');
        let user = '';
        let group = '';
        expect(() =>
          store.transaction(() => {
            user = store.createUser('Alice', null).number;
            group = store.createGroup(user, [BOB]);
            store.insertMessage([message({ recipient: BOB, group })]);
            store.recordGroupMessage(group, 1_700_000_000, user);
            throw failure;
          }),
        ).toThrow(failure);
        expect(store.numberKind(user)).toBeUndefined();
        expect(store.numberKind(group)).toBeUndefined();
        expect(store.groupMembers(group)).toEqual([]);
        expect(store.countPending(BOB)).toBe(0);
        expect(store.groupMessageSender(group, 1_700_000_000)).toBeUndefined();
      });

      it('rows committed before a failed transaction stay: nothing acknowledged is ever lost', () => {
        const [kept] = store.insertMessage([message({ body: 'committed' })]);
        expect(() =>
          store.transaction(() => {
            store.insertMessage([message({ body: 'rolled back' })]);
            throw new Error('boom');
          }),
        ).toThrow('boom');
        expect(store.pendingFor(BOB, 0, 10)).toEqual([kept]);
      });

      it('a delete inside a failed transaction is undone, so the row is delivered again', () => {
        const [row] = store.insertMessage([message()]);
        expect(() =>
          store.transaction(() => {
            expect(store.deletePending(BOB, [row!.id])).toEqual([row]);
            throw new Error('boom');
          }),
        ).toThrow('boom');
        expect(store.pendingFor(BOB, 0, 10)).toEqual([row]);
      });

      it('everything a transaction does is visible after it commits', () => {
        const rows = store.transaction(() => [
          ...store.insertMessage([message({ body: 'one' })]),
          ...store.insertMessage([message({ body: 'two' })]),
        ]);
        expect(store.pendingFor(BOB, 0, 10)).toEqual(rows);
      });

      it('a nested transaction that throws undoes only itself when the outer one catches', () => {
        store.transaction(() => {
          store.insertMessage([message({ body: 'outer' })]);
          expect(() =>
            store.transaction(() => {
              store.insertMessage([message({ body: 'inner' })]);
              throw new Error('inner failure');
            }),
          ).toThrow('inner failure');
        });
        expect(store.pendingFor(BOB, 0, 10).map((row) => row.body)).toEqual(['outer']);
      });

      it('a nested transaction that succeeds commits with the outer one, or not at all', () => {
        expect(() =>
          store.transaction(() => {
            store.transaction(() => store.insertMessage([message({ body: 'inner' })]));
            throw new Error('outer failure');
          }),
        ).toThrow('outer failure');
        expect(store.countPending(BOB)).toBe(0);
      });

      it('a body returning a promise is refused and stores nothing', () => {
        expect(() =>
          store.transaction(() => {
            store.insertMessage([message()]);
            return Promise.resolve();
          }),
        ).toThrow(TypeError);
        expect(store.countPending(BOB)).toBe(0);
      });

      it('a committed transaction counts one commit, however much it did', () => {
        const before = store.counters().commits;
        store.transaction(() => {
          store.createUser('Alice', null);
          store.insertMessage([message(), message({ recipient: CAROL })]);
          store.transaction(() => store.recordGroupMessage(GROUP, 1, ALICE));
          store.deletePending(BOB, [1]);
        });
        expect(store.counters().commits).toBe(before + 1);
      });

      it('a failed transaction counts no commit', () => {
        const before = store.counters().commits;
        expect(() =>
          store.transaction(() => {
            store.insertMessage([message()]);
            throw new Error('boom');
          }),
        ).toThrow('boom');
        expect(store.counters().commits).toBe(before);
      });

      it('a write outside any transaction is a commit of its own', () => {
        const before = store.counters().commits;
        store.insertMessage([message()]);
        store.recordGroupMessage(GROUP, 1, ALICE);
        expect(store.counters().commits).toBe(before + 2);
      });
    });

    describe('group log', () => {
      it('groupMessageSender finds who sent a message stamped ts in a group', () => {
        store.recordGroupMessage(GROUP, 1_700_000_000, ALICE);
        expect(store.groupMessageSender(GROUP, 1_700_000_000)).toBe(ALICE);
      });

      it('when two senders used the same ts, the most recent one is found', () => {
        store.recordGroupMessage(GROUP, 1_700_000_000, ALICE);
        store.recordGroupMessage(GROUP, 1_700_000_000, BOB);
        expect(store.groupMessageSender(GROUP, 1_700_000_000)).toBe(BOB);
      });

      it('another ts or another group finds nobody', () => {
        store.recordGroupMessage(GROUP, 1_700_000_000, ALICE);
        expect(store.groupMessageSender(GROUP, 1_700_000_001)).toBeUndefined();
        expect(store.groupMessageSender('9000000000002', 1_700_000_000)).toBeUndefined();
      });
    });

    describe('close', () => {
      it('close can be called more than once', () => {
        store.close();
        expect(() => store.close()).not.toThrow();
      });

      it('a closed store refuses to work', () => {
        store.close();
        expect(() => store.countPending(BOB)).toThrow();
        expect(() => store.insertMessage([message()])).toThrow();
      });
    });
  });
}
