import type { Store, StoreCounters } from './store.js';

/**
 * The store contract both engines can honour: asynchronous, one transaction
 * per broker turn, and a turn made of a few *steps*, each a list of calls.
 *
 * A call is a `Store` method by name with its arguments (`call('insertMessage',
 * copies)`), and means exactly what that method means. A step runs its calls
 * in order, each seeing what the calls before it wrote; an implementation may
 * run a run of like calls as one statement (PostgresStore: every
 * `insertMessage` of a step in one multi-row INSERT, every delete in one
 * DELETE ... USING unnest), so a turn's round trips grow with its steps and
 * the kinds of call in them, not with its requests. A turn's steps run one
 * after the other in ONE transaction; `turn` resolves only after its COMMIT,
 * so a `07` sent then is a promise of durability (docs/protocol.md §Delivery
 * guarantees). DESIGN.md §The store contract says why this shape.
 *
 * Implementations: PostgresStore natively; SqliteStore and MemoryStore
 * through SyncTurnStore (each step runs synchronously inside one SQLite
 * transaction held open across the turn).
 */

/** The Store methods a step can call: every one but transaction control, counters and close. */
export type StoreCallName = Exclude<
  keyof Store,
  'transaction' | 'counters' | 'close' | 'begin' | 'commit' | 'rollback'
>;

/** One call of a step: a Store method's name and arguments. */
export type StoreCall = {
  [M in StoreCallName]: { readonly op: M; readonly args: Parameters<Store[M]> };
}[StoreCallName];

export type CallOf<M extends StoreCallName> = Extract<StoreCall, { op: M }>;

/** What a call returns: what its Store method returns. */
export type CallResult<C> = C extends { op: infer M extends StoreCallName }
  ? ReturnType<Store[M]>
  : never;

/** A step's results, one per call, in the order of the calls. */
export type StepResults<Cs extends readonly StoreCall[]> = {
  -readonly [K in keyof Cs]: CallResult<Cs[K]>;
};

/** `call('pendingFor', number, 0, 100)`: a call, type-checked against the Store method. */
export function call<M extends StoreCallName>(op: M, ...args: Parameters<Store[M]>): CallOf<M> {
  return { op, args } as unknown as CallOf<M>;
}

export interface Turn {
  /**
   * Runs one step. A step that fails fails the whole turn: nothing of the
   * turn commits, and every later step rejects with the same error, even
   * when the body catches the first (PostgreSQL aborts the transaction at
   * its first error, so no engine can do better without a savepoint each).
   */
  step<const Cs extends readonly StoreCall[]>(calls: Cs): Promise<StepResults<Cs>>;
  /**
   * Present only where a step completes at once (SyncTurnStore: an embedded
   * engine, no round trip): runs one call now and returns its result, with
   * `step`'s failure rules. A caller may then run its requests one after the
   * other, each call made as it comes, instead of gathering calls into steps:
   * nothing is gained by gathering when a step costs no round trip, and a
   * request's garbage then dies with it (DESIGN.md §The store contract).
   */
  readonly callNow?: (call: StoreCall) => unknown;
}

export interface TurnStore {
  /**
   * One transaction: runs `body`, then commits, and resolves with what
   * `body` returned once the COMMIT has succeeded. If `body` or a step
   * throws, or the commit fails, nothing of the turn is stored and it
   * rejects (an engine that is down or restarting: UnavailableError, 503).
   * Turns may be started without waiting for the previous one; an
   * implementation that cannot run them at once queues them.
   */
  turn<T>(body: (turn: Turn) => Promise<T>): Promise<T>;
  /** A turn of one step. */
  run<const Cs extends readonly StoreCall[]>(calls: Cs): Promise<StepResults<Cs>>;
  counters(): StoreCounters;
  /** Waits for turns under way, then releases the engine; any later turn rejects. */
  close(): Promise<void>;
}

/** Every call by itself, as an async method: a turn of one step of one call each (tests, start-up reads). */
export type StoreCalls = {
  [M in StoreCallName]: (...args: Parameters<Store[M]>) => Promise<ReturnType<Store[M]>>;
};

const CALL_NAMES: readonly StoreCallName[] = [
  'createUser',
  'getUser',
  'numberKind',
  'displayName',
  'createGroup',
  'groupMembers',
  'isMember',
  'setGroupName',
  'insertMessage',
  'pendingFor',
  'countPending',
  'countAllPending',
  'deletePending',
  'deleteAcknowledged',
  'recordGroupMessage',
  'groupMessageSender',
];

/** `store` with one async method per call, each its own turn. */
export function callsOf(store: TurnStore): StoreCalls {
  const calls: Partial<Record<StoreCallName, unknown>> = {};
  for (const op of CALL_NAMES) {
    calls[op] = async (...args: unknown[]) => {
      const [result] = await store.run([{ op, args } as unknown as StoreCall]);
      return result;
    };
  }
  return calls as StoreCalls;
}
