/**
 * A Broker on a private MemoryStore (the reference store: the same semantics
 * as SqliteStore, in plain Maps), driven as the broker thread drives it
 * (enqueue, flush), with every emitted event and log line captured.
 */

import { decodeFrame, FRAME_SIZE, type Frame } from '../../../src/protocol/frame.js';
import { Broker, type BrokerOptions } from '../../../src/server/broker/broker.js';
import type { Result } from '../../../src/server/threads/broker-client.js';
import type {
  AnswerTo,
  AskOp,
  AskRequest,
  BrokerEvent,
  BrokerReplies,
  BrokerRequest,
} from '../../../src/server/threads/thread-messages.js';
import { MemoryStore } from '../../../src/store/memory-store.js';
import type { OpenTransaction, Store } from '../../../src/store/store.js';
import { SyncTurnStore } from '../../../src/store/sync-turn-store.js';
import type { TurnStore } from '../../../src/store/turn-store.js';
import { captureLogs, type LogLine } from '../../helpers/log-capture.js';

/**
 * What a request got: its reply (a `BrokerResult`), or the frame the broker
 * wrote as its answer read back as one: a `07` as its message id, a `09` as
 * a refusal.
 */
export type Reply = Result | { ok: true; value: number };
/** A v1 `send` as a test writes it, without the answer slot the session would give it. */
export type SendAsk = {
  op: 'send';
  src: string;
  dst: string;
  ts: number;
  flag: boolean;
  text: string;
};
/** A v1 `open` as a test writes it: the harness adds the answer slot. */
export type OpenAsk = {
  op: 'open';
  sid: number;
  number: string;
  token: string;
  push: boolean;
  remote: string;
};
/** A request that gets a reply or an answer, as a test writes it. */
export type Ask = Exclude<AskRequest, { op: 'open' }> | SendAsk | OpenAsk;
type ReplyEvent = Extract<BrokerEvent, { t: 'reply' }>;
/** What a direct answer carried, as a reply: a 07's id, or a 09's status. */
type Answer = Extract<BrokerEvent, { t: 'answer' }>;

/** The host id requests come from (any but 0, the legacy listener). */
export const HOST = 1;
export const ADDRESS = '192.0.2.1';

/**
 * How the broker runs a turn's requests: `gathered`, side by side with their
 * store calls gathered into steps (how it runs on PostgreSQL, where a step is
 * a round trip), or `immediate`, one after the other with each call made at
 * once (Turn.callNow: how it runs on SQLite). The broker test files run
 * gathered; broker-immediate.test.ts runs them again immediate.
 */
export type TurnMode = 'gathered' | 'immediate';

/** The turns of `store`, without `callNow`: every call waits for its step, as on PostgreSQL. */
function gathering(store: SyncTurnStore): TurnStore {
  return {
    turn: (body) => store.turn((turn) => body({ step: (calls) => turn.step(calls) })),
    run: (calls) => store.turn((turn) => turn.step(calls)),
    counters: () => store.counters(),
    close: () => store.close(),
  };
}

export class BrokerHarness {
  /** The mode of the harnesses made from now on. */
  static turns: TurnMode = 'gathered';
  readonly store: Store;
  readonly events: [number, BrokerEvent][] = [];
  /** For each event in `events`: how many transactions the store had committed when it was emitted. */
  readonly commitsAtEmit: number[] = [];
  readonly broker: Broker;
  private readonly captured = captureLogs('debug');
  private nextRid = 1;
  private nextSid = 100;
  /** The connection the harness's sends come from, and its next answer slot. */
  static readonly SENDER_SID = 1;
  private nextSlot = 0;

  constructor(
    options: Partial<BrokerOptions> = {},
    store: Store & OpenTransaction = new MemoryStore(),
  ) {
    this.store = store;
    const turns = new SyncTurnStore(store);
    this.broker = new Broker(
      BrokerHarness.turns === 'gathered' ? gathering(turns) : turns,
      { pushWindow: 1_000, ...options },
      (hostId, event) => {
        this.events.push([hostId, event]);
        this.commitsAtEmit.push(this.store.counters().commits);
      },
      this.captured.logger,
    );
  }

  get logs(): LogLine[] {
    return this.captured.lines();
  }

  /** Queues requests that expect an answer; returns what identifies each answer (a rid, or a v1 answer slot), in order. */
  enqueue(...requests: Ask[]): { rid?: number; to?: AnswerTo }[] {
    const keys: { rid?: number; to?: AnswerTo }[] = [];
    const queued = requests.map((request: Ask): BrokerRequest => {
      if (request.op === 'send' && 'src' in request) {
        const to = {
          sid: BrokerHarness.SENDER_SID,
          slot: this.nextSlot++,
          src: request.src,
          dst: request.dst,
          ts: request.ts,
        };
        keys.push({ to });
        return { op: 'send', to, flag: request.flag, text: request.text };
      }
      const rid = this.nextRid++;
      if (request.op === 'open' && 'sid' in request) {
        const { sid, ...rest } = request;
        keys.push({ rid });
        return {
          ...rest,
          rid,
          to: { sid, slot: 0, src: request.number, dst: '0000000000000', ts: 0 },
        };
      }
      keys.push({ rid });
      return { ...request, rid } as BrokerRequest;
    });
    this.broker.enqueue(HOST, queued);
    return keys;
  }

  /** One group commit of what is queued; returns the events it emitted. */
  async flush(): Promise<[number, BrokerEvent][]> {
    const from = this.events.length;
    await this.broker.flush();
    return this.events.slice(from);
  }

  /** Queues `requests`, flushes once, and returns the reply to each, in order. */
  async run(...requests: Ask[]): Promise<Reply[]> {
    const keys = this.enqueue(...requests);
    return BrokerHarness.replies(keys, await this.flush());
  }

  /** The reply (or the direct answer, as a reply) to each request `enqueue` returned a key for. */
  static replies(
    keys: readonly { rid?: number; to?: AnswerTo }[],
    events: readonly [number, BrokerEvent][],
  ): Reply[] {
    return keys.map(({ rid, to }) => {
      if (to) {
        const answer = events.find(
          (entry): entry is [number, Answer] =>
            entry[1].t === 'answer' && entry[1].sid === to.sid && entry[1].slot === to.slot,
        );
        if (!answer) throw new Error(`no answer to slot ${to.slot}`);
        return BrokerHarness.asReply(answer[1]);
      }
      const reply = events.find(
        (entry): entry is [number, ReplyEvent] => entry[1].t === 'reply' && entry[1].rid === rid,
      );
      if (!reply) throw new Error(`no reply to rid ${rid}`);
      return reply[1];
    });
  }

  /** A `07` as its message id, a `09` as a refusal. */
  static asReply(answer: Answer): Reply {
    const frame = BrokerHarness.frames(answer.bytes).at(-1)!;
    if (frame.code === '07') return { ok: true, value: Number(frame.data) };
    if (frame.code === '09')
      return {
        ok: false,
        status: Number(frame.data.slice(0, 3)),
        reason: frame.data.slice(4),
      };
    throw new Error(`unexpected answer ${frame.code}`);
  }

  static frames(bytes: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    for (let offset = 0; offset < bytes.length; offset += FRAME_SIZE)
      frames.push(decodeFrame(bytes.subarray(offset, offset + FRAME_SIZE)));
    return frames;
  }

  /** Runs one request in a group commit of its own; returns its reply value (a refusal throws). */
  async ask<O extends Exclude<AskOp, 'open'>>(request: AskRequest<O>): Promise<BrokerReplies[O]> {
    const reply = (await this.run(request as Ask))[0]!;
    if (!reply.ok) throw new Error(`refused: ${reply.status} ${reply.reason}`);
    // The reply under this request's rid is its op's.
    return reply.value as BrokerReplies[O];
  }

  user(remote = ADDRESS): Promise<{ number: string; token: string }> {
    return this.ask({ op: 'register', name: '', remote });
  }

  /** A group `creator` made with `members`; returns its number. */
  group(creator: { number: string }, ...members: { number: string }[]): Promise<string> {
    return this.ask({
      op: 'createGroup',
      src: creator.number,
      ts: 1,
      members: members.map((m) => m.number),
    });
  }

  /** Opens a session (push or poll) for `who` on connection `sid`; a refusal throws. */
  async openSession(
    sid: number,
    who: { number: string; token: string },
    push: boolean,
  ): Promise<void> {
    const [reply] = await this.run({
      op: 'open',
      sid,
      number: who.number,
      token: who.token,
      push,
      remote: ADDRESS,
    });
    if (!reply!.ok) throw new Error(`refused: ${reply!.status} ${reply!.reason}`);
  }

  /** Opens a push session for `who`; returns its sid. */
  async pushSession(who: { number: string; token: string }): Promise<number> {
    const sid = this.nextSid++;
    await this.openSession(sid, who, true);
    return sid;
  }
  /**
   * A cumulative `08 count` from session `sid` of `number` (ordered before
   * answer slot `after`), flushed on its own; returns the events it caused.
   * An 08 expects no answer (no rid): it goes straight to the broker, as a
   * host sends it.
   */
  ack(sid: number, number: string, count: number, after = 0): Promise<[number, BrokerEvent][]> {
    this.broker.enqueue(HOST, [
      { op: 'ack', sid, number, count, src: number, dst: '0000000000000', ts: 5, after },
    ]);
    return this.flush();
  }

  /** Every `06` pushed to `sid` in `events`. */
  static pushed(events: readonly [number, BrokerEvent][], sid: number): Frame[] {
    return events.flatMap(([, event]) =>
      event.t === 'deliver' && event.sid === sid ? BrokerHarness.frames(event.bytes) : [],
    );
  }

  close(): void {
    this.store.close();
  }
}

export function send(from: string, to: string, text: string, ts = 1_700_000_000): Ask {
  return { op: 'send', src: from, dst: to, ts, flag: false, text };
}
