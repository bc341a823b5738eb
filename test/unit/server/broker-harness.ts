/**
 * A Broker on a private in-memory SqliteStore, driven as the broker thread
 * drives it (enqueue, flush), with every emitted event and log line captured.
 */
import { Broker, type BrokerOptions } from '../../../src/server/broker/broker.js';
import { captureLogs, type LogLine } from '../../helpers/log-capture.js';
import type { BrokerEvent, BrokerRequest, ReplyValue, WireMessage } from '../../../src/server/thread-messages.js';
import { SqliteStore } from '../../../src/store/sqlite-store.js';

export type Reply = Extract<BrokerEvent, { t: 'reply' }>;
type WithoutRid<R> = R extends { rid: number } ? Omit<R, 'rid'> : never;
export type Ask = WithoutRid<BrokerRequest>;

/** The host id requests come from (any but 0, the legacy listener). */
export const HOST = 1;
export const ADDRESS = '192.0.2.1';

export class BrokerHarness {
  readonly store = SqliteStore.open({ path: ':memory:' });
  readonly events: [number, BrokerEvent][] = [];
  readonly broker: Broker;
  private readonly captured = captureLogs('debug');
  private nextRid = 1;
  private nextSid = 100;

  constructor(options: Partial<BrokerOptions> = {}) {
    this.broker = new Broker(this.store, { pushWindow: 1_000, ...options }, (hostId, event) => this.events.push([hostId, event]), this.captured.logger);
  }

  get logs(): LogLine[] {
    return this.captured.lines();
  }

  /** Queues requests that expect an answer; returns their rids, in order. */
  enqueue(...requests: Ask[]): number[] {
    const rids = requests.map(() => this.nextRid++);
    this.broker.enqueue(
      HOST,
      requests.map((request, i) => ({ ...request, rid: rids[i]! }) as BrokerRequest),
    );
    return rids;
  }

  /** One group commit of what is queued; returns the events it emitted. */
  flush(): [number, BrokerEvent][] {
    const from = this.events.length;
    this.broker.flush();
    return this.events.slice(from);
  }

  /** Queues `requests`, flushes once, and returns the reply to each, in order. */
  run(...requests: Ask[]): Reply[] {
    const rids = this.enqueue(...requests);
    const events = this.flush();
    return rids.map((rid) => {
      const reply = events.find((entry): entry is [number, Reply] => entry[1].t === 'reply' && entry[1].rid === rid);
      if (!reply) throw new Error(`no reply to rid ${rid}`);
      return reply[1];
    });
  }

  value(reply: Reply): ReplyValue {
    if (!reply.ok) throw new Error(`refused: ${reply.status} ${reply.reason}`);
    return reply.value;
  }

  user(remote = ADDRESS): { number: string; token: string } {
    const value = this.value(this.run({ op: 'register', name: '', remote })[0]!);
    if (value.kind !== 'registered') throw new Error(value.kind);
    return { number: value.number, token: value.token };
  }

  /** Opens a push session for `who`; returns its sid. */
  pushSession(who: { number: string; token: string }): number {
    const sid = this.nextSid++;
    this.value(this.run({ op: 'open', sid, number: who.number, token: who.token, push: true, remote: ADDRESS })[0]!);
    return sid;
  }

  /** Everything pushed to `sid` in `events`. */
  static pushed(events: readonly [number, BrokerEvent][], sid: number): WireMessage[] {
    return events.flatMap(([, event]) => (event.t === 'push' && event.sid === sid ? event.messages : []));
  }

  close(): void {
    this.store.close();
  }
}

export function send(from: string, to: string, text: string, ts = 1_700_000_000): Ask {
  return { op: 'send', src: from, dst: to, ts, flag: false, text };
}
