import type { Logger } from 'pino';
import type { FrameInit } from '../../../protocol/frame.js';
import type { NewMessage, NumberKind, PendingMessage, Store } from '../../../store/store.js';
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
 * inside the broker's group commit (one transaction per broker turn), in a
 * savepoint of its own request (broker.ts). It refuses by throwing a
 * ZapwireError (its status answers the request); anything else it throws
 * fails its request alone with 503. Nothing it does reaches another thread
 * before COMMIT.
 */
export interface OpContext {
  // ---- now, inside the request's savepoint: rolled back if it throws -----
  readonly store: Store;
  /** What a number is (user or group), cached. */
  kindOf(number: string): NumberKind | undefined;
  /** Stores the rows of one message. Pushes, pending counts and counters follow once the request succeeded. */
  storeRows(copies: NewMessage[]): PendingMessage[];
  /** Deletes delivered rows. Pending counts and counters follow once the request succeeded. */
  deletePending(number: string, ids: readonly number[]): PendingMessage[];
  /** A group message's fan-out, measured once the request succeeded. */
  measureFanOut(recipients: number): void;

  // ---- checked now, charged once the request succeeded -------------------
  readonly limits: Limits;

  // ---- in memory, at once (taken back only where noted) ------------------
  /** Each open v1 session's `06` bookkeeping. */
  readonly ledgers: Ledgers;
  readonly router: PushRouter;
  /** Unacknowledged pushes a push session may have in flight. */
  readonly pushWindow: number;
  /**
   * An `08`: counts `count` frames of `ledger` acknowledged (taken back if the
   * batch does not commit) and deletes the rows they carried together with
   * the batch's other 08s, before the next request that reads pending rows.
   * Returns the push credit they give back.
   */
  acknowledge(ledger: Ledger, recipient: string, count: number): number;
  readonly logger: Logger | undefined;

  // ---- written after COMMIT (dropped if the request or the batch fails) --
  /** The broker's own answer to a v1 request: `messages` as `06`s, then `frames`, in the request's answer slot. */
  answerWire(to: AnswerTo, frames: FrameInit[], messages?: WireMessage[]): void;
  /** Ends a session on host `hostId`. */
  kick(hostId: number, kick: Kick): void;
}

/** What a handler returns: its op's reply (sent after COMMIT), or nothing for an op without one. */
export type OpReply<O extends BrokerOp> = O extends AskOp ? BrokerReplies[O] : void;

/** The handler of one op; `hostId` is the thread the request came from (0: the main thread). */
export type OpHandler<O extends BrokerOp> = (
  ctx: OpContext,
  request: BrokerRequest<O>,
  hostId: number,
) => OpReply<O>;

/** An op: its handler, and what the group commit must do around it. */
export interface Op<O extends BrokerOp> {
  readonly handle: OpHandler<O>;
  /** It reads pending rows back: the 08s queued before it in the batch delete their rows first. */
  readonly readsPending?: true;
  /** It writes even when it stores no message row: its commit shows that writes go through (/healthz). */
  readonly writes?: true;
}

export type OpTable = { readonly [O in BrokerOp]: Op<O> };
