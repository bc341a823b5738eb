import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import {
  ForbiddenError,
  MalformedRequestError,
  NotFoundError,
  RateLimitError,
  UnauthorizedError,
  ZapwireError,
} from '../../errors.js';
import { Code } from '../../protocol/codes.js';
import {
  encodeFrameInto,
  FRAME_SIZE,
  type FrameInit,
  MAX_GROUP_MEMBERS,
} from '../../protocol/frame.js';
import { Status, statusClosesConnection } from '../../protocol/status.js';
import {
  errorFrameInit,
  isStorableText,
  READ_RECEIPT,
  receivedText,
  toLegacyRow,
  toWireMessage,
} from '../../store/render.js';
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
  BrokerEvent,
  BrokerQuotas,
  BrokerRequest,
  BrokerStats,
  FaultInjection,
  ReplyValue,
  WireMessage,
} from '../threads/thread-messages.js';
import { addressKey, KeyedLimiter } from './keyed-limiter.js';
import { Ledgers, type LedgerUndo, undoAcknowledgements } from './ledger.js';
import { PendingQuota } from './pending-quota.js';
import { LocalRouter, type PushRouter, type PushTarget } from './push-router.js';

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

/** Requests that read pending rows back: the 08s queued before them delete their rows first. */
const READS_PENDING: ReadonlySet<BrokerRequest['op']> = new Set(['poll', 'legacyFetch']);

/** Requests that write even when they store no message row. */
const WRITE_OPS: ReadonlySet<BrokerRequest['op']> = new Set([
  'register',
  'createGroup',
  'legacyRegister',
  'legacyCreateGroup',
]);

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

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** docs/protocol.md §Legacy listener: receipts never ask for receipts. */
const LEGACY_RECEIPT_TEXT = /^(recebida|Lidas)/;
/** Numbers whose kind the broker keeps (~100 bytes each). */
const MAX_KNOWN_KINDS = 100_000;

const NO_QUOTAS: BrokerQuotas = Object.freeze({
  rateLimit: 0,
  groupRateLimit: 0,
  maxPendingPerRecipient: 0,
  registerRate: 0,
  registerBurst: 1,
  authFailuresPerMinute: 0,
});

// docs/protocol.md §Limits: a refusal's reason names the limit (the option).
const RATE_REASON = 'sending too fast (rateLimit)';
const GROUP_RATE_REASON = 'creating groups too fast (groupRateLimit)';
const REGISTER_REASON = 'registering too fast (registerRate)';
const AUTH_REASON = 'too many failed authentications (authFailuresPerMinute)';
const pendingReason = (recipient: string) =>
  `too many pending messages for ${recipient} (maxPendingPerRecipient)`;

/** The copies one `05` stores, once every check but the quotas has passed. */
interface Delivery {
  copies: NewMessage[];
  /** A group message (not a `lida`): who sent its ts is recorded (for a later `lida`), and its fan-out measured. */
  group: { number: string; ts: number; sender: string } | null;
}

/**
 * What a request changed besides the store, applied only once its savepoint
 * is released, so that nothing of a request that failed is pushed, counted or
 * charged (DESIGN.md §Containment). Reused from one request to the next.
 */
class Effects {
  readonly stored: PendingMessage[][] = [];
  readonly deleted: PendingMessage[][] = [];
  readonly fanOuts: number[] = [];
  limiter: KeyedLimiter | undefined;
  key = '';
  cost = 0;

  reset(): void {
    this.stored.length = 0;
    this.deleted.length = 0;
    this.fanOuts.length = 0;
    this.limiter = undefined;
  }

  /** Every request charges at most one limiter. */
  charge(limiter: KeyedLimiter, key: string, cost: number): void {
    this.limiter = limiter;
    this.key = key;
    this.cost = cost;
  }
}

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

/** docs/protocol.md §Frame, §Limits: the store takes only text a `06` can carry (400 otherwise). */
function checkText(text: string, what = 'text'): void {
  if (!isStorableText(text))
    throw new MalformedRequestError(`${what} must be well-formed Unicode without 0x00`);
}

/**
 * The store and the push router, driven by requests from session hosts. Every
 * request queued during one event-loop turn is handled in ONE transaction
 * (group commit: one writer, batched, is the fast path), and nothing is
 * answered until that transaction has committed: a `07` is only ever sent
 * for a committed row (docs/protocol.md §Delivery guarantees). Each request runs
 * in a savepoint of its own, so one that throws fails alone.
 */
export class Broker {
  readonly router: PushRouter;
  /** Why commits are failing (disk full, I/O error) while they are; undefined after the next good one. */
  commitError: string | undefined;
  private queue: { hostId: number; request: BrokerRequest }[] = [];
  private events: [number, Outgoing][] = [];
  /** Each open v1 session's 06 bookkeeping. */
  readonly ledgers = new Ledgers();
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
  private readonly rate: KeyedLimiter;
  private readonly groupRate: KeyedLimiter;
  private readonly registrations: KeyedLimiter;
  private readonly authFailures: KeyedLimiter;
  private readonly pending: PendingQuota;

  constructor(
    private readonly store: Store,
    private readonly options: BrokerOptions,
    private readonly emit: BrokerEmit,
    private readonly logger?: Logger,
    private readonly metrics?: BrokerMetrics,
  ) {
    this.router = new LocalRouter(store, (target, rows) => this.push(target.sid, rows));
    this.faults = options.faults ?? {};
    const quotas = options.quotas ?? NO_QUOTAS;
    // docs/protocol.md §Limits: per number (bursts of twice the rate), per source address.
    this.rate = new KeyedLimiter(quotas.rateLimit, quotas.rateLimit * 2);
    this.groupRate = new KeyedLimiter(quotas.groupRateLimit, quotas.groupRateLimit * 2);
    this.registrations = new KeyedLimiter(quotas.registerRate, quotas.registerBurst);
    this.authFailures = new KeyedLimiter(
      quotas.authFailuresPerMinute / 60,
      quotas.authFailuresPerMinute,
    );
    this.pending = new PendingQuota(quotas.maxPendingPerRecipient, (recipient) =>
      this.store.countPending(recipient),
    );
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
  private kindOf(number: string): NumberKind | undefined {
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
          if (READS_PENDING.has(request.op)) this.deleteAcknowledged();
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
  private answerWire(to: AnswerTo, frames: FrameInit[], messages: WireMessage[] = []): void {
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
      batch.some(({ request }) => WRITE_OPS.has(request.op))
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
    this.pending.clear();
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

  private reply(hostId: number, rid: number, value: ReplyValue): void {
    this.events.push([hostId, { t: 'reply', rid, ok: true, value }]);
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
      if (err instanceof ZapwireError) {
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
      this.kick({ hostId, sid: request.sid }, Status.Unavailable, 'internal error');
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
      this.pending.removed(rows[0]!.recipient, rows.length);
    }
    for (const rows of effects.stored) {
      this.batchStored += rows.length;
      this.pending.added(rows);
      this.router.committed(rows);
    }
    for (const size of effects.fanOuts) this.metrics?.fanOut.observe(size);
    if (own) for (const event of own) this.events.push(event);
  }

  private dispatch(hostId: number, request: BrokerRequest): void {
    switch (request.op) {
      case 'register': {
        checkText(request.name, 'name');
        this.admitRegistration(request.remote);
        const token = randomBytes(24).toString('base64url');
        const user = this.store.createUser(request.name, hashToken(token));
        this.reply(hostId, request.rid, { kind: 'registered', number: user.number, token });
        return;
      }
      case 'open': {
        const { to } = request;
        this.authenticate(request.remote, request.number, request.token);
        // docs/protocol.md §Sessions: the 04 answer, then (push) every pending message.
        this.answerWire(to, [{ code: Code.OpenSession, data: 'ok' }]);
        this.reply(hostId, request.rid, { kind: 'opened' });
        this.ledgers.open(to.sid, hostId, request.number);
        if (request.push) {
          const replaced = this.router.attach(
            request.number,
            { hostId, sid: to.sid },
            this.options.pushWindow,
          );
          if (replaced) this.kick(replaced, Status.Replaced, 'session replaced by a newer one');
        }
        return;
      }
      case 'close':
        this.router.detach(request.sid);
        this.ledgers.close(request.sid);
        return;
      case 'send': {
        const { to } = request;
        const delivery = this.deliveryOf(to.src, to.dst, to.ts, request.flag, request.text);
        this.admit(to.src, [delivery]);
        const id = this.write(delivery);
        // docs/protocol.md §Delivery guarantees: written only once the transaction holding the row has committed.
        this.answerWire(to, [
          { code: Code.Stored, src: to.src, dst: to.dst, ts: to.ts, data: String(id) },
        ]);
        return;
      }
      case 'ack':
        this.ack(hostId, request);
        return;
      case 'poll': {
        const rows = this.store.pendingFor(request.number, 0, request.limit);
        this.answerWire(
          request.to,
          [{ code: Code.Poll, data: String(rows.length) }],
          rows.map(toWireMessage),
        );
        this.reply(hostId, request.rid, { kind: 'done' });
        return;
      }
      case 'writable':
        this.router.setWritable(request.sid, request.writable);
        return;
      case 'sync':
        this.reply(hostId, request.rid, { kind: 'done' });
        return;
      case 'createGroup': {
        const group = this.createGroup(request.src, request.ts, request.members);
        this.reply(hostId, request.rid, { kind: 'groupCreated', group });
        return;
      }
      case 'validate': {
        const kind = this.kindOf(request.number);
        const valid = request.usersOnly ? kind === 'user' : kind !== undefined;
        this.reply(hostId, request.rid, { kind: 'validity', valid });
        return;
      }
      case 'authSend': {
        // docs/protocol.md §Codes: the request itself (400) before the credentials (401).
        for (const text of request.texts) checkText(text);
        this.authenticate(request.remote, request.number, request.token);
        // Charged only now that the token checked out: a flood of wrong
        // tokens naming a number never spends that number's rate.
        const deliveries = request.texts.map((text) =>
          this.deliveryOf(request.number, request.dst, request.ts, request.flag, text),
        );
        this.admit(request.number, deliveries);
        this.reply(hostId, request.rid, {
          kind: 'storedMany',
          ids: deliveries.map((delivery) => this.write(delivery)),
        });
        return;
      }
      case 'legacyRegister': {
        this.admitRegistration(request.remote);
        const user = this.store.createUser('', null);
        this.reply(hostId, request.rid, { kind: 'registered', number: user.number, token: '' });
        return;
      }
      case 'legacySend':
        this.legacySend(request.src, request.dst, request.ts, request.text);
        this.reply(hostId, request.rid, { kind: 'done' });
        return;
      case 'legacyCreateGroup':
        this.legacyCreateGroup(request.ts, request.members);
        this.reply(hostId, request.rid, { kind: 'done' });
        return;
      case 'legacyFetch': {
        const rows = this.store.pendingFor(request.number, 0, request.limit);
        this.reply(hostId, request.rid, { kind: 'legacyRows', rows: rows.map(toLegacyRow) });
        return;
      }
      case 'legacyDelivered':
        this.legacyDelivered(request.number, request.id);
        this.reply(hostId, request.rid, { kind: 'done' });
        return;
    }
  }

  private kick(target: PushTarget, status: number, reason: string): void {
    this.events.push([target.hostId, { t: 'kick', sid: target.sid, status, reason }]);
  }

  /**
   * docs/protocol.md §Sessions: a cumulative `08`. A count beyond the `06`
   * frames written is malformed: the session ends with `09 400`, ordered
   * after the answers of the frames before the `08`. The rows covered are
   * deleted; pushes covered return push credit.
   */
  private ack(hostId: number, request: Extract<BrokerRequest, { op: 'ack' }>): void {
    const ledger = this.ledgers.get(request.sid);
    if (!ledger) return; // the session has gone
    if (request.count > ledger.sent) {
      const reason = `ack of ${request.count} but ${ledger.sent} frames were sent`;
      this.events.push([
        hostId,
        {
          t: 'kick',
          sid: request.sid,
          status: Status.Malformed,
          reason,
          after: request.after,
          cause: { src: request.src, dst: request.dst, ts: request.ts },
        },
      ]);
      return;
    }
    const { ids, pushes } = ledger.acknowledge(request.count, this.ackUndo);
    if (ids.length > 0) this.acks.push({ recipient: request.number, ids });
    this.router.grant(request.sid, pushes);
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
      for (const row of deleted) this.receiptFor(row, row.recipient);
    });
    this.settle(mark);
  }

  /**
   * docs/protocol.md §Limits: failed authentications are limited per source
   * address. Once an address has used them up, its attempts are refused
   * without the token being checked, and that is logged once per window.
   */
  private authenticate(remote: string, number: string, token: string): void {
    const address = addressKey(remote);
    this.refuseOverAddressLimit(this.authFailures, address, 'authFailuresPerMinute', AUTH_REASON);
    try {
      this.verifyToken(number, token);
    } catch (err) {
      this.authFailures.charge(address);
      throw err;
    }
  }

  /** docs/protocol.md §Sessions: no one acts as a number without its token. */
  private verifyToken(number: string, token: string): void {
    const user = this.store.getUser(number);
    if (!user || user.tokenHash === null)
      throw new UnauthorizedError('unknown number or wrong token');
    const presented = hashToken(token);
    if (presented.length !== user.tokenHash.length || !timingSafeEqual(presented, user.tokenHash)) {
      throw new UnauthorizedError('unknown number or wrong token');
    }
  }

  /** docs/protocol.md §Limits: registrations are limited per source address (charged once made). */
  private admitRegistration(remote: string): void {
    const address = addressKey(remote);
    this.refuseOverAddressLimit(this.registrations, address, 'registerRate', REGISTER_REASON);
    this.effects.charge(this.registrations, address, 1);
  }

  /**
   * A `429` for an address that has used up a per-address limit, logged at
   * most once per window (a flood is one warn line); clients are told `reason`.
   */
  private refuseOverAddressLimit(
    limiter: KeyedLimiter,
    address: string,
    limit: 'authFailuresPerMinute' | 'registerRate',
    reason: string,
  ): void {
    if (limiter.allows(address)) return;
    if (limiter.shouldWarn(address))
      this.logger?.warn({ address, limit }, `${reason}: refusing the address's attempts`);
    throw new RateLimitError(reason);
  }

  /**
   * docs/protocol.md §Limits, checked before anything is written: the sender's
   * rate must cover every row these deliveries store (a group message counts
   * once per row), and no recipient may go over its pending quota; otherwise
   * nothing is stored (429). The rate is charged once the request succeeded.
   */
  private admit(sender: string, deliveries: readonly Delivery[]): void {
    let rows = 0;
    for (const delivery of deliveries) rows += delivery.copies.length;
    if (!this.rate.allows(sender, rows)) throw new RateLimitError(RATE_REASON);
    if (this.pending.enabled) {
      if (deliveries.length === 1) {
        // A message's copies have distinct recipients.
        for (const copy of deliveries[0]!.copies)
          if (!this.pending.fits(copy.recipient, 1))
            throw new RateLimitError(pendingReason(copy.recipient));
      } else {
        const adding = new Map<string, number>();
        for (const delivery of deliveries)
          for (const { recipient } of delivery.copies)
            adding.set(recipient, (adding.get(recipient) ?? 0) + 1);
        for (const [recipient, count] of adding)
          if (!this.pending.fits(recipient, count))
            throw new RateLimitError(pendingReason(recipient));
      }
    }
    this.effects.charge(this.rate, sender, rows);
  }

  /** Stores the rows of one message; what they change besides the store waits for the request to succeed. */
  private storeCopies(copies: NewMessage[]): PendingMessage[] {
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

  /** Writes an admitted delivery; returns the message id its `07` carries (0 for a group of one). */
  private write(delivery: Delivery): number {
    const { group } = delivery;
    if (group !== null) {
      this.store.recordGroupMessage(group.number, group.ts, group.sender);
      this.effects.fanOuts.push(delivery.copies.length);
    }
    return this.storeCopies(delivery.copies)[0]?.messageId ?? 0;
  }

  /** Where a `05` goes, with every check but the quotas (400, 404, 403). */
  private deliveryOf(src: string, dst: string, ts: number, flag: boolean, text: string): Delivery {
    checkText(text);
    const kind = this.kindOf(dst);
    if (kind === undefined) throw new NotFoundError('unknown destination');
    const base = { sender: src, ts, wantsReceipt: flag, kind: MessageKind.Text, body: text };
    if (kind === 'user') return { copies: [{ ...base, recipient: dst, group: null }], group: null };

    const members = this.store.groupMembers(dst);
    // docs/protocol.md §Delivery guarantees: only members may send to a group.
    if (!members.includes(src)) throw new ForbiddenError('not a member of the group');
    // docs/protocol.md §Receipts: a read receipt to a group goes to the original sender only.
    const read = READ_RECEIPT.exec(text);
    if (read) {
      const original = this.store.groupMessageSender(dst, Number(read[1]));
      if (original === undefined) throw new NotFoundError('no group message with that ts');
      return { copies: [{ ...base, recipient: original, group: dst }], group: null };
    }
    // docs/protocol.md §Delivery guarantees: one row per member other than the
    // sender, one message id for them all (the 07's).
    const copies: NewMessage[] = [];
    for (const member of members)
      if (member !== src) copies.push({ ...base, recipient: member, group: dst });
    return { copies, group: { number: dst, ts, sender: src } };
  }

  /** docs/protocol.md §Delivery guarantees: rows go only when the recipient's 08 covers them. */
  /**
   * docs/protocol.md §Receipts: delivered (two checks), made by the server, to the
   * original sender only, and never for a message that did not ask for it.
   * Server-made rows are not refused by the quotas (what caused them was
   * admitted), but they are counted.
   */
  private receiptFor(row: PendingMessage, receivedBy: string): void {
    if (row.kind === MessageKind.Text && row.wantsReceipt)
      this.storeCopies([this.receipt(row, row.sender, receivedBy)]);
  }

  private deletePending(number: string, ids: readonly number[]): PendingMessage[] {
    const deleted = this.store.deletePending(number, ids);
    if (deleted.length > 0) this.effects.deleted.push(deleted);
    return deleted;
  }

  private receipt(original: PendingMessage, recipient: string, receivedBy: string): NewMessage {
    return {
      recipient,
      sender: receivedBy,
      group: original.group,
      ts: nowSeconds(),
      wantsReceipt: false,
      kind: MessageKind.Receipt,
      body: receivedText(original.ts),
    };
  }

  private createGroup(creator: string, ts: number, members: readonly string[]): string {
    for (const member of members) {
      if (this.kindOf(member) !== 'user') throw new NotFoundError(`unknown member ${member}`);
    }
    // docs/protocol.md §Limits: 10 is limited per number.
    if (!this.groupRate.allows(creator)) throw new RateLimitError(GROUP_RATE_REASON);
    // docs/protocol.md §Delivery guarantees: each member but the creator is told.
    return this.storeGroup(creator, ts, members, (member) => member !== creator);
  }

  /**
   * Creates a group once its checks have passed (charged to the creator's
   * `10` rate) and stores its creation notice, the member list, for every
   * member `told` accepts.
   */
  private storeGroup(
    creator: string,
    ts: number,
    members: readonly string[],
    told: (member: string) => boolean,
  ): string {
    this.effects.charge(this.groupRate, creator, 1);
    const group = this.store.createGroup(creator, members);
    const all = this.store.groupMembers(group);
    this.storeCopies(
      all.filter(told).map((recipient) => ({
        recipient,
        sender: creator,
        group,
        ts,
        wantsReceipt: false,
        kind: MessageKind.GroupCreated,
        body: all.join(''),
      })),
    );
    return group;
  }

  /** The legacy protocol has no error answer: a refusal is logged, and the client sees only the close. */
  private legacyRefusal(err: ZapwireError, fields: Record<string, unknown>): ZapwireError {
    this.logger?.warn(
      { ...fields, status: err.status, reason: err.message },
      'legacy request refused',
    );
    return err;
  }

  /**
   * docs/protocol.md §Legacy listener: to a group, one copy for every member, the
   * sender included, as the original stored them. Charged to the sender's
   * rate, and refused whole when a recipient is full (docs/protocol.md §Limits).
   */
  private legacySend(src: string, dst: string, ts: number, text: string): void {
    if (!isStorableText(text))
      throw this.legacyRefusal(
        new MalformedRequestError('text must be well-formed Unicode without 0x00'),
        { src, dst },
      );
    const kind = this.kindOf(dst);
    if (kind === undefined) {
      this.logger?.warn({ src, dst }, 'legacy message to an unknown number dropped');
      return;
    }
    const base = {
      sender: src,
      ts,
      wantsReceipt: !LEGACY_RECEIPT_TEXT.test(text),
      kind: MessageKind.Text,
      body: text,
    };
    const delivery: Delivery =
      kind === 'user'
        ? { copies: [{ ...base, recipient: dst, group: null }], group: null }
        : {
            copies: this.store
              .groupMembers(dst)
              .map((recipient) => ({ ...base, recipient, group: dst })),
            group: { number: dst, ts, sender: src },
          };
    try {
      this.admit(src, [delivery]);
    } catch (err) {
      throw err instanceof ZapwireError ? this.legacyRefusal(err, { src, dst }) : err;
    }
    this.write(delivery);
  }

  /**
   * The original `10` names no creator: the first member listed stands as
   * creator, and every listed member, creator included, gets the notice, since
   * that notice is how the original client learns the group's number. As in
   * version 1, the members must be registered users, at most 16, and `10` is
   * limited per number (the creator's).
   */
  private legacyCreateGroup(ts: number, members: readonly string[]): void {
    if (members.length === 0) return;
    if (members.length > MAX_GROUP_MEMBERS) {
      throw this.legacyRefusal(new MalformedRequestError(`at most ${MAX_GROUP_MEMBERS} members`), {
        members: members.length,
      });
    }
    for (const member of members) {
      if (this.kindOf(member) !== 'user')
        throw this.legacyRefusal(new NotFoundError(`unknown member ${member}`), {
          members: members.length,
        });
    }
    const creator = members[0]!;
    if (!this.groupRate.allows(creator))
      throw this.legacyRefusal(new RateLimitError(GROUP_RATE_REASON), { creator });
    // The notice is how the original client learns the group's number: every member is told.
    this.storeGroup(creator, ts, members, () => true);
  }

  /**
   * docs/protocol.md §Legacy listener: a message polled there is deleted once
   * written, and its receipt queued: for a group message, `recebida` + the
   * member's number to every other member.
   */
  private legacyDelivered(number: string, id: number): void {
    const deleted = this.deletePending(number, [id]);
    for (const row of deleted) {
      if (row.kind !== MessageKind.Text || !row.wantsReceipt) continue;
      const recipients =
        row.group === null
          ? [row.sender]
          : this.store.groupMembers(row.group).filter((m) => m !== number);
      for (const recipient of recipients) this.storeCopies([this.receipt(row, recipient, number)]);
    }
  }
}
