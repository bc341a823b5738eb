import pg from 'pg';
import { DatabaseOpenError, UnavailableError } from '../errors.js';
import { isPostgresUrl, redacted } from './database-name.js';
import { type Query, runStep } from './postgres-calls.js';
import { applyPostgresSchema } from './postgres-schema.js';
import type { StoreCounters } from './store.js';
import type { StepResults, StoreCall, Turn, TurnStore } from './turn-store.js';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database` (node-postgres' connection string). */
  url: string;
  /**
   * The schema the tables live in (search_path); `public` when absent. Tests
   * give each store a fresh one on one server.
   */
  schema?: string;
  /** Connections kept (default 4): one carries a turn, the others let turns overlap and reads run meanwhile. */
  poolSize?: number;
  /** How long a turn waits for a connection before it fails with 503 (default 5000 ms). */
  connectTimeoutMs?: number;
}

const INT8_OID = 20;

/**
 * bigint columns (ids, counts, unix times) as JS numbers: exact below 2^53,
 * which a sequence drawing a million ids a second reaches in 285 years. A
 * value above is refused rather than rounded to a different id.
 */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new RangeError(`bigint ${text} is beyond 2^53`);
  return value;
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary'
      ? parseInt8
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/** SQLSTATE classes and codes of a server that is down, restarting, overloaded, or of a turn to retry. */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0[1-3]|40001|40P01)/;
/** Node's codes for a server that cannot be reached. */
const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);
/** node-postgres' messages for a connection that ended or never came. */
const CONNECTION_LOST =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended/;

/** Whether `err` is PostgreSQL being unreachable or going away, rather than a statement's own failure. */
export function isUnavailable(err: unknown): boolean {
  if (err instanceof UnavailableError) return true;
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_SQLSTATE.test(code) || UNREACHABLE.has(code)))
    return true;
  // An AggregateError (every address of a host refused) carries its codes inside.
  if (err instanceof AggregateError) return err.errors.some(isUnavailable);
  return CONNECTION_LOST.test(err.message);
}

/** The error family's 503 for `err` when it is the engine's absence; `err` itself otherwise. */
function mapped(err: unknown): unknown {
  if (err instanceof UnavailableError || !isUnavailable(err)) return err;
  const reason =
    err instanceof Error ? err.message || (err as { code?: string }).code : String(err);
  const unavailable = new UnavailableError(`database unavailable: ${reason}`);
  unavailable.cause = err;
  return unavailable;
}

function checkOptions(options: PostgresStoreOptions): void {
  if (typeof options?.url !== 'string' || !isPostgresUrl(options.url))
    throw new TypeError('options.url must be a postgres:// URL');
  if (options.schema !== undefined && !/^[a-z_][a-z0-9_]{0,62}$/.test(options.schema))
    throw new TypeError('options.schema must be a lower-case SQL identifier');
}

/**
 * The shared store of a cluster: node-postgres' Pool, driven through the
 * TurnStore contract. A Pool and not one Client: a connection broken by a
 * restart of the server is thrown away when its turn releases it and the
 * next turn gets a new one, so the store recovers by itself (a lone Client is
 * dead once its socket is, and would have to be rebuilt by hand); and it lets
 * a broker overlap one turn's COMMIT with the next turn's statements.
 */
export class PostgresStore implements TurnStore {
  /**
   * Connects, creates or migrates the schema (once, under an advisory lock,
   * however many nodes start at once) and checks its version; any failure
   * is a DatabaseOpenError naming the database (its password hidden).
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    checkOptions(options);
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      types,
      ...(options.schema === undefined ? {} : { options: `-c search_path=${options.schema}` }),
    });
    // A connection that breaks while idle (the server restarted) is dropped by
    // the pool; the error is expected, and the next turn connects anew.
    pool.on('error', () => undefined);
    const name = redacted(options.url);
    try {
      const client = await pool.connect();
      try {
        await applyPostgresSchema(client, options.schema);
      } finally {
        client.release();
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      const reason = err instanceof Error ? err.message || String(err) : String(err);
      throw new DatabaseOpenError(
        name,
        `cannot open database ${name}: ${reason}`,
        'ZAPWIRE_DATABASE_UNUSABLE',
        { cause: err },
      );
    }
    return new PostgresStore(pool);
  }

  private statementCount = 0;
  private commitCount = 0;
  private closing: Promise<void> | undefined;
  private readonly running = new Set<Promise<unknown>>();

  private constructor(private readonly pool: pg.Pool) {}

  turn<T>(body: (turn: Turn) => Promise<T>): Promise<T> {
    if (this.closing) return Promise.reject(new TypeError('The store is closed'));
    const turn = this.runTurn(body);
    const tracked = turn.catch(() => undefined);
    this.running.add(tracked);
    void tracked.then(() => this.running.delete(tracked));
    return turn;
  }

  run<const Cs extends readonly StoreCall[]>(calls: Cs): Promise<StepResults<Cs>> {
    return this.turn((turn) => turn.step(calls));
  }

  counters(): StoreCounters {
    return { statements: this.statementCount, commits: this.commitCount };
  }

  close(): Promise<void> {
    this.closing ??= Promise.all(this.running).then(() => this.pool.end());
    return this.closing;
  }

  private async runTurn<T>(body: (turn: Turn) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw mapped(err);
    }
    // While it is checked out, the pool does not listen for the client's
    // errors; a connection lost now fails the statement under way, and an
    // 'error' event nobody listens to would end the process.
    let lost: Error | undefined;
    const onError = (err: Error) => {
      lost = err;
    };
    client.on('error', onError);
    const q: Query = async <R extends object>(text: string, values?: unknown[]) => {
      this.statementCount++;
      const result = await client.query<R & pg.QueryResultRow>(text, values);
      return result.rows as R[];
    };
    let ended = false;
    let failure: { error: unknown } | undefined;
    let previous: Promise<unknown> = Promise.resolve();
    const step = <const Cs extends readonly StoreCall[]>(calls: Cs): Promise<StepResults<Cs>> => {
      if (ended) return Promise.reject(new TypeError('step of a turn that has ended'));
      // Steps of one turn run one after the other, in the order they were asked for.
      const result = previous.then(async () => {
        if (failure) throw failure.error;
        try {
          return (await runStep(q, calls)) as StepResults<Cs>;
        } catch (error) {
          failure ??= { error };
          throw error;
        }
      });
      previous = result.catch(() => undefined);
      return result;
    };
    try {
      await q('BEGIN');
      const value = await body({ step });
      await previous;
      if (failure) throw failure.error;
      this.statementCount++;
      const commit = await client.query('COMMIT');
      // COMMIT of a transaction that failed answers ROLLBACK, not an error.
      if (commit.command !== 'COMMIT') throw new Error(`COMMIT answered ${commit.command}`);
      this.commitCount++;
      return value;
    } catch (err) {
      if (isUnavailable(err)) lost ??= asError(err);
      else if (lost === undefined)
        await client.query('ROLLBACK').catch((rollbackError: Error) => {
          lost = rollbackError;
        });
      throw mapped(lost !== undefined && !isUnavailable(err) ? lost : err);
    } finally {
      ended = true;
      client.off('error', onError);
      // A client whose connection broke is destroyed, not put back in the pool.
      client.release(lost);
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
