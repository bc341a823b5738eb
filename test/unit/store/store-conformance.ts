import crypto from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MessageKind, type PendingMessage } from '../../../src/store/store.js';
import { call, callsOf, type StoreCalls, type TurnStore } from '../../../src/store/turn-store.js';
import { ALICE, BOB, CAROL, DAVE, GROUP, message } from './fixtures.js';

/**
 * The store contract as one suite, run against every implementation (as
 * aedes-persistence's abstract.js is) through TurnStore, the contract the
 * broker drives: MemoryStore is the reference, SqliteStore the embedded
 * product (both through SyncTurnStore), PostgresStore the shared one.
 * docs/protocol.md §Delivery guarantees is tested here once. What only a
 * synchronous store has (nested transactions as savepoints) is in
 * sync-store-transactions.ts.
 */

const NOBODY = '0000000000000';

/** Makes crypto.randomInt return `values` in turn, then behave again. */
function fixRandomInt(...values: number[]): void {
  const original = crypto.randomInt.bind(crypto) as (min: number, max: number) => number;
  vi.spyOn(crypto, 'randomInt').mockImplementation(((min: number, max: number) =>
    values.length > 0 ? values.shift()! : original(min, max)) as typeof crypto.randomInt);
}

/** Each body stored as its own message to BOB, one after the other; their rows in order. */
async function insertEach(s: StoreCalls, bodies: readonly string[]): Promise<PendingMessage[]> {
  const rows: PendingMessage[] = [];
  for (const body of bodies) rows.push(...(await s.insertMessage([message({ body })])));
  return rows;
}

export function describeStoreConformance(
  name: string,
  makeStore: () => TurnStore | Promise<TurnStore>,
): void {
  describe(`${name} (store conformance)`, () => {
    let store: TurnStore;
    /** Every call as its own turn. */
    let s: StoreCalls;

    beforeEach(async () => {
      store = await makeStore();
      s = callsOf(store);
    });

    afterEach(async () => {
      vi.restoreAllMocks();
      await store.close();
    });

    describe('users', () => {
      it('createUser hands out a 13-digit number', async () => {
        const user = await s.createUser('Alice', null);
        expect(user.number).toMatch(/^\d{13}$/);
        expect(user.number).not.toBe(NOBODY);
      });

      it('createUser never hands out the same number twice', async () => {
        const numbers = new Set<string>();
        for (let i = 0; i < 200; i++) numbers.add((await s.createUser(`u${i}`, null)).number);
        expect(numbers.size).toBe(200);
      });

      it('getUser returns the name and token hash given at creation', async () => {
        const hash = crypto.createHash('sha256').update('secret').digest();
        const { number } = await s.createUser('Alice ☕', hash);
        expect(await s.getUser(number)).toEqual({ number, name: 'Alice ☕', tokenHash: hash });
      });

      it('a user registered without a token has a null token hash', async () => {
        const { number } = await s.createUser('legacy', null);
        expect((await s.getUser(number))?.tokenHash).toBeNull();
      });

      it("the stored token hash does not change when the caller's Buffer does", async () => {
        const hash = Buffer.alloc(32, 7);
        const { number } = await s.createUser('Alice', hash);
        hash.fill(0);
        expect((await s.getUser(number))?.tokenHash).toEqual(Buffer.alloc(32, 7));
      });

      it('getUser of an unknown number is undefined', async () => {
        expect(await s.getUser(ALICE)).toBeUndefined();
      });

      it('0000000000000 is never handed out, since it means nobody', async () => {
        fixRandomInt(0, 42);
        expect((await s.createUser('Alice', null)).number).toBe('0000000000042');
      });

      it('a number already taken by a user or a group is drawn again', async () => {
        fixRandomInt(111, 111, 222, 111, 222, 333);
        const first = (await s.createUser('Alice', null)).number;
        const group = await s.createGroup(first, []);
        const second = (await s.createUser('Bob', null)).number;
        expect([first, group, second]).toEqual(['0000000000111', '0000000000222', '0000000000333']);
      });
    });

    describe('numberKind', () => {
      it("a user's number is a user", async () => {
        expect(await s.numberKind((await s.createUser('Alice', null)).number)).toBe('user');
      });

      it("a group's number is a group", async () => {
        const alice = (await s.createUser('Alice', null)).number;
        expect(await s.numberKind(await s.createGroup(alice, [BOB]))).toBe('group');
      });

      it('a number never handed out is neither', async () => {
        expect(await s.numberKind(ALICE)).toBeUndefined();
        expect(await s.numberKind(NOBODY)).toBeUndefined();
      });
    });

    describe('groups', () => {
      it('the creator is the first member, then the others in the order given', async () => {
        const group = await s.createGroup(ALICE, [DAVE, BOB, CAROL]);
        expect(group).toMatch(/^\d{13}$/);
        expect(await s.groupMembers(group)).toEqual([ALICE, DAVE, BOB, CAROL]);
      });

      it('listing the creator again or a member twice changes nothing', async () => {
        const group = await s.createGroup(ALICE, [BOB, ALICE, BOB, CAROL, CAROL]);
        expect(await s.groupMembers(group)).toEqual([ALICE, BOB, CAROL]);
      });

      it('a group created with no other members has the creator alone', async () => {
        expect(await s.groupMembers(await s.createGroup(ALICE, []))).toEqual([ALICE]);
      });

      it('isMember is true for the creator and every member, false for anyone else', async () => {
        const group = await s.createGroup(ALICE, [BOB]);
        expect(await s.isMember(group, ALICE)).toBe(true);
        expect(await s.isMember(group, BOB)).toBe(true);
        expect(await s.isMember(group, CAROL)).toBe(false);
      });

      it('membership of one group says nothing about another', async () => {
        const first = await s.createGroup(ALICE, [BOB]);
        const second = await s.createGroup(CAROL, [DAVE]);
        expect(await s.isMember(second, BOB)).toBe(false);
        expect(await s.isMember(first, DAVE)).toBe(false);
      });

      it('an unknown group has no members', async () => {
        expect(await s.groupMembers(GROUP)).toEqual([]);
        expect(await s.isMember(GROUP, ALICE)).toBe(false);
      });

      it('changing the list groupMembers returned does not change the group', async () => {
        const group = await s.createGroup(ALICE, [BOB]);
        (await s.groupMembers(group)).push(CAROL);
        expect(await s.groupMembers(group)).toEqual([ALICE, BOB]);
      });
    });

    describe('insertMessage', () => {
      it('ids increase in storage order', async () => {
        const ids = [
          ...(await s.insertMessage([message()])),
          ...(await s.insertMessage([message({ recipient: CAROL }), message({ recipient: DAVE })])),
          ...(await s.insertMessage([message()])),
        ].map((row) => row.id);
        expect(ids).toEqual([...ids].sort((a, b) => a - b));
        expect(new Set(ids).size).toBe(4);
      });

      it("a single copy's messageId is its own id", async () => {
        const [row] = await s.insertMessage([message()]);
        expect(row!.messageId).toBe(row!.id);
      });

      it('every copy of one message shares the id of the first as messageId', async () => {
        const rows = await s.insertMessage(
          [BOB, CAROL, DAVE].map((recipient) => message({ recipient, group: GROUP })),
        );
        expect(rows.map((row) => row.recipient)).toEqual([BOB, CAROL, DAVE]);
        expect(rows.map((row) => row.messageId)).toEqual([rows[0]!.id, rows[0]!.id, rows[0]!.id]);
        expect(rows[0]!.id).toBeLessThan(rows[1]!.id);
        expect(rows[1]!.id).toBeLessThan(rows[2]!.id);
        for (const row of rows) {
          expect((await s.pendingFor(row.recipient, 0, 10))[0]?.messageId).toBe(rows[0]!.id);
        }
      });

      it('every field survives the round trip, including a unicode body and a null group', async () => {
        const direct = message({
          ts: 1_712_345_678,
          wantsReceipt: true,
          body: 'olá, 世界 🎉 — "quoted" \\ back',
        });
        const before = Date.now();
        const [row] = await s.insertMessage([direct]);
        expect(row).toEqual({
          ...direct,
          id: row!.id,
          messageId: row!.id,
          storedAt: row!.storedAt,
        });
        expect(row!.storedAt).toBeGreaterThanOrEqual(before);
        expect(row!.storedAt).toBeLessThanOrEqual(Date.now());
        expect(await s.pendingFor(BOB, 0, 10)).toEqual([row]);
        expect((await s.pendingFor(BOB, 0, 10))[0]!.group).toBeNull();
      });

      it('a group message, a group notice and a receipt keep their group and kind', async () => {
        const copies = [
          message({ group: GROUP, body: 'para todos' }),
          message({ group: GROUP, kind: MessageKind.GroupCreated, body: 'grupo criado' }),
          message({ group: GROUP, kind: MessageKind.Receipt, body: 'recebida 1700000000' }),
        ];
        for (const copy of copies) await s.insertMessage([copy]);
        const found = await s.pendingFor(BOB, 0, 10);
        expect(found.map(({ id: _id, messageId: _m, storedAt: _s, ...rest }) => rest)).toEqual(
          copies,
        );
      });

      it("countAllPending counts every recipient's rows, and drops as they are deleted", async () => {
        expect(await s.countAllPending()).toBe(0);
        const rows = await s.insertMessage([
          message({ recipient: BOB }),
          message({ recipient: CAROL }),
          message({ recipient: CAROL }),
        ]);
        expect(await s.countAllPending()).toBe(3);
        await s.deletePending(CAROL, [rows[1]!.id]);
        expect(await s.countAllPending()).toBe(2);
      });

      it('inserting no copies stores nothing and returns nothing', async () => {
        expect(await s.insertMessage([])).toEqual([]);
        expect(await s.countPending(BOB)).toBe(0);
      });
    });

    describe('pendingFor', () => {
      it("returns a recipient's rows oldest first", async () => {
        for (const body of ['one', 'two', 'three']) await s.insertMessage([message({ body })]);
        expect((await s.pendingFor(BOB, 0, 10)).map((row) => row.body)).toEqual([
          'one',
          'two',
          'three',
        ]);
      });

      it('returns only rows after afterId', async () => {
        const ids = (await insertEach(s, ['one', 'two', 'three'])).map((row) => row.id);
        expect((await s.pendingFor(BOB, ids[0]!, 10)).map((row) => row.body)).toEqual([
          'two',
          'three',
        ]);
        expect(await s.pendingFor(BOB, ids[2]!, 10)).toEqual([]);
      });

      it('returns at most limit rows, the oldest', async () => {
        for (const body of ['one', 'two', 'three']) await s.insertMessage([message({ body })]);
        expect((await s.pendingFor(BOB, 0, 2)).map((row) => row.body)).toEqual(['one', 'two']);
      });

      it('a limit of 0 or less returns nothing', async () => {
        await s.insertMessage([message()]);
        expect(await s.pendingFor(BOB, 0, 0)).toEqual([]);
        expect(await s.pendingFor(BOB, 0, -1)).toEqual([]);
      });

      it("never returns another recipient's rows", async () => {
        await s.insertMessage([message({ recipient: CAROL, body: 'for carol' })]);
        await s.insertMessage([message({ body: 'for bob' })]);
        await s.insertMessage([message({ recipient: CAROL, body: 'for carol too' })]);
        expect((await s.pendingFor(BOB, 0, 10)).map((row) => row.body)).toEqual(['for bob']);
        expect(await s.pendingFor(DAVE, 0, 10)).toEqual([]);
      });

      it('paging with the last id seen walks every row once, in order', async () => {
        for (let i = 0; i < 25; i++) await s.insertMessage([message({ body: `m${i}` })]);
        const seen: string[] = [];
        let after = 0;
        for (;;) {
          const page = await s.pendingFor(BOB, after, 10);
          if (page.length === 0) break;
          seen.push(...page.map((row) => row.body));
          after = page[page.length - 1]!.id;
        }
        expect(seen).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
      });
    });

    describe('countPending', () => {
      it("counts only the recipient's rows and follows inserts and deletes", async () => {
        expect(await s.countPending(BOB)).toBe(0);
        const rows = await s.insertMessage([message(), message({ recipient: CAROL })]);
        await s.insertMessage([message()]);
        expect(await s.countPending(BOB)).toBe(2);
        expect(await s.countPending(CAROL)).toBe(1);
        await s.deletePending(BOB, [rows[0]!.id]);
        expect(await s.countPending(BOB)).toBe(1);
      });
    });

    describe('deleteAcknowledged (the 08s of one group commit)', () => {
      it("deletes each recipient's rows among its ids in one call, returns them in id order, and leaves the rest", async () => {
        const [b1, c1, b2, b3] = [
          ...(await s.insertMessage([message({ body: 'b1' })])),
          ...(await s.insertMessage([message({ recipient: CAROL, body: 'c1' })])),
          ...(await s.insertMessage([message({ body: 'b2' })])),
          ...(await s.insertMessage([message({ body: 'b3' })])),
        ];
        const deleted = await s.deleteAcknowledged([
          { recipient: CAROL, ids: [c1!.id] },
          { recipient: BOB, ids: [b3!.id, b1!.id] },
        ]);
        expect(deleted).toEqual([b1, c1, b3]);
        expect(await s.pendingFor(BOB, 0, 10)).toEqual([b2]);
        expect(await s.pendingFor(CAROL, 0, 10)).toEqual([]);
      });

      it('never deletes a row for a recipient that is not its own, and acts on each row once', async () => {
        const [forBob] = await s.insertMessage([message()]);
        expect(await s.deleteAcknowledged([{ recipient: CAROL, ids: [forBob!.id] }])).toEqual([]);
        expect(
          await s.deleteAcknowledged([
            { recipient: BOB, ids: [forBob!.id] },
            { recipient: BOB, ids: [forBob!.id] },
          ]),
        ).toEqual([forBob]);
        expect(await s.deleteAcknowledged([{ recipient: BOB, ids: [forBob!.id] }])).toEqual([]);
      });

      it('one id alone works the same way', async () => {
        const [row] = await s.insertMessage([message()]);
        expect(await s.deleteAcknowledged([{ recipient: BOB, ids: [row!.id] }])).toEqual([row]);
        expect(await s.pendingFor(BOB, 0, 10)).toEqual([]);
      });
    });

    describe('deletePending', () => {
      it('returns the rows it deleted, in id order, and they are gone', async () => {
        const rows = await insertEach(s, ['one', 'two', 'three']);
        const deleted = await s.deletePending(BOB, [rows[2]!.id, rows[0]!.id]);
        expect(deleted).toEqual([rows[0], rows[2]]);
        expect(await s.pendingFor(BOB, 0, 10)).toEqual([rows[1]]);
      });

      it('a second delete of the same ids returns nothing, so each row is acted on once', async () => {
        const [row] = await s.insertMessage([message({ wantsReceipt: true })]);
        expect(await s.deletePending(BOB, [row!.id])).toHaveLength(1);
        expect(await s.deletePending(BOB, [row!.id])).toEqual([]);
      });

      it("ids of another recipient's rows are neither deleted nor returned", async () => {
        const [forBob, forCarol] = await s.insertMessage([
          message(),
          message({ recipient: CAROL }),
        ]);
        expect(await s.deletePending(BOB, [forBob!.id, forCarol!.id])).toEqual([forBob]);
        expect(await s.pendingFor(CAROL, 0, 10)).toEqual([forCarol]);
      });

      it('unknown ids are ignored', async () => {
        const [row] = await s.insertMessage([message()]);
        expect(await s.deletePending(BOB, [row!.id + 1000, -5, 0])).toEqual([]);
        expect(await s.deletePending(BOB, [row!.id, row!.id + 1000])).toEqual([row]);
      });

      it('an id given twice in one call is deleted and returned once', async () => {
        const [row] = await s.insertMessage([message()]);
        expect(await s.deletePending(BOB, [row!.id, row!.id])).toEqual([row]);
      });

      it('an empty list deletes nothing', async () => {
        await s.insertMessage([message()]);
        expect(await s.deletePending(BOB, [])).toEqual([]);
        expect(await s.countPending(BOB)).toBe(1);
      });

      it('thousands of ids in one call are all deleted', async () => {
        const copies = Array.from({ length: 2500 }, (_, i) => message({ body: `m${i}` }));
        // One turn of one step: 2,500 calls of one kind are one INSERT on PostgreSQL.
        const rows = (await store.run(copies.map((copy) => call('insertMessage', [copy])))).flat();
        const deleted = await s.deletePending(
          BOB,
          rows.map((row) => row.id),
        );
        expect(deleted).toHaveLength(2500);
        expect(deleted.map((row) => row.id)).toEqual(rows.map((row) => row.id));
        expect(await s.countPending(BOB)).toBe(0);
      });
    });

    describe('ids', () => {
      it('an id is never handed out again after the newest row is deleted', async () => {
        const [first] = await s.insertMessage([message()]);
        await s.deletePending(BOB, [first!.id]);
        const [second] = await s.insertMessage([message()]);
        expect(second!.id).toBeGreaterThan(first!.id);
      });

      it('an id is never handed out again after every row is deleted', async () => {
        const rows = await s.insertMessage([message(), message({ recipient: CAROL })]);
        await s.deletePending(BOB, [rows[0]!.id]);
        await s.deletePending(CAROL, [rows[1]!.id]);
        const [next] = await s.insertMessage([message()]);
        expect(next!.id).toBeGreaterThan(rows[1]!.id);
      });
    });

    describe('turns (one transaction each)', () => {
      /** A call no store knows: its step fails on every engine. */
      const unknownCall = { op: 'noSuchCall', args: [] } as unknown as ReturnType<
        typeof call<'countAllPending'>
      >;

      it('a turn resolves with what its body returns, once committed', async () => {
        await expect(store.turn(async () => 42)).resolves.toBe(42);
      });

      it('a step returns one result per call, in the order of the calls', async () => {
        const [stored, count, none] = await store.run([
          call('insertMessage', [message()]),
          call('countPending', BOB),
          call('getUser', ALICE),
        ]);
        expect(stored).toHaveLength(1);
        expect(count).toBe(1);
        expect(none).toBeUndefined();
      });

      it('each call of a step sees what the calls before it in that step did', async () => {
        const [old] = await s.insertMessage([message({ body: 'old' })]);
        const [added, before, deleted, after] = await store.run([
          call('insertMessage', [message({ body: 'new' })]),
          call('pendingFor', BOB, 0, 10),
          call('deletePending', BOB, [old!.id]),
          call('pendingFor', BOB, 0, 10),
        ]);
        expect(before).toEqual([old, ...added]);
        expect(deleted).toEqual([old]);
        expect(after).toEqual(added);
      });

      it('like calls of one step are acted on as if one after the other', async () => {
        const [[row]] = await store.run([call('insertMessage', [message()])]);
        const [first, second, acked] = await store.run([
          call('deletePending', BOB, [row!.id]),
          call('deletePending', BOB, [row!.id]),
          call('deleteAcknowledged', [{ recipient: BOB, ids: [row!.id] }]),
        ]);
        expect(first).toEqual([row]);
        expect(second).toEqual([]);
        expect(acked).toEqual([]);
        const [a, b, c] = await store.run([
          call('insertMessage', [message({ body: 'a' })]),
          call('insertMessage', [message({ body: 'b' }), message({ recipient: CAROL, body: 'b' })]),
          call('insertMessage', [message({ body: 'c' })]),
        ]);
        const ids = [...a, ...b, ...c].map((r) => r.id);
        expect(ids).toEqual([...ids].sort((x, y) => x - y));
        expect(b.map((r) => r.messageId)).toEqual([b[0]!.id, b[0]!.id]);
        expect((await s.pendingFor(BOB, row!.id, 10)).map((r) => r.body)).toEqual(['a', 'b', 'c']);
      });

      it('each step sees what the steps before it in the turn wrote', async () => {
        const seen = await store.turn(async (turn) => {
          const [user] = await turn.step([call('createUser', 'Alice', null)]);
          const [group] = await turn.step([call('createGroup', user.number, [BOB])]);
          await turn.step([call('insertMessage', [message({ group })])]);
          return turn.step([
            call('numberKind', user.number),
            call('groupMembers', group),
            call('countPending', BOB),
          ]);
        });
        expect(seen).toEqual(['user', [seen[1][0], BOB], 1]);
      });

      it('a body that throws leaves nothing of its turn stored, and the error reaches the caller', async () => {
        const failure = new Error('boom');
        let user = '';
        let group = '';
        await expect(
          store.turn(async (turn) => {
            [{ number: user }] = await turn.step([call('createUser', 'Alice', null)]);
            [group] = await turn.step([call('createGroup', user, [BOB])]);
            await turn.step([
              call('insertMessage', [message({ recipient: BOB, group })]),
              call('recordGroupMessage', group, 1_700_000_000, user),
            ]);
            throw failure;
          }),
        ).rejects.toBe(failure);
        expect(await s.numberKind(user)).toBeUndefined();
        expect(await s.numberKind(group)).toBeUndefined();
        expect(await s.groupMembers(group)).toEqual([]);
        expect(await s.countPending(BOB)).toBe(0);
        expect(await s.groupMessageSender(group, 1_700_000_000)).toBeUndefined();
      });

      it('rows committed before a failed turn stay: nothing acknowledged is ever lost', async () => {
        const [kept] = await s.insertMessage([message({ body: 'committed' })]);
        await expect(
          store.turn(async (turn) => {
            await turn.step([call('insertMessage', [message({ body: 'rolled back' })])]);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await s.pendingFor(BOB, 0, 10)).toEqual([kept]);
      });

      it('a delete in a failed turn is undone, so the row is delivered again', async () => {
        const [row] = await s.insertMessage([message()]);
        await expect(
          store.turn(async (turn) => {
            expect(await turn.step([call('deletePending', BOB, [row!.id])])).toEqual([[row]]);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await s.pendingFor(BOB, 0, 10)).toEqual([row]);
      });

      it('a step that fails fails its turn, even when the body catches it, and later steps are refused', async () => {
        let later: unknown;
        await expect(
          store.turn(async (turn) => {
            await turn.step([call('insertMessage', [message({ body: 'lost' })])]);
            await turn.step([unknownCall]).catch(() => undefined);
            later = await turn.step([call('countPending', BOB)]).catch((err: unknown) => err);
            return 'done';
          }),
        ).rejects.toThrow();
        expect(later).toBeInstanceOf(Error);
        expect(await s.countPending(BOB)).toBe(0);
      });

      it('a step asked for after its turn ended is refused', async () => {
        let kept: { step: (calls: readonly []) => Promise<unknown> } | undefined;
        await store.turn(async (turn) => {
          kept = turn;
        });
        await expect(kept!.step([])).rejects.toThrow(/ended/);
      });

      it('turns started together all commit, as if one after the other', async () => {
        const turns = ['one', 'two', 'three'].map((body) => s.insertMessage([message({ body })]));
        const rows = (await Promise.all(turns)).flat();
        expect(await s.countPending(BOB)).toBe(3);
        expect((await s.pendingFor(BOB, 0, 10)).map((row) => row.id)).toEqual(
          rows.map((row) => row.id).sort((a, b) => a - b),
        );
      });

      it('a committed turn counts one commit, however many steps it had', async () => {
        const before = store.counters().commits;
        await store.turn(async (turn) => {
          await turn.step([call('createUser', 'Alice', null)]);
          await turn.step([
            call('insertMessage', [message(), message({ recipient: CAROL })]),
            call('recordGroupMessage', GROUP, 1, ALICE),
          ]);
          await turn.step([call('deletePending', BOB, [1])]);
        });
        expect(store.counters().commits).toBe(before + 1);
      });

      it('a failed turn counts no commit', async () => {
        const before = store.counters().commits;
        await expect(
          store.turn(async (turn) => {
            await turn.step([call('insertMessage', [message()])]);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(store.counters().commits).toBe(before);
      });
    });

    describe('names (docs/protocol.md §Names)', () => {
      it("a user's display name is the name it registered with", async () => {
        const { number } = await s.createUser('Alice ☕', null);
        expect(await s.displayName(number)).toEqual({ kind: 'user', name: 'Alice ☕' });
      });

      it('a user registered without a name has the empty one', async () => {
        const { number } = await s.createUser('', null);
        expect(await s.displayName(number)).toEqual({ kind: 'user', name: '' });
      });

      it('a group has the empty name until it is named, then the name set', async () => {
        const group = await s.createGroup(ALICE, [BOB]);
        expect(await s.displayName(group)).toEqual({ kind: 'group', name: '' });
        expect(await s.setGroupName(group, 'Família 👪')).toBe(true);
        expect(await s.displayName(group)).toEqual({ kind: 'group', name: 'Família 👪' });
      });

      it('the last name set wins, within a step as across turns', async () => {
        const group = await s.createGroup(ALICE, [BOB]);
        await s.setGroupName(group, 'first');
        const [, , seen, other] = await store.run([
          call('setGroupName', group, 'second'),
          call('setGroupName', group, 'third'),
          call('displayName', group),
          call('displayName', ALICE),
        ]);
        expect(seen).toEqual({ kind: 'group', name: 'third' });
        expect(other).toBeUndefined();
        expect(await s.displayName(group)).toEqual({ kind: 'group', name: 'third' });
      });

      it("naming one group leaves the others' names alone", async () => {
        const [first, second] = [await s.createGroup(ALICE, [BOB]), await s.createGroup(ALICE, [])];
        await store.run([call('setGroupName', first, 'one'), call('setGroupName', second, 'two')]);
        expect((await s.displayName(first))?.name).toBe('one');
        expect((await s.displayName(second))?.name).toBe('two');
      });

      it("a number that is not a group cannot be named: false, and a user's name is unchanged", async () => {
        const { number } = await s.createUser('Alice', null);
        expect(await s.setGroupName(number, 'renamed')).toBe(false);
        expect(await s.setGroupName(GROUP, 'nobody')).toBe(false);
        expect(await s.displayName(number)).toEqual({ kind: 'user', name: 'Alice' });
        expect(await s.displayName(GROUP)).toBeUndefined();
      });

      it('a name set in a turn that fails is not kept', async () => {
        const group = await s.createGroup(ALICE, [BOB]);
        await expect(
          store.turn(async (turn) => {
            await turn.step([call('setGroupName', group, 'lost')]);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await s.displayName(group)).toEqual({ kind: 'group', name: '' });
      });
    });

    describe('group log', () => {
      it('groupMessageSender finds who sent a message stamped ts in a group', async () => {
        await s.recordGroupMessage(GROUP, 1_700_000_000, ALICE);
        expect(await s.groupMessageSender(GROUP, 1_700_000_000)).toBe(ALICE);
      });

      it('when two senders used the same ts, the most recent one is found', async () => {
        await s.recordGroupMessage(GROUP, 1_700_000_000, ALICE);
        await s.recordGroupMessage(GROUP, 1_700_000_000, BOB);
        expect(await s.groupMessageSender(GROUP, 1_700_000_000)).toBe(BOB);
      });

      it('another ts or another group finds nobody', async () => {
        await s.recordGroupMessage(GROUP, 1_700_000_000, ALICE);
        expect(await s.groupMessageSender(GROUP, 1_700_000_001)).toBeUndefined();
        expect(await s.groupMessageSender('9000000000002', 1_700_000_000)).toBeUndefined();
      });
    });

    describe('close', () => {
      it('close can be called more than once', async () => {
        await store.close();
        await expect(store.close()).resolves.toBeUndefined();
      });

      it('a closed store refuses to work', async () => {
        await store.close();
        await expect(s.countPending(BOB)).rejects.toThrow();
        await expect(s.insertMessage([message()])).rejects.toThrow();
      });

      it('close lets a turn under way commit first', async () => {
        const stored = s.insertMessage([message()]);
        await store.close();
        await expect(stored).resolves.toHaveLength(1);
      });
    });
  });
}
