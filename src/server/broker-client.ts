import type { MessagePort } from 'node:worker_threads';
import { BatchedPort } from './batched-port.js';
import type { BrokerEvent, BrokerRequest, ReplyValue } from './thread-messages.js';

export type Result = { ok: true; value: ReplyValue } | { ok: false; status: number; reason: string };

/** A request to the broker without the id the client adds. */
export type AskRequest = BrokerRequest extends infer R ? (R extends { rid: number } ? Omit<R, 'rid'> : never) : never;
/** A request that expects no answer. */
export type TellRequest = Exclude<BrokerRequest, { rid: number }>;

/**
 * Request/answer over a port to the broker: adds request ids, batches per
 * turn, and matches answers to callbacks. Events that are not answers (pushes,
 * kicks) are handed back to the owner.
 */
export class BrokerClient {
  private readonly waiting = new Map<number, (result: Result) => void>();
  private readonly out: BatchedPort<BrokerRequest>;
  private nextRid = 1;

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

  ask(request: AskRequest, onResult: (result: Result) => void): void {
    const rid = this.nextRid++;
    this.waiting.set(rid, onResult);
    this.out.send({ ...request, rid } as BrokerRequest);
  }

  askAsync(request: AskRequest): Promise<Result> {
    return new Promise((resolve) => this.ask(request, resolve));
  }

  tell(request: TellRequest): void {
    this.out.send(request);
  }

  flush(): void {
    this.out.flush();
  }

  private answer(event: Extract<BrokerEvent, { t: 'reply' }>): void {
    const callback = this.waiting.get(event.rid);
    this.waiting.delete(event.rid);
    callback?.(event.ok ? { ok: true, value: event.value } : { ok: false, status: event.status, reason: event.reason });
  }
}
