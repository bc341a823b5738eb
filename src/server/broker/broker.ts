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
} from '../../store/store.js';
import { call, type StoreCalls, type TurnStore } from '../../store/turn-store.js';
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
import { LocalRouter, type PushRouter, type PushSink } from './push-router.js';
import { receiptOf, wantsReceipt } from './receipts.js';
import { StepBatcher, TurnOrder } from './step-batcher.js';

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

/** Builds the broker's router around the sink that writes its pushes (a cluster node's wraps a LocalRouter). */
export type RouterFactory = (sink: PushSink) => PushRouter;

/** Numbers whose kind the broker keeps (~100 bytes each). */
const MAX_KNOWN_KINDS = 100_000;

/** The handler of the request's op: the table's types tie the op to its request and reply. */
function run<O extends BrokerOp>(
  ctx: OpContext,
  request: BrokerRequest<O>,
  hostId: number,
): Promise<OpReply<O>> {
  return OPS[request.op].handle(ctx, request, hostId);
}

/**
 * The store and the push router, driven by requests from session hosts. Every
 * request queued during one event-loop turn is handled in ONE store turn
 * (one transaction: group commit, one writer, batched, is the fast path), and
 * nothing is answered until it has committed: a `07` is only ever sent for a
 * committed row (docs/protocol.md §Delivery guarantees).
 *
 * The requests of a turn run side by side (StepBatcher): their store calls
 * are gathered into a few steps (DESIGN.md §The store contract), the reads
 * their checks need first; each refuses, if it does, before it writes, so a
 * refusal needs no savepoint; the rest of each, after `inOrder`, in request
 * order. What each op does is its handler's, in ops/ (the table OPS); this
 * class is the turn around them, and RequestScope the OpContext they act
 * through, which says what takes effect at once, after the turn's requests
 * have run, or after COMMIT.
 */
export class Broker {
  readonly router: PushRouter;
  /** Why commits are failing (disk full, I/O error, database down) while they are; undefined after the next good one. */
  commitError: string | undefined;
  private queue: { hostId: number; request: BrokerRequest }[] = [];
  /** What this turn writes to threads once it commits, in order. */
  private events: [number, Outgoing][] = [];
  /** Each open v1 session's 06 bookkeeping. */
  readonly ledgers = new Ledgers();
  readonly limits: Limits;
  readonly pushWindow: number;
  /** Acknowledgements of this turn, taken back if it does not commit. */
  ackUndo: LedgerUndo[] = [];
  private readonly kinds = new Map<string, NumberKind>();
  faults: FaultInjection;
  private messagesStored = 0;
  private messagesDelivered = 0;
  /** Rows stored and deleted by the requests of this turn that succeeded; counted once it commits. */
  private batchStored = 0;
  private batchDelivered = 0;

  constructor(
    readonly store: TurnStore,
    options: BrokerOptions,
    private readonly emit: BrokerEmit,
    readonly logger: Logger | undefined = undefined,
    private readonly metrics?: BrokerMetrics,
    makeRouter: RouterFactory = (sink) => new LocalRouter(sink),
  ) {
    this.router = makeRouter((target, rows) => this.push(target.sid, rows));
    this.faults = options.faults ?? {};
    this.pushWindow = options.pushWindow;
    this.limits = new Limits(options.quotas, logger);
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
  async kindOf(number: string, store: StoreCalls): Promise<NumberKind | undefined> {
    const known = this.kinds.get(number);
    if (known !== undefined) return known;
    const kind = await store.numberKind(number);
    if (kind === undefined) return undefined;
    if (this.kinds.size >= MAX_KNOWN_KINDS) this.kinds.clear();
    this.kinds.set(number, kind);
    return kind;
  }

  /** What was looked up in a turn or request that failed may not exist. */
  forgetKinds(): void {
    this.kinds.clear();
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

  /**
   * Handles everything queued in one store turn, then emits the answers.
   * Resolves once they are emitted; the next flush must wait for it.
   */
  async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    this.events = [];
    this.batchStored = 0;
    this.batchDelivered = 0;
    this.ackUndo = [];
    const started = this.metrics && batch.length > 0 ? performance.now() : undefined;
    try {
      await this.store.turn(async (turn) => {
        const batcher = new StepBatcher(turn);
        const order = new TurnOrder(batcher);
        const scopes: RequestScope[] = [];
        for (let i = 0; i < batch.length; i++)
          scopes.push(new RequestScope(this, batcher, order, i));
        if (batcher.immediate) {
          // An embedded engine: each request runs to its end before the next
          // starts, so its promises and call objects die with it instead of
          // living until the turn ends (DESIGN.md §The store contract).
          for (const [i, { hostId, request }] of batch.entries())
            await this.handle(scopes[i]!, hostId, request);
        } else
          await Promise.all(
            batch.map(({ hostId, request }, i) =>
              batcher.task(() => this.handle(scopes[i]!, hostId, request)),
            ),
          );
        batcher.rethrow();
        this.settle(scopes);
        // Reads after the turn's writes: what the sessions behind have not been sent.
        await batcher.task(() => this.router.catchUp(batcher.calls()));
        batcher.rethrow();
        // FaultInjection.failCommits: the commit fails as on a full disk, once there is something to commit.
        if (this.faults.failCommits && batch.length > 0)
          throw new Error('commit failed (injected fault failCommits)');
      });
      this.committed(batch);
      this.router.turnCommitted();
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

  /**
   * A request failed: a v1 request's `09` is written to its connection (400
   * and 401 close it), and a host waiting for the outcome is told.
   */
  answerError(
    into: [number, Outgoing][],
    hostId: number,
    request: BrokerRequest,
    status: number,
    reason: string,
  ): void {
    if ('to' in request) {
      const { to } = request;
      into.push([
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
      into.push([hostId, { t: 'reply', rid: request.rid, ok: false, status, reason }]);
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
    this.router.turnFailed();
    // The rows the batch's 08s deleted are pending again: so are their frames in the ledgers.
    undoAcknowledgements(this.ackUndo);
    this.ackUndo = [];
    this.logger?.error({ err }, 'store transaction failed; answering 503');
    // A number registered in the rolled-back transaction may have been looked up in it,
    // and what was counted as pending in it never was.
    this.kinds.clear();
    this.limits.pending.clear();
    const { metrics } = this;
    if (metrics)
      this.store.run([call('countAllPending')]).then(
        ([pending]) => metrics.pending.set(pending),
        // the store is failing; the gauge is corrected by the next good count
        () => undefined,
      );
    this.events = [];
    for (const { hostId, request } of batch)
      this.answerError(this.events, hostId, request, Status.Unavailable, 'store unavailable');
    for (const target of this.router.targets()) {
      this.router.detach(target.sid);
      this.events.push([
        target.hostId,
        { t: 'kick', sid: target.sid, status: Status.Unavailable, reason: 'store unavailable' },
      ]);
    }
  }

  /**
   * One request, beside the others of the turn. If it throws before it
   * wrote, its answers and effects are dropped and it alone is refused (a
   * ZapwireError: its status) or failed (503); if it wrote, or the store
   * failed, the whole turn fails (failBatch).
   */
  private async handle(scope: RequestScope, hostId: number, request: BrokerRequest): Promise<void> {
    try {
      const value = await run(scope, request, hostId);
      // Only an ask op's request carries a rid, and its handler returned that op's reply.
      if ('rid' in request)
        scope.events.push([
          hostId,
          { t: 'reply', rid: request.rid, ok: true, value: value as BrokerReplies[AskOp] },
        ]);
    } catch (err) {
      const { batcher } = scope;
      if (batcher.failure) return;
      if (scope.wrote) {
        batcher.fail(err);
        return;
      }
      scope.dropEffects();
      if (isProtocolError(err))
        this.answerError(scope.events, hostId, request, err.status, err.message);
      else this.failRequest(scope, hostId, request, err);
    } finally {
      scope.pass();
    }
  }

  /**
   * DESIGN.md §Containment: an unexpected exception fails its request alone
   * (503), logged with the stack. An `ack` has no answer: its session is ended
   * instead, since what it acknowledged was not deleted.
   */
  private failRequest(
    scope: RequestScope,
    hostId: number,
    request: BrokerRequest,
    err: unknown,
  ): void {
    // What was looked up for it may not exist.
    this.kinds.clear();
    this.logger?.error({ err, op: request.op, hostId }, 'broker request failed; answering 503');
    if ('rid' in request || 'to' in request) {
      this.answerError(scope.events, hostId, request, Status.Unavailable, 'internal error');
    } else if (request.op === 'ack') {
      this.router.detach(request.sid);
      this.ledgers.close(request.sid);
      scope.kick(hostId, {
        t: 'kick',
        sid: request.sid,
        status: Status.Unavailable,
        reason: 'internal error',
      });
    }
  }

  /**
   * Every request of the turn has run: what they changed besides the store
   * takes effect. The rows stored go to the router in id order (it pushes a
   * session's rows in that order, and skips what is below what it sent);
   * then each request's own answers, in request order.
   */
  private settle(scopes: readonly RequestScope[]): void {
    let stored: PendingMessage[] | undefined;
    for (const { effects } of scopes) {
      for (const rows of effects.deleted) {
        if (rows.length === 0) continue;
        this.batchDelivered += rows.length;
        this.limits.pending.removed(rows[0]!.recipient, rows.length);
      }
      for (const { rows, admitted } of effects.stored) {
        this.batchStored += rows.length;
        if (!admitted) this.limits.pending.added(rows);
        stored ??= [];
        for (const row of rows) stored.push(row);
      }
      for (const size of effects.fanOuts) this.metrics?.fanOut.observe(size);
    }
    if (stored) {
      // Steps may have stored a later request's rows first.
      stored.sort((a, b) => a.id - b.id);
      this.router.committed(stored);
    }
    for (const scope of scopes) for (const event of scope.events) this.events.push(event);
  }
}

const PASSED: Promise<void> = Promise.resolve();

/**
 * One request's OpContext (ops/op.ts says when each thing takes effect):
 * its store calls, made in the turn's steps, its place in the request order,
 * and what it changed, kept apart until the turn's requests have run.
 */
class RequestScope implements OpContext {
  effects = new Effects();
  /** Its own answers, replies and kicks, in the order it made them. */
  readonly events: [number, Outgoing][] = [];
  /** It made a call that writes: it can no longer fail alone. */
  wrote = false;
  readonly store: StoreCalls;
  private ordered: Promise<void> | undefined;

  constructor(
    private readonly broker: Broker,
    readonly batcher: StepBatcher,
    private readonly order: TurnOrder,
    /** Its place in the turn. */
    private readonly index: number,
  ) {
    this.store = batcher.callsFor(this);
  }

  /** What the request was charged, to take back if it fails before it writes. */
  readonly refunds: (() => void)[] = [];
  private scopedLimits: Limits | undefined;

  get limits(): Limits {
    this.scopedLimits ??= this.broker.limits.forRequest(this.refunds);
    return this.scopedLimits;
  }
  get ledgers(): Ledgers {
    return this.broker.ledgers;
  }
  get router(): PushRouter {
    return this.broker.router;
  }
  get pushWindow(): number {
    return this.broker.pushWindow;
  }
  get logger(): Logger | undefined {
    return this.broker.logger;
  }

  kindOf(number: string): Promise<NumberKind | undefined> {
    return this.broker.kindOf(number, this.store);
  }

  inOrder(): Promise<void> {
    if (this.ordered) return this.ordered;
    const waiting = this.order.wait(this.index);
    if (waiting === undefined) {
      this.order.pass(this.index);
      this.ordered = PASSED;
    } else this.ordered = waiting.then(() => this.order.pass(this.index));
    return this.ordered;
  }

  /** It ended: the requests after it need not wait for it. */
  pass(): void {
    this.order.pass(this.index);
  }

  /** It failed before it wrote: nothing of it is answered, pushed or charged. */
  dropEffects(): void {
    this.events.length = 0;
    this.effects = new Effects();
    for (const refund of this.refunds) refund();
    this.refunds.length = 0;
  }

  /** Not async: the fault below throws at once, before the request's other writes are asked for. */
  storeRows(copies: NewMessage[], admitted = false): Promise<PendingMessage[]> {
    if (copies.length === 0) return Promise.resolve([]);
    // FaultInjection.storeText: the request fails as a bug would, before it wrote.
    const storeText = this.broker.faults.storeText;
    if (
      storeText !== undefined &&
      copies[0]!.kind === MessageKind.Text &&
      copies[0]!.body === storeText
    ) {
      throw new Error('injected fault: storeText');
    }
    return this.store.insertMessage(copies).then((rows) => {
      this.effects.stored.push({ rows, admitted });
      return rows;
    });
  }

  async deletePending(number: string, ids: readonly number[]): Promise<PendingMessage[]> {
    const deleted = await this.store.deletePending(number, ids);
    if (deleted.length > 0) this.effects.deleted.push(deleted);
    return deleted;
  }

  /**
   * The rows an `08` covers. Its delete joins the turn's other 08s' in one
   * statement (StepBatcher), and one the client repeats deletes nothing
   * twice; the receipts are of the rows actually deleted.
   */
  async acknowledge(ledger: Ledger, recipient: string, count: number): Promise<number> {
    const { ids, pushes } = ledger.acknowledge(count, this.broker.ackUndo);
    if (ids.length === 0) return pushes;
    const deleted = await this.store.deleteAcknowledged([{ recipient, ids }]);
    if (deleted.length > 0) {
      this.effects.deleted.push(deleted);
      // docs/protocol.md §Receipts: to the original sender only.
      const receipts: Promise<PendingMessage[]>[] = [];
      for (const row of deleted)
        if (wantsReceipt(row))
          receipts.push(this.storeRows([receiptOf(row, row.sender, row.recipient)]));
      if (receipts.length > 0) await Promise.all(receipts);
    }
    return pushes;
  }

  measureFanOut(recipients: number): void {
    this.effects.fanOuts.push(recipients);
  }

  answerWire(to: AnswerTo, frames: FrameInit[], messages: WireMessage[] = []): void {
    this.events.push([
      MAIN_THREAD,
      { t: 'wire', sid: to.sid, slot: to.slot, messages, frames, close: false },
    ]);
  }

  kick(hostId: number, kick: Kick): void {
    this.events.push([hostId, kick]);
  }
}
