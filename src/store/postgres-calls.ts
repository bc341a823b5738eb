import { drawNumber, MAX_NUMBER_ATTEMPTS } from './numbers.js';
import { type PendingRow, toPending } from './pending-row.js';
import { LOCK_CLASS } from './postgres-schema.js';
import type {
  DisplayName,
  NewMessage,
  NumberKind,
  PendingMessage,
  Store,
  UserRecord,
} from './store.js';
import type { StoreCall, StoreCallName } from './turn-store.js';

/**
 * How PostgresStore runs a run of like calls of one step: as one statement
 * (two for inserts and creations), whatever the number of calls. Each
 * function takes the calls' arguments in order and returns their results in
 * the same order, with the meaning the Store method of that name has.
 */

/** Runs one statement in the turn's transaction. */
export type Query = <R extends object>(text: string, values?: unknown[]) => Promise<R[]>;

type Args<M extends StoreCallName> = Parameters<Store[M]>;
type Result<M extends StoreCallName> = ReturnType<Store[M]>;
type Batch<M extends StoreCallName> = (q: Query, calls: Args<M>[]) => Promise<Result<M>[]>;

const PENDING_COLUMNS =
  'p.id, p.message_id, p.recipient, p.sender, p.group_number, p.ts, p.wants_receipt, p.kind, p.body, p.stored_at';

const byId = (a: PendingMessage, b: PendingMessage): number => a.id - b.id;

/**
 * Claims `count` new numbers of `kind` in the numbers table, drawn as
 * numbers.ts draws them: a number someone holds (another node's included)
 * loses its INSERT ... ON CONFLICT DO NOTHING and is drawn again.
 */
async function claimNumbers(q: Query, kind: NumberKind, count: number): Promise<string[]> {
  const claimed: (string | undefined)[] = new Array(count).fill(undefined);
  for (let attempt = 0; attempt < MAX_NUMBER_ATTEMPTS; attempt++) {
    const open = claimed.flatMap((number, index) => (number === undefined ? [index] : []));
    if (open.length === 0) break;
    const drawn = new Map<string, number>();
    for (const index of open) {
      const number = drawNumber();
      if (number !== undefined && !drawn.has(number)) drawn.set(number, index);
    }
    if (drawn.size === 0) continue;
    const won = await q<{ number: string }>(
      `INSERT INTO numbers (number, kind) SELECT unnest($1::text[]), $2
       ON CONFLICT DO NOTHING RETURNING number`,
      [[...drawn.keys()], kind],
    );
    for (const { number } of won) claimed[drawn.get(number)!] = number;
  }
  if (claimed.includes(undefined))
    throw new Error(`no free number found in ${MAX_NUMBER_ATTEMPTS} attempts`);
  return claimed as string[];
}

const createUser: Batch<'createUser'> = async (q, calls) => {
  const numbers = await claimNumbers(q, 'user', calls.length);
  await q(
    `INSERT INTO users (number, name, token_hash, created_at)
     SELECT *, $4::bigint FROM unnest($1::text[], $2::text[], $3::bytea[])`,
    [numbers, calls.map(([name]) => name), calls.map(([, hash]) => hash), Date.now()],
  );
  return calls.map(([name, hash], i) => ({
    number: numbers[i]!,
    name,
    tokenHash: hash === null ? null : Buffer.from(hash),
  }));
};

const getUser: Batch<'getUser'> = async (q, calls) => {
  const rows = await q<{ number: string; name: string; token_hash: Buffer | null }>(
    'SELECT number, name, token_hash FROM users WHERE number = ANY($1::text[])',
    [calls.map(([number]) => number)],
  );
  const found = new Map(rows.map((row) => [row.number, row]));
  return calls.map(([number]): UserRecord | undefined => {
    const row = found.get(number);
    return (
      row && { number, name: row.name, tokenHash: row.token_hash && Buffer.from(row.token_hash) }
    );
  });
};

const numberKind: Batch<'numberKind'> = async (q, calls) => {
  const rows = await q<{ number: string; kind: NumberKind }>(
    'SELECT number, kind FROM numbers WHERE number = ANY($1::text[])',
    [calls.map(([number]) => number)],
  );
  const found = new Map(rows.map((row) => [row.number, row.kind]));
  return calls.map(([number]) => found.get(number));
};

const displayName: Batch<'displayName'> = async (q, calls) => {
  const rows = await q<DisplayName & { number: string }>(
    `SELECT number, 'user' AS kind, name FROM users WHERE number = ANY($1::text[])
     UNION ALL SELECT number, 'group', name FROM "groups" WHERE number = ANY($1::text[])`,
    [calls.map(([number]) => number)],
  );
  const found = new Map(rows.map((row) => [row.number, { kind: row.kind, name: row.name }]));
  return calls.map(([number]) => {
    const name = found.get(number);
    return name === undefined ? undefined : { ...name };
  });
};

const createGroup: Batch<'createGroup'> = async (q, calls) => {
  // docs/protocol.md §Delivery guarantees: the creator is always a member, and
  // listing the creator again or a number twice changes nothing.
  const lists = calls.map(([creator, members]) => [...new Set([creator, ...members])]);
  const numbers = await claimNumbers(q, 'group', calls.length);
  await q(
    `INSERT INTO "groups" (number, creator, created_at)
     SELECT *, $3::bigint FROM unnest($1::text[], $2::text[])`,
    [numbers, calls.map(([creator]) => creator), Date.now()],
  );
  const groups: string[] = [];
  const members: string[] = [];
  const positions: number[] = [];
  lists.forEach((list, i) => {
    list.forEach((member, position) => {
      groups.push(numbers[i]!);
      members.push(member);
      positions.push(position);
    });
  });
  await q(
    `INSERT INTO group_members (group_number, member, position)
     SELECT * FROM unnest($1::text[], $2::text[], $3::int[])`,
    [groups, members, positions],
  );
  return numbers;
};

const groupMembers: Batch<'groupMembers'> = async (q, calls) => {
  const rows = await q<{ group_number: string; member: string }>(
    `SELECT group_number, member FROM group_members
     WHERE group_number = ANY($1::text[]) ORDER BY group_number, position`,
    [calls.map(([group]) => group)],
  );
  const found = new Map<string, string[]>();
  for (const row of rows) {
    let list = found.get(row.group_number);
    if (!list) found.set(row.group_number, (list = []));
    list.push(row.member);
  }
  return calls.map(([group]) => [...(found.get(group) ?? [])]);
};

const isMember: Batch<'isMember'> = async (q, calls) => {
  const rows = await q<{ g: string; m: string }>(
    `SELECT DISTINCT q.g, q.m FROM unnest($1::text[], $2::text[]) AS q(g, m)
     JOIN group_members AS gm ON gm.group_number = q.g AND gm.member = q.m`,
    [calls.map(([group]) => group), calls.map(([, number]) => number)],
  );
  const found = new Set(rows.map(({ g, m }) => `${g} ${m}`));
  return calls.map(([group, number]) => found.has(`${group} ${number}`));
};

/**
 * One UPDATE for the run. A row is updated once per statement whatever the
 * number of matches, so only each group's last call goes in: the last wins,
 * as if the calls had run one after the other.
 */
const setGroupName: Batch<'setGroupName'> = async (q, calls) => {
  const last = new Map(calls.map(([group, name]) => [group, name]));
  const rows = await q<{ number: string }>(
    `UPDATE "groups" AS g SET name = c.name FROM unnest($1::text[], $2::text[]) AS c(number, name)
     WHERE g.number = c.number RETURNING g.number`,
    [[...last.keys()], [...last.values()]],
  );
  const named = new Set(rows.map((row) => row.number));
  return calls.map(([group]) => named.has(group));
};

/**
 * Every message of the run in one INSERT, after one statement that locks
 * their recipients and draws their ids. The lock (per recipient, held to
 * COMMIT, taken in key order so that two nodes never wait on each other in
 * a cycle within a step) is what makes per-recipient id order commit order
 * across nodes: a node that draws an id for X while another's turn holding
 * an older id for X is still open would let X's reader, reading ids above
 * the last it saw, skip that older row for good. The ids are drawn in that
 * same statement after the locks (a one-time filter runs before any row),
 * sorted, and given to the copies in order: id order is call order by
 * construction, not by how a plan happens to evaluate nextval.
 */
const insertMessage: Batch<'insertMessage'> = async (q, calls) => {
  const copies: NewMessage[] = calls.flatMap(([message]) => message);
  if (copies.length === 0) return calls.map(() => []);
  const drawn = await q<{ id: number }>(
    `SELECT nextval('pending_id_seq') AS id FROM generate_series(1, $2::int)
     WHERE (SELECT count(*) FROM (
       SELECT pg_advisory_xact_lock(${LOCK_CLASS}, k)
       FROM (SELECT DISTINCT hashtext(r) AS k FROM unnest($1::text[]) AS r) AS keys ORDER BY k
     ) AS locks) >= 0`,
    [[...new Set(copies.map((copy) => copy.recipient))], copies.length],
  );
  const ids = drawn.map((row) => row.id).sort((a, b) => a - b);
  const storedAt = Date.now();
  let next = 0;
  const results = calls.map(([message]) => {
    const messageId = ids[next] ?? 0;
    return message.map(
      (copy): PendingMessage => ({ ...copy, id: ids[next++]!, messageId, storedAt }),
    );
  });
  const rows = results.flat();
  await q(
    `INSERT INTO pending
       (id, message_id, recipient, sender, group_number, ts, wants_receipt, kind, body, stored_at)
     SELECT *, $10::bigint FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[],
       $5::text[], $6::bigint[], $7::boolean[], $8::smallint[], $9::text[])`,
    [
      rows.map((r) => r.id),
      rows.map((r) => r.messageId),
      rows.map((r) => r.recipient),
      rows.map((r) => r.sender),
      rows.map((r) => r.group),
      rows.map((r) => r.ts),
      rows.map((r) => r.wantsReceipt),
      rows.map((r) => r.kind),
      rows.map((r) => r.body),
      storedAt,
    ],
  );
  return results;
};

const pendingFor: Batch<'pendingFor'> = async (q, calls) => {
  const asked = calls.flatMap(([recipient, afterId, limit], index) =>
    limit > 0 ? [{ index, recipient, afterId, limit: Math.floor(limit) }] : [],
  );
  const results: PendingMessage[][] = calls.map(() => []);
  if (asked.length === 0) return results;
  const rows = await q<PendingRow & { i: number }>(
    `SELECT q.i::int AS i, ${PENDING_COLUMNS}
     FROM unnest($1::int[], $2::text[], $3::float8[], $4::bigint[]) AS q(i, recipient, after_id, lim)
     CROSS JOIN LATERAL (
       SELECT * FROM pending WHERE recipient = q.recipient AND id > q.after_id ORDER BY id LIMIT q.lim
     ) AS p
     ORDER BY q.i, p.id`,
    [
      asked.map((a) => a.index),
      asked.map((a) => a.recipient),
      asked.map((a) => a.afterId),
      asked.map((a) => a.limit),
    ],
  );
  for (const row of rows) results[row.i]!.push(toPending(row));
  return results;
};

const countPending: Batch<'countPending'> = async (q, calls) => {
  const rows = await q<{ recipient: string; n: number }>(
    `SELECT recipient, count(*) AS n FROM pending
     WHERE recipient = ANY($1::text[]) GROUP BY recipient`,
    [calls.map(([recipient]) => recipient)],
  );
  const found = new Map(rows.map((row) => [row.recipient, row.n]));
  return calls.map(([recipient]) => found.get(recipient) ?? 0);
};

const countAllPending: Batch<'countAllPending'> = async (q, calls) => {
  const [row] = await q<{ n: number }>('SELECT count(*) AS n FROM pending');
  return calls.map(() => row!.n);
};

/**
 * Deletes the [id, recipient] pairs of several calls in one statement, then
 * gives each deleted row to the first call that named it: each row is acted
 * on once, as if the calls had run one after the other.
 */
async function deletePairs(
  q: Query,
  calls: readonly (readonly [number, string])[][],
): Promise<PendingMessage[][]> {
  const all = calls.flat().filter(([id]) => Number.isSafeInteger(id));
  const results: PendingMessage[][] = calls.map(() => []);
  if (all.length === 0) return results;
  const rows = await q<PendingRow>(
    `DELETE FROM pending AS p USING unnest($1::bigint[], $2::text[]) AS a(id, recipient)
     WHERE p.id = a.id AND p.recipient = a.recipient
     RETURNING ${PENDING_COLUMNS}`,
    [all.map(([id]) => id), all.map(([, recipient]) => recipient)],
  );
  const deleted = new Map(rows.map((row) => [row.id, toPending(row)]));
  calls.forEach((pairs, index) => {
    for (const [id, recipient] of pairs) {
      const row = deleted.get(id);
      if (row === undefined || row.recipient !== recipient) continue;
      deleted.delete(id);
      results[index]!.push(row);
    }
    results[index]!.sort(byId);
  });
  return results;
}

const deletePending: Batch<'deletePending'> = (q, calls) =>
  deletePairs(
    q,
    calls.map(([recipient, ids]) => ids.map((id) => [id, recipient] as const)),
  );

const deleteAcknowledged: Batch<'deleteAcknowledged'> = (q, calls) =>
  deletePairs(
    q,
    calls.map(([acks]) =>
      acks.flatMap(({ recipient, ids }) => ids.map((id) => [id, recipient] as const)),
    ),
  );

const recordGroupMessage: Batch<'recordGroupMessage'> = async (q, calls) => {
  // ORDER BY ordinality: the identity is drawn as the INSERT consumes rows,
  // so a later call's row gets a higher id ("the most recent sender").
  await q(
    `INSERT INTO group_log (group_number, ts, sender)
     SELECT g, ts, sender FROM unnest($1::text[], $2::bigint[], $3::text[])
       WITH ORDINALITY AS c(g, ts, sender, i) ORDER BY i`,
    [calls.map(([group]) => group), calls.map(([, ts]) => ts), calls.map(([, , sender]) => sender)],
  );
  return calls.map(() => undefined);
};

const groupMessageSender: Batch<'groupMessageSender'> = async (q, calls) => {
  const rows = await q<{ i: number; sender: string | null }>(
    `SELECT c.i::int AS i, (
       SELECT sender FROM group_log WHERE group_number = c.g AND ts = c.ts ORDER BY id DESC LIMIT 1
     ) AS sender
     FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS c(g, ts, i)`,
    [calls.map(([group]) => group), calls.map(([, ts]) => ts)],
  );
  const results: (string | undefined)[] = calls.map(() => undefined);
  for (const row of rows) results[row.i - 1] = row.sender ?? undefined;
  return results;
};

const BATCHES: { [M in StoreCallName]: Batch<M> } = {
  createUser,
  getUser,
  numberKind,
  displayName,
  createGroup,
  groupMembers,
  isMember,
  setGroupName,
  insertMessage,
  pendingFor,
  countPending,
  countAllPending,
  deletePending,
  deleteAcknowledged,
  recordGroupMessage,
  groupMessageSender,
};

/**
 * Runs a step: each maximal run of calls of the same name is one batch, the
 * runs one after the other, so every call sees what the calls before it did.
 */
export async function runStep(q: Query, calls: readonly StoreCall[]): Promise<unknown[]> {
  const results: unknown[] = [];
  for (let start = 0; start < calls.length; ) {
    const op = calls[start]!.op;
    let end = start + 1;
    while (end < calls.length && calls[end]!.op === op) end++;
    const batch = BATCHES[op] as (q: Query, calls: unknown[][]) => Promise<unknown[]>;
    results.push(
      ...(await batch(
        q,
        calls.slice(start, end).map((c) => [...c.args]),
      )),
    );
    start = end;
  }
  return results;
}
