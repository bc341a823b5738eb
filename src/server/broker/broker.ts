import type { Logger } from 'pino';
import { isProtocolError } from '../../errors.js';
import { Code } from '../../protocol/codes.js';
import { encodeFrameInto, FRAME_SIZE, type FrameInit } from '../../protocol/frame.js';
import { Status, statusClosesConnection } from '../../protocol/status.js';
import { errorFrameInit, toWireMessage } from '../../store/render.js';
import {
  MessageKind,
  type NewMessage,
  type NumberKind,
  type PendingMessage,
  type Store,
} from '../../store/store.js';
import type { BrokerMetrics } from '../metrics/metrics.js';
import type {
  AnswerTo,
  AskOp,
  BrokerEvent,
  BrokerOp,
  BrokerQuotas,
  BrokerReplies,
  BrokerRequest,
  BrokerStats,
  FaultInjection,
  WireMessage,
} from '../threads/thread-messages.js';
import { Effects } from './effects.js';
import { type Ledger, Ledgers, type LedgerUndo, undoAcknowledgements } from './ledger.js';
import { Limits } from './limits.js';
import { OPS, type OpContext } from './ops/index.js';
import type { Kick, OpReply } from './ops/op.js';
import { LocalRouter, type PushRouter } from './push-router.js';
import { receiptOf, wantsReceipt } from './receipts.js';

/** The host id of the main thread's own port: the v1 sockets' writer, where answers and `06`s go. */
export const MAIN_THREAD = 0;

/**
 * What the broker writes to a v1 connection, kept as values until the
 * transaction has committed: only then are the `06`s counted in the
 * connection's ledger and encoded (an `08` may cover only frames that
 * reached the wire, so nothing of a rolled-back batch may be counted).
 */
interface WireItem {
  t: 'wire';
  sid: number;
  /** The answer slot these frames answer; undefined for pushes. */
  slot: number | undefined;
  /** `06` frames first (a poll answer's or pushes), then `frames`. */
  messages: WireMessage[];
  frames: FrameInit[];
  close: boolean;
}
type Outgoing = BrokerEvent | WireItem;

export interface BrokerOptions {
  /** Unacknowledged pushes a session may have in flight. */
  pushWindow: number;
  /** docs/protocol.md §Limits; absent, none is enforced. */
  quotas?: BrokerQuotas;
  /** Test-only (DESIGN.md §Containment). */
  faults?: FaultInjection;
}

/** Delivers an event to a host (hostId 0 is the main thread: the legacy listener). */
export type BrokerEmit = (hostId: number, event: BrokerEvent) => void;

/** Numbers whose kind the broker keeps (~100 bytes each). */
const MAX_KNOWN_KINDS = 100_000;

/**
 * Whether `err` is the store failing (disk full, I/O error, corruption) rather
 * than one request: then the whole group commit fails, as its COMMIT would.
 * better-sqlite3 may already have rolled the transaction back by itself.
 */
function isStoreFailure(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return (
    typeof code === 'string' && code.startsWith('SQLITE_') && !code.startsWith('SQLITE_CONSTRAINT')
  );
}

/** The handler of the request's op: the table's types tie the op to its request and reply. */
function run<O extends BrokerOp>(
  ctx: OpContext,
  request: BrokerRequest<O>,
  hostId: number,
): OpReply<O> {
  return OPS[request.op].handle(ctx, request, hostId);
}

/**
 * The store and the push router, driven by requests from session hosts. Every
 * request queued during one event-loop turn is handled in ONE transaction
 * (group commit: one writer, batched, is the fast path), and nothing is
 * answered until that transaction has committed: a `07` is only ever sent
 * for a committed row (docs/protocol.md §Delivery guarantees). Each request runs
 * in a savepoint of its own, so one that throws fails alone.
 *
 * What each op does is its handler's, in ops/ (the table OPS); this class is
 * the group commit around them, and the OpContext they act through, which
 * says what takes effect at once, once the request succeeded, or after COMMIT.
 */
export class Broker implements OpContext {
  readonly router: PushRouter;
  /** Why commits are failing (disk full, I/O error) while they are; undefined after the next good one. */
  commitError: string | undefined;
  private queue: { hostId: number; request: BrokerRequest }[] = [];
  private events: [number, Outgoing][] = [];
  /** Each open v1 session's 06 bookkeeping. */
  readonly ledgers = new Ledgers();
  readonly limits: Limits;
  readonly pushWindow: number;
  /** Acknowledgements of this batch, taken back if its transaction does not commit. */
  private ackUndo: LedgerUndo[] = [];
  /** The rows this batch's 08s cover, deleted together once its requests are handled. */
  private acks: { recipient: string; ids: number[] }[] = [];
  private readonly kinds = new Map<string, NumberKind>();
  private readonly effects = new Effects();
  private faults: FaultInjection;
  private messagesStored = 0;
  private messagesDelivered = 0;
  /** Rows stored and deleted by the requests of this batch that succeeded; counted once it commits. */
  private batchStored = 0;
  private batchDelivered = 0;

  constructor(
    readonly store: Store,
    options: BrokerOptions,
    private readonly emit: BrokerEmit,
    readonly logger: Logger | undefined = undefined,
    private readonly metrics?: BrokerMetrics,
  ) {
    this.router = new LocalRouter(store, (target, rows) => this.push(target.sid, rows));
    this.faults = options.faults ?? {};
    this.pushWindow = options.pushWindow;
    this.limits = new Limits(options.quotas, store, this.effects, logger);
  }

  /** Test-only: replaces the fault injection (the `faults` control message). */
  setFaults(faults: FaultInjection): void {
    this.faults = faults;
  }

  /**
   * What each number is (user or group), once seen. A number never changes
   * kind and is never deleted, so the answer can be kept: it saves the lookup
   * every 05 made before its INSERT (a third of the SQL of a message's path).
   * Bounded by clearing: forgetting only costs lookups.
   */
  kindOf(number: string): NumberKind | undefined {
    let kind = this.kinds.get(number);
    if (kind === undefined) {
      kind = this.store.numberKind(number);
      if (kind === undefined) return undefined;
      if (this.kinds.size >= MAX_KNOWN_KINDS) this.kinds.clear();
      this.kinds.set(number, kind);
    }
    return kind;
  }

  get queued(): number {
    return this.queue.length;
  }

  /** More work is waiting: queued requests, or sessions behind with credit. */
  get hasWork(): boolean {
    return this.queue.length > 0 || this.router.hasBacklog;
  }

  enqueue(hostId: number, requests: readonly BrokerRequest[]): void {
    for (const request of requests) this.queue.push({ hostId, request });
  }

  /** Handles everything queued in one transaction, then emits the answers. */
  flush(): void {
    const batch = this.queue;
    this.queue = [];
    this.events = [];
    this.batchStored = 0;
    this.batchDelivered = 0;
    this.ackUndo = [];
    this.acks = [];
    const started = this.metrics && batch.length > 0 ? performance.now() : undefined;
    try {
      this.store.transaction(() => {
        for (const { hostId, request } of batch) {
          // A poll must not read back what an 08 before it covered.
          if (OPS[request.op].readsPending) this.deleteAcknowledged();
          this.handle(hostId, request);
        }
        this.deleteAcknowledged();
        this.router.catchUp();
        // FaultInjection.failCommits: the commit fails as on a full disk, once there is something to commit.
        if (this.faults.failCommits && batch.length > 0)
          throw new Error('commit failed (injected fault failCommits)');
      });
      this.committed(batch);
    } catch (err) {
      this.failBatch(batch, err);
    }
    if (started !== undefined) {
      this.metrics!.commitLatency.observe((performance.now() - started) / 1000);
      this.metrics!.batchSize.observe(batch.length);
    }
    const events = this.events;
    this.events = [];
    // Every frame of the turn in one buffer: its views all leave in the
    // turn's one message to the main thread, and structured clone copies a
    // buffer once however many views of it a message holds (one allocation
    // per turn, not one per 07 and one per 06).
    let frames = 0;
    for (const [, event] of events)
      if (event.t === 'wire') frames += event.messages.length + event.frames.length;
    const arena = frames > 0 ? Buffer.allocUnsafeSlow(frames * FRAME_SIZE) : undefined;
    let offset = 0;
    for (const [hostId, event] of events) {
      if (event.t === 'wire') offset = this.emitWire(event, arena!, offset);
      else this.emit(hostId, event);
    }
  }

  /**
   * Encodes what goes to a connection, counts its `06`s in the ledger, and
   * sends the bytes to the main thread. A delivery that fails to encode ends
   * that session alone (DESIGN.md §Containment): nothing of it was counted,
   * and its rows stay pending for the next session.
   */
  private emitWire(item: WireItem, arena: Buffer, start: number): number {
    const { sid, messages } = item;
    const ledger = this.ledgers.get(sid);
    // The session closed (and said so) since: nothing of this can reach it.
    if (messages.length > 0 && !ledger) return start;
    let end: number;
    try {
      end = this.encodeWire(arena, start, messages, item.frames);
    } catch (err) {
      // DESIGN.md §Containment: logged as a session host logs a session's failure.
      this.logger?.error(
        { err, sid, number: ledger?.number, during: 'delivering' },
        'session failed: internal error',
      );
      this.router.detach(sid);
      this.ledgers.close(sid);
      if (ledger)
        this.emit(ledger.hostId, {
          t: 'kick',
          sid,
          status: Status.Unavailable,
          reason: 'internal error',
        });
      return start;
    }
    const bytes = arena.subarray(start, end);
    if (ledger && messages.length > 0) {
      ledger.record(
        messages.map((m) => m.id),
        item.slot === undefined,
      );
      if (this.metrics) {
        const now = Date.now();
        for (const m of messages) this.metrics.wireOut.deliveredOne(m.storedAt, now);
      }
    }
    this.metrics?.wireOut.framesWritten(bytes);
    this.emit(
      MAIN_THREAD,
      item.slot === undefined
        ? { t: 'deliver', sid, bytes }
        : { t: 'answer', sid, slot: item.slot, bytes, close: item.close },
    );
    return end;
  }

  /** Encodes the frames at `offset` of the turn's buffer; returns where they end. */
  private encodeWire(
    buf: Buffer,
    offset: number,
    messages: readonly WireMessage[],
    frames: readonly FrameInit[],
  ): number {
    const faulty = this.faults.deliveryData;
    for (const m of messages) {
      if (faulty !== undefined && m.data === faulty)
        throw new Error(`injected fault: delivery data ${JSON.stringify(m.data)}`);
      encodeFrameInto(buf, offset, {
        code: Code.Deliver,
        src: m.src,
        dst: m.dst,
        ts: m.ts,
        flag: m.flag,
        data: m.data,
      });
      offset += FRAME_SIZE;
    }
    for (const f of frames) {
      encodeFrameInto(buf, offset, f);
      offset += FRAME_SIZE;
    }
    return offset;
  }

  /** The router's sink: rows to push to a live push session, written once the transaction commits. */
  private push(sid: number, rows: readonly PendingMessage[]): void {
    this.events.push([
      MAIN_THREAD,
      {
        t: 'wire',
        sid,
        slot: undefined,
        messages: rows.map(toWireMessage),
        frames: [],
        close: false,
      },
    ]);
  }

  /** The answer of a v1 request, written by the broker itself once the transaction commits. */
  answerWire(to: AnswerTo, frames: FrameInit[], messages: WireMessage[] = []): void {
    this.events.push([
      MAIN_THREAD,
      { t: 'wire', sid: to.sid, slot: to.slot, messages, frames, close: false },
    ]);
  }

  /**
   * A request failed: a v1 request's `09` is written to its connection (400
   * and 401 close it), and a host waiting for the outcome is told.
   */
  private answerError(
    hostId: number,
    request: BrokerRequest,
    status: number,
    reason: string,
  ): void {
    if ('to' in request) {
      const { to } = request;
      this.events.push([
        MAIN_THREAD,
        {
          t: 'wire',
          sid: to.sid,
          slot: to.slot,
          messages: [],
          frames: [errorFrameInit(to, status, reason)],
          close: statusClosesConnection(status),
        },
      ]);
    }
    if ('rid' in request)
      this.events.push([hostId, { t: 'reply', rid: request.rid, ok: false, status, reason }]);
  }

  stats(): BrokerStats {
    const { statements, commits } = this.store.counters();
    return {
      statements,
      commits,
      messagesStored: this.messagesStored,
      messagesDelivered: this.messagesDelivered,
      routes: this.router.size,
    };
  }

  detachHost(hostId: number): void {
    this.router.detachHost(hostId);
    this.ledgers.dropHost(hostId);
  }

  private committed(batch: readonly { request: BrokerRequest }[]): void {
    // /healthz: commits are healthy again only once one that wrote went
    // through; a batch of reads (the health probe's own validate, a poll)
    // commits even on a full disk.
    if (
      this.batchStored > 0 ||
      this.batchDelivered > 0 ||
      batch.some(({ request }) => OPS[request.op].writes)
    )
      this.commitError = undefined;
    this.messagesStored += this.batchStored;
    this.messagesDelivered += this.batchDelivered;
    if (this.batchStored > 0) {
      this.metrics?.stored.inc(this.batchStored);
      this.metrics?.pending.inc(this.batchStored);
    }
    if (this.batchDelivered > 0) {
      this.metrics?.acknowledged.inc(this.batchDelivered);
      this.metrics?.pending.dec(this.batchDelivered);
    }
  }

  /**
   * The transaction did not commit: nothing of it was promised. Every request
   * that expected an answer gets 503, and every push session is ended (503),
   * since what the router believed it had pushed may not have been sent.
   */
  private failBatch(
    batch: readonly { hostId: number; request: BrokerRequest }[],
    err: unknown,
  ): void {
    this.commitError = err instanceof Error ? err.message : String(err);
    // The rows the batch's 08s deleted are pending again: so are their frames in the ledgers.
    undoAcknowledgements(this.ackUndo);
    this.ackUndo = [];
    this.logger?.error({ err }, 'store transaction failed; answering 503');
    // A number registered in the rolled-back transaction may have been looked up in it,
    // and what was counted as pending in it never was.
    this.kinds.clear();
    this.limits.pending.clear();
    try {
      this.metrics?.pending.set(this.store.countAllPending());
    } catch {
      // the store is failing; the gauge is corrected by the next good count
    }
    this.events = [];
    for (const { hostId, request } of batch)
      this.answerError(hostId, request, Status.Unavailable, 'store unavailable');
    for (const target of this.router.targets()) {
      this.router.detach(target.sid);
      this.events.push([
        target.hostId,
        { t: 'kick', sid: target.sid, status: Status.Unavailable, reason: 'store unavailable' },
      ]);
    }
  }

  /**
   * One request in a savepoint of its own (SqliteStore: a nested transaction
   * is a SAVEPOINT): if it throws, what it wrote is rolled back and its
   * answers and effects are dropped, and the rest of the group commit goes on.
   */
  private handle(hostId: number, request: BrokerRequest): void {
    const mark = this.events.length;
    this.effects.reset();
    try {
      this.store.transaction(() => this.dispatch(hostId, request));
    } catch (err) {
      this.events.length = mark;
      if (isProtocolError(err)) {
        this.answerError(hostId, request, err.status, err.message);
        return;
      }
      if (isStoreFailure(err)) throw err;
      this.failRequest(hostId, request, err);
      return;
    }
    this.settle(mark);
  }

  /**
   * DESIGN.md §Containment: an unexpected exception fails its request alone
   * (503), logged with the stack. An `ack` has no answer: its session is ended
   * instead, since what it acknowledged was not deleted.
   */
  private failRequest(hostId: number, request: BrokerRequest, err: unknown): void {
    // What was looked up in the rolled-back savepoint may not exist.
    this.kinds.clear();
    this.logger?.error({ err, op: request.op, hostId }, 'broker request failed; answering 503');
    if ('rid' in request || 'to' in request) {
      this.answerError(hostId, request, Status.Unavailable, 'internal error');
    } else if (request.op === 'ack') {
      this.router.detach(request.sid);
      this.ledgers.close(request.sid);
      this.kick(hostId, {
        t: 'kick',
        sid: request.sid,
        status: Status.Unavailable,
        reason: 'internal error',
      });
    }
  }

  /** The request succeeded: what it changed besides the store takes effect. */
  private settle(mark: number): void {
    const effects = this.effects;
    if (effects.limiter) effects.limiter.charge(effects.key, effects.cost);
    if (effects.stored.length === 0 && effects.deleted.length === 0) return;
    // Its own answer goes after the pushes of the rows it stored, as it did
    // when rows were pushed as they were written.
    const own = this.events.length > mark ? this.events.splice(mark) : undefined;
    for (const rows of effects.deleted) {
      this.batchDelivered += rows.length;
      this.limits.pending.removed(rows[0]!.recipient, rows.length);
    }
    for (const rows of effects.stored) {
      this.batchStored += rows.length;
      this.limits.pending.added(rows);
      this.router.committed(rows);
    }
    for (const size of effects.fanOuts) this.metrics?.fanOut.observe(size);
    if (own) for (const event of own) this.events.push(event);
  }

  /** Runs the op's handler; a request with a rid is answered with what it returns. */
  private dispatch(hostId: number, request: BrokerRequest): void {
    const value = run(this, request, hostId);
    // Only an ask op's request carries a rid, and its handler returned that op's reply.
    if ('rid' in request)
      this.events.push([
        hostId,
        { t: 'reply', rid: request.rid, ok: true, value: value as BrokerReplies[AskOp] },
      ]);
  }

  // ---- OpContext: what handlers act through (ops/op.ts says when each takes effect) ----

  kick(hostId: number, kick: Kick): void {
    this.events.push([hostId, kick]);
  }

  acknowledge(ledger: Ledger, recipient: string, count: number): number {
    const { ids, pushes } = ledger.acknowledge(count, this.ackUndo);
    if (ids.length > 0) this.acks.push({ recipient, ids });
    return pushes;
  }

  /**
   * The rows the batch's 08s cover, in one statement (one per 08 was a tenth
   * of the broker's time at 10,000 msgs/s), inside the group commit: like a
   * request of its own, what it changes besides the store (receipts pushed,
   * the pending quota, the counters) takes effect once it succeeded.
   * Anything it throws fails the batch: the 08s are taken back (the rows
   * stay pending, the ledgers unacknowledged).
   */
  private deleteAcknowledged(): void {
    if (this.acks.length === 0) return;
    const acks = this.acks;
    this.acks = [];
    const mark = this.events.length;
    this.effects.reset();
    this.store.transaction(() => {
      const deleted = this.store.deleteAcknowledged(acks);
      if (deleted.length === 0) return;
      const byRecipient = new Map<string, PendingMessage[]>();
      for (const row of deleted) {
        let rows = byRecipient.get(row.recipient);
        if (!rows) byRecipient.set(row.recipient, (rows = []));
        rows.push(row);
      }
      for (const rows of byRecipient.values()) this.effects.deleted.push(rows);
      // docs/protocol.md §Receipts: to the original sender only.
      for (const row of deleted)
        if (wantsReceipt(row)) this.storeRows([receiptOf(row, row.sender, row.recipient)]);
    });
    this.settle(mark);
  }

  /** Stores the rows of one message; what they change besides the store waits for the request to succeed. */
  storeRows(copies: NewMessage[]): PendingMessage[] {
    if (copies.length === 0) return [];
    const rows = this.store.insertMessage(copies);
    const storeText = this.faults.storeText;
    if (
      storeText !== undefined &&
      copies[0]!.kind === MessageKind.Text &&
      copies[0]!.body === storeText
    ) {
      throw new Error('injected fault: storeText');
    }
    this.effects.stored.push(rows);
    return rows;
  }

  deletePending(number: string, ids: readonly number[]): PendingMessage[] {
    const deleted = this.store.deletePending(number, ids);
    if (deleted.length > 0) this.effects.deleted.push(deleted);
    return deleted;
  }

  measureFanOut(recipients: number): void {
    this.effects.fanOuts.push(recipients);
  }
}
