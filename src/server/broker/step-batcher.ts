import type { PendingMessage } from '../../store/store.js';
import type { StoreCall, StoreCallName, StoreCalls, Turn } from '../../store/turn-store.js';

/**
 * Where a call goes within a step (DESIGN.md §The store contract): the reads
 * the checks need first, so that they see only what earlier steps wrote;
 * then the deletes of the turn's `08`s (merged into one), then the writes,
 * then the reads that must see them (a poll's rows, a push's catch-up).
 */
const RANK: Record<StoreCallName, number> = {
  numberKind: 0,
  getUser: 0,
  displayName: 0,
  groupMembers: 0,
  isMember: 0,
  groupMessageSender: 0,
  countPending: 0,
  countAllPending: 0,
  deleteAcknowledged: 1,
  deletePending: 1,
  createUser: 2,
  createGroup: 2,
  setGroupName: 2,
  recordGroupMessage: 2,
  insertMessage: 2,
  pendingFor: 3,
};

interface Queued {
  call: StoreCall;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * Runs a broker turn's tasks (one per request, and the turn's own work)
 * against one `Turn`, gathering the store calls they make into as few steps
 * as their dependencies allow: a step is run only once every unfinished task
 * waits (on a call or on its turn in `inOrder`), so each step holds every
 * call that can be made at that point. A step that fails fails the turn:
 * every call then rejects with its error (`failure`).
 */
export class StepBatcher {
  private queued: Queued[] = [];
  private active = 0;
  private waiting = 0;
  private checkScheduled = false;
  /** The step that failed, and so the turn. */
  failure: { error: unknown } | undefined;
  /** Steps run in this turn (for tests and metrics). */
  steps = 0;
  private readonly shared: StoreCalls;

  constructor(private readonly turn: Turn) {
    this.shared = this.callsFor({ wrote: false });
  }

  /** The store calls, each made in the turn's next step. */
  calls(): StoreCalls {
    return this.shared;
  }

  /** The store calls as `calls` makes them; `owner.wrote` is set by the first that writes. */
  callsFor(owner: { wrote: boolean }): StoreCalls {
    return new ScopedCalls(this, owner) as unknown as StoreCalls;
  }

  /** Throws the turn's failure, if it has failed. */
  rethrow(): void {
    if (this.failure) throw this.failure.error;
  }

  /** The turn has failed (a request that wrote failed): every later call rejects. */
  fail(error: unknown): void {
    this.failure ??= { error };
  }

  /** Runs `fn` as a task of the turn: steps wait for it to wait or finish. */
  async task<T>(fn: () => Promise<T>): Promise<T> {
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.check();
    }
  }

  /** Awaits `promise` as waiting (not running): a step may go meanwhile. */
  async wait<T>(promise: Promise<T>): Promise<T> {
    this.waiting++;
    this.check();
    try {
      return await promise;
    } finally {
      this.waiting--;
    }
  }

  /** Calls are made as they come (Turn.callNow): the broker runs its requests one after the other. */
  get immediate(): boolean {
    return this.turn.callNow !== undefined;
  }

  call(call: StoreCall): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure.error);
    const { callNow } = this.turn;
    if (callNow !== undefined) {
      try {
        return Promise.resolve(callNow(call));
      } catch (error) {
        this.failure ??= { error };
        return Promise.reject(error);
      }
    }
    return new Promise((resolve, reject) => {
      this.queued.push({ call, resolve, reject });
      this.waiting++;
      this.check();
    });
  }

  /** Decided once the microtasks under way have run: a task between two awaits is still running. */
  private check(): void {
    if (this.checkScheduled) return;
    this.checkScheduled = true;
    queueMicrotask(() => {
      this.checkScheduled = false;
      if (this.queued.length > 0 && this.waiting >= this.active) void this.runStep();
    });
  }

  private async runStep(): Promise<void> {
    const queued = this.queued.sort((a, b) => RANK[a.call.op] - RANK[b.call.op]);
    this.queued = [];
    this.steps++;
    const { calls, share } = merged(queued);
    let results: unknown[];
    try {
      results = (await this.turn.step(calls)) as unknown[];
    } catch (error) {
      this.failure ??= { error };
      this.waiting -= queued.length;
      for (const q of queued) q.reject(error);
      return;
    }
    this.waiting -= queued.length;
    share(results, queued);
  }
}

/** The store calls of one request: an object of two fields, its methods shared (one per Store call). */
class ScopedCalls {
  constructor(
    readonly batcher: StepBatcher,
    readonly owner: { wrote: boolean },
  ) {}
}
for (const op of Object.keys(RANK) as StoreCallName[]) {
  const writes = RANK[op] === 1 || RANK[op] === 2;
  Object.defineProperty(ScopedCalls.prototype, op, {
    value: function (this: ScopedCalls, ...args: unknown[]): Promise<unknown> {
      if (writes) this.owner.wrote = true;
      return this.batcher.call({ op, args } as unknown as StoreCall);
    },
  });
}

/**
 * The requests of a turn in their order: `wait(i)` lets request i on once
 * every request before it has passed (`pass`, at its `inOrder`, or when it
 * ended). Counted, not chained: a request whose predecessors have all
 * passed goes on without a promise of its own.
 */
export class TurnOrder {
  /** The first request that has not passed. */
  private next = 0;
  private readonly passed: boolean[] = [];
  private readonly waiters = new Map<number, () => void>();

  constructor(private readonly batcher: StepBatcher) {}

  /** Undefined when request `i` may go on at once; otherwise settles when it may. */
  wait(i: number): Promise<void> | undefined {
    if (i <= this.next) return undefined;
    return this.batcher.wait(
      new Promise<void>((resolve) => {
        this.waiters.set(i, resolve);
      }),
    );
  }

  pass(i: number): void {
    if (this.passed[i]) return;
    this.passed[i] = true;
    while (this.passed[this.next]) this.next++;
    const waiter = this.waiters.get(this.next);
    if (waiter) {
      this.waiters.delete(this.next);
      waiter();
    }
  }
}

/**
 * The step's `deleteAcknowledged` calls as one (one statement for every
 * `08` of the turn); each deleted row goes back to the first call that
 * named it, so two calls acking the same id act on it once.
 */
function merged(queued: readonly Queued[]): {
  calls: StoreCall[];
  share: (results: unknown[], queued: readonly Queued[]) => void;
} {
  const deletes = queued.filter((q) => q.call.op === 'deleteAcknowledged');
  if (deletes.length < 2)
    return {
      calls: queued.map((q) => q.call),
      share: (results) => {
        for (const [i, q] of queued.entries()) q.resolve(results[i]);
      },
    };
  // The calls are in rank order, so the deletes are one run: the merged call takes its place.
  const calls: StoreCall[] = [];
  const resultOf: number[] = [];
  let mergedAt = -1;
  for (const q of queued) {
    if (q.call.op === 'deleteAcknowledged') {
      if (mergedAt < 0) {
        mergedAt = calls.length;
        const acks = deletes.flatMap((d) => (d.call.args as [DeleteArg])[0]);
        calls.push({ op: 'deleteAcknowledged', args: [acks] } as StoreCall);
      }
      resultOf.push(mergedAt);
    } else {
      resultOf.push(calls.length);
      calls.push(q.call);
    }
  }
  return {
    calls,
    share: (results) => {
      const rows = results[mergedAt] as PendingMessage[];
      const byRecipient = oneCallPerRecipient(deletes) ? groupByRecipient(rows) : undefined;
      const deleted = byRecipient ? undefined : new Map<string, PendingMessage>();
      if (deleted) for (const row of rows) deleted.set(`${row.recipient} ${row.id}`, row);
      queued.forEach((q, i) => {
        if (q.call.op !== 'deleteAcknowledged') {
          q.resolve(results[resultOf[i]!]);
          return;
        }
        const acks = (q.call.args as [DeleteArg])[0];
        if (byRecipient) {
          // The usual turn: each 08 names a recipient no other names, so its rows are that recipient's.
          const own = acks.flatMap(({ recipient }) => byRecipient.get(recipient) ?? []);
          q.resolve(acks.length > 1 ? own.sort((a, b) => a.id - b.id) : own);
          return;
        }
        const own: PendingMessage[] = [];
        for (const { recipient, ids } of acks)
          for (const id of ids) {
            const key = `${recipient} ${id}`;
            const row = deleted!.get(key);
            if (row) {
              own.push(row);
              deleted!.delete(key);
            }
          }
        q.resolve(own.sort((a, b) => a.id - b.id));
      });
    },
  };
}

function oneCallPerRecipient(deletes: readonly Queued[]): boolean {
  const seen = new Set<string>();
  for (const q of deletes)
    for (const { recipient } of (q.call.args as [DeleteArg])[0]) {
      if (seen.has(recipient)) return false;
      seen.add(recipient);
    }
  return true;
}

function groupByRecipient(rows: readonly PendingMessage[]): Map<string, PendingMessage[]> {
  const by = new Map<string, PendingMessage[]>();
  for (const row of rows) {
    const own = by.get(row.recipient);
    if (own) own.push(row);
    else by.set(row.recipient, [row]);
  }
  return by;
}

type DeleteArg = readonly { recipient: string; ids: readonly number[] }[];
