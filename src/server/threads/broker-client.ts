import type { MessagePort } from 'node:worker_threads';
import { BatchedPort } from './batched-port.js';
import type {
  AskOp,
  AskRequest,
  BrokerEvent,
  BrokerReplies,
  BrokerRequest,
  TellRequest,
} from './thread-messages.js';

export type { AskRequest, TellRequest };

/** What an ask hands back: its op's reply value, or the broker's refusal (a protocol status). */
export type Result<O extends AskOp = AskOp> =
  | { ok: true; value: BrokerReplies[O] }
  | { ok: false; status: number; reason: string };

/** The longest a request sent with tellLater waits for company. */
export const LATER_MS = 5;

/**
 * Request/answer over a port to the broker: adds request ids, batches per
 * turn, and matches answers to callbacks. Events that are not answers (pushes,
 * kicks) are handed back to the owner.
 */
export class BrokerClient {
  private readonly waiting = new Map<number, (result: Result) => void>();
  private readonly out: BatchedPort<BrokerRequest>;
  private nextRid = 1;
  /** Requests that may wait (see tellLater), oldest first. */
  private later: TellRequest[] = [];
  private laterTimer: NodeJS.Timeout | undefined;

  constructor(port: MessagePort, onEvent: (event: BrokerEvent) => void, afterBatch?: () => void) {
    this.out = new BatchedPort(port);
    port.on('message', (batch: BrokerEvent[]) => {
      for (const event of batch) {
        if (event.t === 'reply') this.answer(event);
        else onEvent(event);
      }
      afterBatch?.();
    });
  }

  /** Answers still to come. */
  get outstanding(): number {
    return this.waiting.size;
  }

  ask<O extends AskOp>(request: AskRequest<O>, onResult: (result: Result<O>) => void): void {
    const rid = this.nextRid++;
    // The reply comes back under this rid, so it is this op's reply: the map
    // holds callbacks of every op, hence the widening.
    this.waiting.set(rid, onResult as (result: Result) => void);
    this.sendLater();
    this.out.send({ ...request, rid } as BrokerRequest);
  }

  askAsync<O extends AskOp>(request: AskRequest<O>): Promise<Result<O>> {
    return new Promise((resolve) => this.ask(request, resolve));
  }

  tell(request: TellRequest): void {
    this.sendLater();
    this.out.send(request);
  }

  /**
   * A request nobody waits for (an `08`'s deletions): it leaves with the
   * next request that does go, in order, or after `LATER_MS` at most.
   * DESIGN.md §The path of one message: at a chat's rates a message arrives
   * on its own, and an ack that travelled alone cost the broker a wake-up
   * and a commit of its own; riding with the next 05 it costs neither.
   */
  tellLater(request: TellRequest): void {
    this.later.push(request);
    this.laterTimer ??= setTimeout(this.flushLater, LATER_MS);
  }

  flush(): void {
    this.sendLater();
    this.out.flush();
  }

  private readonly flushLater = (): void => {
    this.laterTimer = undefined;
    this.sendLater();
  };

  private sendLater(): void {
    if (this.later.length === 0) return;
    for (const request of this.later) this.out.send(request);
    this.later = [];
    if (this.laterTimer !== undefined) {
      clearTimeout(this.laterTimer);
      this.laterTimer = undefined;
    }
  }

  private answer(event: Extract<BrokerEvent, { t: 'reply' }>): void {
    const callback = this.waiting.get(event.rid);
    this.waiting.delete(event.rid);
    callback?.(
      event.ok
        ? { ok: true, value: event.value }
        : { ok: false, status: event.status, reason: event.reason },
    );
  }
}
