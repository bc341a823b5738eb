import type { OpenTransaction, Store, StoreCounters } from './store.js';
import type { StepResults, StoreCall, Turn, TurnStore } from './turn-store.js';

/** A call made on `store`: the method of that name with those arguments. */
function perform(store: Store, { op, args }: StoreCall): unknown {
  return (store[op] as (...args: unknown[]) => unknown).apply(store, args);
}

/**
 * The TurnStore contract over a synchronous store (SqliteStore,
 * MemoryStore): a turn is one transaction held open across the body's
 * awaits, each step runs its calls synchronously, one after the other. A
 * synchronous store has one connection, so turns run one at a time, in the
 * order they were started; nothing else may use `store` while this one is in use.
 */
export class SyncTurnStore implements TurnStore {
  /** Settles when the last turn started has ended. */
  private tail: Promise<unknown> = Promise.resolve();
  private closed = false;

  constructor(readonly store: Store & OpenTransaction) {}

  turn<T>(body: (turn: Turn) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new TypeError('The store is closed'));
    const result = this.tail.then(() => this.runTurn(body));
    this.tail = result.catch(() => undefined);
    return result;
  }

  run<const Cs extends readonly StoreCall[]>(calls: Cs): Promise<StepResults<Cs>> {
    return this.turn((turn) => turn.step(calls));
  }

  counters(): StoreCounters {
    return this.store.counters();
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.tail;
    this.store.close();
  }

  private async runTurn<T>(body: (turn: Turn) => Promise<T>): Promise<T> {
    const { store } = this;
    store.begin();
    let ended = false;
    let failure: { error: unknown } | undefined;
    const usable = (): void => {
      if (ended) throw new TypeError('step of a turn that has ended');
      if (failure) throw failure.error;
    };
    const callNow = (c: StoreCall): unknown => {
      usable();
      try {
        return perform(store, c);
      } catch (error) {
        failure = { error };
        throw error;
      }
    };
    const turn: Turn = {
      step: <const Cs extends readonly StoreCall[]>(calls: Cs) => {
        try {
          usable();
          return Promise.resolve(calls.map(callNow) as StepResults<Cs>);
        } catch (error) {
          return Promise.reject(error);
        }
      },
      callNow,
    };
    try {
      const result = await body(turn);
      if (failure) throw failure.error;
      store.commit();
      return result;
    } catch (err) {
      store.rollback();
      throw err;
    } finally {
      ended = true;
    }
  }
}
