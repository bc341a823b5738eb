import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import { ForbiddenError, NotFoundError, UnauthorizedError, ZapwireError } from '../../errors.js';
import { Status } from '../../protocol/status.js';
import { MessageKind, type NewMessage, type NumberKind, type PendingMessage, type Store } from '../../store/store.js';
import { READ_RECEIPT, receivedText, toLegacyRow, toWireMessage } from '../render.js';
import type { BrokerMetrics } from '../metrics/metrics.js';
import type { BrokerEvent, BrokerRequest, BrokerStats, FaultInjection, ReplyValue } from '../thread-messages.js';
import { LocalRouter, type PushRouter, type PushTarget } from './push-router.js';

export interface BrokerOptions {
  /** Unacknowledged pushes a session may have in flight. */
  pushWindow: number;
}

/** Delivers an event to a host (hostId 0 is the main thread: the legacy listener). */
export type BrokerEmit = (hostId: number, event: BrokerEvent) => void;

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** PROTOCOL.md §Legacy listener: receipts never ask for receipts. */
const LEGACY_RECEIPT_TEXT = /^(recebida|Lidas)/;
/** Numbers whose kind the broker keeps (~100 bytes each). */
const MAX_KNOWN_KINDS = 100_000;

/**
 * The store and the push router, driven by requests from session hosts. Every
 * request queued during one event-loop turn is handled in ONE transaction
 * (group commit, MEASUREMENTS.md: one writer, batched, is the fast path), and
 * nothing is answered until that transaction has committed: a `07` is only
 * ever sent for a committed row (PROTOCOL.md §Delivery guarantees).
 */
export class Broker {
  readonly router: PushRouter;
  private queue: { hostId: number; request: BrokerRequest }[] = [];
  private events: [number, BrokerEvent][] = [];
  private readonly kinds = new Map<string, NumberKind>();
  private messagesStored = 0;
  private messagesDelivered = 0;
  private faults: FaultInjection = {};
  /** Why the last transaction failed; undefined after the next good commit (/healthz). */
  commitError: string | undefined;

  constructor(
    private readonly store: Store,
    private readonly options: BrokerOptions,
    private readonly emit: BrokerEmit,
    private readonly logger?: Logger,
    router?: PushRouter,
    private readonly metrics?: BrokerMetrics,
  ) {
    this.router = router ?? new LocalRouter(store, (target, messages) => this.events.push([target.hostId, { t: 'push', sid: target.sid, messages }]));
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
    const started = this.metrics && batch.length > 0 ? performance.now() : undefined;
    try {
      this.store.transaction(() => {
        for (const { hostId, request } of batch) this.handle(hostId, request);
        this.router.catchUp();
        if (this.faults.failCommits) throw new Error('injected commit failure (faults.failCommits)');
      });
      this.commitError = undefined;
    } catch (err) {
      this.commitError = err instanceof Error ? err.message : String(err);
      this.failBatch(batch, err);
    }
    if (started !== undefined) {
      this.metrics!.commitLatency.observe((performance.now() - started) / 1000);
      this.metrics!.batchSize.observe(batch.length);
    }
    const events = this.events;
    this.events = [];
    for (const [hostId, event] of events) this.emit(hostId, event);
  }

  stats(): BrokerStats {
    const { statements, commits } = this.store.counters();
    return { statements, commits, messagesStored: this.messagesStored, messagesDelivered: this.messagesDelivered, routes: this.router.size };
  }

  /** Test-only: replaces the fault injection (thread-messages.ts FaultInjection). */
  setFaults(faults: FaultInjection): void {
    this.faults = faults;
  }

  detachHost(hostId: number): void {
    this.router.detachHost(hostId);
  }

  /**
   * The transaction did not commit: nothing of it was promised. Every request
   * that expected an answer gets 503, and every push session is ended (503),
   * since what the router believed it had pushed may not have been sent.
   */
  private failBatch(batch: readonly { hostId: number; request: BrokerRequest }[], err: unknown): void {
    this.logger?.error({ err }, 'store transaction failed; answering 503');
    // A number registered in the rolled-back transaction may have been looked up in it.
    this.kinds.clear();
    // What the rolled-back transaction counted as pending never was.
    try {
      this.metrics?.pending.set(this.store.countAllPending());
    } catch {
      // the store is failing; the gauge is corrected by the next good count
    }
    this.events = [];
    for (const { hostId, request } of batch) {
      if ('rid' in request) this.events.push([hostId, { t: 'reply', rid: request.rid, ok: false, status: Status.Unavailable, reason: 'store unavailable' }]);
    }
    for (const target of this.router.targets()) {
      this.router.detach(target.sid);
      this.events.push([target.hostId, { t: 'kick', sid: target.sid, status: Status.Unavailable, reason: 'store unavailable' }]);
    }
  }

  private reply(hostId: number, rid: number, value: ReplyValue): void {
    this.events.push([hostId, { t: 'reply', rid, ok: true, value }]);
  }

  private handle(hostId: number, request: BrokerRequest): void {
    try {
      this.dispatch(hostId, request);
    } catch (err) {
      if (!(err instanceof ZapwireError) || !('rid' in request)) throw err;
      this.events.push([hostId, { t: 'reply', rid: request.rid, ok: false, status: err.status, reason: err.message }]);
    }
  }

  private dispatch(hostId: number, request: BrokerRequest): void {
    switch (request.op) {
      case 'register': {
        const token = randomBytes(24).toString('base64url');
        const user = this.store.createUser(request.name, hashToken(token));
        this.reply(hostId, request.rid, { kind: 'registered', number: user.number, token });
        return;
      }
      case 'open':
        this.verifyToken(request.number, request.token);
        this.reply(hostId, request.rid, { kind: 'opened' });
        if (request.push) {
          const replaced = this.router.attach(request.number, { hostId, sid: request.sid }, this.options.pushWindow);
          if (replaced) this.kick(replaced, Status.Replaced, 'session replaced by a newer one');
        }
        return;
      case 'close':
        this.router.detach(request.sid);
        return;
      case 'send': {
        const id = this.send(request.src, request.dst, request.ts, request.flag, request.text);
        this.reply(hostId, request.rid, { kind: 'stored', id });
        return;
      }
      case 'ack':
        this.acknowledge(request.number, request.ids);
        this.router.grant(request.sid, request.credit);
        return;
      case 'poll': {
        const rows = this.store.pendingFor(request.number, 0, request.limit);
        this.reply(hostId, request.rid, { kind: 'polled', messages: rows.map(toWireMessage) });
        return;
      }
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
        this.verifyToken(request.number, request.token);
        const ids = request.texts.map((text) => this.send(request.number, request.dst, request.ts, request.flag, text));
        this.reply(hostId, request.rid, { kind: 'storedMany', ids });
        return;
      }
      case 'legacyRegister': {
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

  /** PROTOCOL.md §Sessions: no one acts as a number without its token. */
  private verifyToken(number: string, token: string): void {
    const user = this.store.getUser(number);
    if (!user || user.tokenHash === null) throw new UnauthorizedError('unknown number or wrong token');
    const presented = hashToken(token);
    if (presented.length !== user.tokenHash.length || !timingSafeEqual(presented, user.tokenHash)) {
      throw new UnauthorizedError('unknown number or wrong token');
    }
  }

  private storeCopies(copies: NewMessage[]): PendingMessage[] {
    if (copies.length === 0) return [];
    const rows = this.store.insertMessage(copies);
    this.messagesStored += rows.length;
    this.metrics?.stored.inc(rows.length);
    this.metrics?.pending.inc(rows.length);
    this.router.committed(rows);
    return rows;
  }

  private send(src: string, dst: string, ts: number, flag: boolean, text: string): number {
    const kind = this.kindOf(dst);
    if (kind === undefined) throw new NotFoundError('unknown destination');
    const base = { sender: src, ts, wantsReceipt: flag, kind: MessageKind.Text, body: text };
    if (kind === 'user') return this.storeCopies([{ ...base, recipient: dst, group: null }])[0]!.messageId;

    // PROTOCOL.md §Delivery guarantees: only members may send to a group.
    if (!this.store.isMember(dst, src)) throw new ForbiddenError('not a member of the group');
    // PROTOCOL.md §Receipts: a read receipt to a group goes to the original sender only.
    const read = READ_RECEIPT.exec(text);
    if (read) {
      const original = this.store.groupMessageSender(dst, Number(read[1]));
      if (original === undefined) throw new NotFoundError('no group message with that ts');
      return this.storeCopies([{ ...base, recipient: original, group: dst }])[0]!.messageId;
    }
    return this.fanOut(dst, base)[0]?.messageId ?? 0;
  }

  /**
   * A group message: one row per member other than the sender, one message id
   * for them all (the 07's), and a note of who sent `ts` for a later `lida`.
   */
  private fanOut(group: string, base: Omit<NewMessage, 'recipient' | 'group'>): PendingMessage[] {
    const copies = this.store
      .groupMembers(group)
      .filter((member) => member !== base.sender)
      .map((recipient) => ({ ...base, recipient, group }));
    this.store.recordGroupMessage(group, base.ts, base.sender);
    this.metrics?.fanOut.observe(copies.length);
    return this.storeCopies(copies);
  }

  /** PROTOCOL.md §Delivery guarantees: rows go only when the recipient's 08 covers them. */
  private acknowledge(number: string, ids: readonly number[]): void {
    if (ids.length === 0) return;
    const deleted = this.store.deletePending(number, ids);
    this.acknowledged(deleted.length);
    // PROTOCOL.md §Receipts: delivered (two checks), made by the server, to the
    // original sender only, and never for a message that did not ask for it.
    const receipts: NewMessage[][] = [];
    for (const row of deleted) {
      if (row.kind === MessageKind.Text && row.wantsReceipt) receipts.push([this.receipt(row, row.sender, number)]);
    }
    for (const copies of receipts) this.storeCopies(copies);
  }

  private acknowledged(rows: number): void {
    this.messagesDelivered += rows;
    this.metrics?.acknowledged.inc(rows);
    this.metrics?.pending.dec(rows);
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
    const group = this.store.createGroup(creator, members);
    const all = this.store.groupMembers(group);
    // PROTOCOL.md §Delivery guarantees: each member but the creator is told.
    const notices = all
      .filter((member) => member !== creator)
      .map((recipient) => ({ recipient, sender: creator, group, ts, wantsReceipt: false, kind: MessageKind.GroupCreated, body: all.join('') }));
    this.storeCopies(notices);
    return group;
  }

  private legacySend(src: string, dst: string, ts: number, text: string): void {
    const kind = this.kindOf(dst);
    if (kind === undefined) {
      this.logger?.warn({ src, dst }, 'legacy message to an unknown number dropped');
      return;
    }
    const base = { sender: src, ts, wantsReceipt: !LEGACY_RECEIPT_TEXT.test(text), kind: MessageKind.Text, body: text };
    if (kind === 'user') {
      this.storeCopies([{ ...base, recipient: dst, group: null }]);
      return;
    }
    this.fanOut(dst, base);
  }

  /**
   * The original `10` names no creator: the first member listed stands as
   * creator, and every listed member, creator included, gets the notice, since
   * that notice is how the original client learns the group's number.
   */
  private legacyCreateGroup(ts: number, members: readonly string[]): void {
    if (members.length === 0) return;
    const creator = members[0]!;
    const group = this.store.createGroup(creator, members);
    const all = this.store.groupMembers(group);
    this.storeCopies(all.map((recipient) => ({ recipient, sender: creator, group, ts, wantsReceipt: false, kind: MessageKind.GroupCreated, body: all.join('') })));
  }

  /**
   * PROTOCOL.md §Legacy listener: a message polled there is deleted once
   * written, and its receipt queued: for a group message, `recebida` + the
   * member's number to every other member.
   */
  private legacyDelivered(number: string, id: number): void {
    const deleted = this.store.deletePending(number, [id]);
    this.acknowledged(deleted.length);
    for (const row of deleted) {
      if (row.kind !== MessageKind.Text || !row.wantsReceipt) continue;
      const recipients = row.group === null ? [row.sender] : this.store.groupMembers(row.group).filter((m) => m !== number);
      for (const recipient of recipients) this.storeCopies([this.receipt(row, recipient, number)]);
    }
  }
}
