import type { Logger } from 'pino';
import type { FrameInit } from '../../../protocol/frame.js';
import type { NewMessage, NumberKind, PendingMessage } from '../../../store/store.js';
import type { StoreCalls } from '../../../store/turn-store.js';
import type {
  AnswerTo,
  AskOp,
  BrokerEvent,
  BrokerOp,
  BrokerReplies,
  BrokerRequest,
  WireMessage,
} from '../../threads/thread-messages.js';
import type { Ledger, Ledgers } from '../ledger.js';
import type { Limits } from '../limits.js';
import type { PushRouter } from '../push-router.js';

export type Kick = Extract<BrokerEvent, { t: 'kick' }>;

/**
 * What a handler may use, and when each thing takes effect. A handler runs
 * inside the broker's turn (one transaction per broker turn, broker.ts),
 * beside the other requests of the turn: its store calls are gathered with
 * theirs into a few steps (DESIGN.md §The store contract). It has two parts:
 * the reads its checks need, made at once, then, after `await
 * ctx.inOrder()`, everything that depends on or changes what other requests
 * see (the quotas, sessions, ledgers, and every write), in request order. It
 * refuses by throwing a ZapwireError before it writes anything (its status
 * answers the request); anything else it throws before writing fails its
 * request alone with 503, and after writing, the whole turn. Nothing it does
 * reaches another thread before COMMIT.
 */
export interface OpContext {
  // ---- the store, within the turn's transaction --------------------------
  /** Every Store call, asynchronous, gathered with the other requests' into the turn's steps. */
  readonly store: StoreCalls;
  /** What a number is (user or group), cached. */
  kindOf(number: string): Promise<NumberKind | undefined>;
  /**
   * Waits until the requests before this one in the turn have passed this
   * point (or ended): what follows runs in request order.
   */
  inOrder(): Promise<void>;
  /**
   * Stores the rows of one message (`admitted`: its recipients' pending
   * counts were taken by Limits.admitDeliveries). Pushes and counters follow
   * once the turn's requests have run.
   */
  storeRows(copies: NewMessage[], admitted?: boolean): Promise<PendingMessage[]>;
  /** Deletes delivered rows. Pending counts and counters follow once the turn's requests have run. */
  deletePending(number: string, ids: readonly number[]): Promise<PendingMessage[]>;
  /** A group message's fan-out, measured once the request succeeded. */
  measureFanOut(recipients: number): void;

  // ---- checked and charged at once (after inOrder) ------------------------
  readonly limits: Limits;

  // ---- in memory, at once (taken back only where noted) ------------------
  /** Each open v1 session's `06` bookkeeping. */
  readonly ledgers: Ledgers;
  readonly router: PushRouter;
  /** Unacknowledged pushes a push session may have in flight. */
  readonly pushWindow: number;
  /**
   * An `08`: counts `count` frames of `ledger` acknowledged (taken back if the
   * turn does not commit), deletes the rows they carried (in one statement
   * with the turn's other 08s) and stores the receipts of those that asked
   * for one. Resolves with the push credit they give back.
   */
  acknowledge(ledger: Ledger, recipient: string, count: number): Promise<number>;
  readonly logger: Logger | undefined;

  // ---- written after COMMIT (dropped if the request or the turn fails) ---
  /** The broker's own answer to a v1 request: `messages` as `06`s, then `frames`, in the request's answer slot. */
  answerWire(to: AnswerTo, frames: FrameInit[], messages?: WireMessage[]): void;
  /** Ends a session on host `hostId`. */
  kick(hostId: number, kick: Kick): void;
}

/** What a handler resolves with: its op's reply (sent after COMMIT), or nothing for an op without one. */
export type OpReply<O extends BrokerOp> = O extends AskOp ? BrokerReplies[O] : void;

/** The handler of one op; `hostId` is the thread the request came from (0: the main thread). */
export type OpHandler<O extends BrokerOp> = (
  ctx: OpContext,
  request: BrokerRequest<O>,
  hostId: number,
) => Promise<OpReply<O>>;

/** An op: its handler, and what the group commit must do around it. */
export interface Op<O extends BrokerOp> {
  readonly handle: OpHandler<O>;
  /** It writes even when it stores no message row: its commit shows that writes go through (/healthz). */
  readonly writes?: true;
}

export type OpTable = { readonly [O in BrokerOp]: Op<O> };
