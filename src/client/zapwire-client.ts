import { EventEmitter } from 'node:events';
import {
  ConnectionError,
  ListenerError,
  MalformedRequestError,
  ReplacedError,
  TooLargeError,
  UnauthorizedError,
  ZapwireError,
} from '../errors.js';
import { Code } from '../protocol/codes.js';
import { type Frame, isNumber, MAX_GROUP_MEMBERS, MAX_NAME_BYTES } from '../protocol/frame.js';
import { splitText } from '../protocol/text.js';
import { backoffDelay } from './backoff.js';
import {
  type Identity,
  type ResolvedClientOptions,
  resolveClientOptions,
  type ZapwireClientOptions,
} from './client-options.js';
import { Connection, type ConnectionSettings } from './connection.js';
import { Deduplicator, messageKey } from './deduplicator.js';
import {
  type Delivery,
  type GroupCreated,
  type Message,
  type Receipt,
  readReceiptText,
  toDelivery,
} from './deliveries.js';

/** `push`: the server sends messages as they come. `poll`: only when asked (`poll()`); never replaces another session. */
export type SessionMode = 'push' | 'poll';

export type ClientState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface SendOptions {
  /** Ask for `recebida` / `lida` receipts (flag 1). Default true. */
  receipts?: boolean;
  /**
   * The message's ts, Unix seconds (default now). Resending after a
   * ConnectionError with the same ts lets the recipient's client recognise the
   * copy if the first one was stored after all.
   */
  ts?: number;
}

export interface SendResult {
  /** The id of the (first) message stored. */
  id: number;
  /** One id per message: several when the text was longer than a frame holds. */
  ids: number[];
  /** The ts the messages carry; receipts name the message by it. */
  ts: number;
}

/** A send that failed: the typed error of the `09` (or ConnectionError), with the ids of the parts already stored. */
export type SendError = ZapwireError & { storedIds: number[] };

export interface DisconnectInfo {
  /** Why the connection dropped, or why the last attempt to reopen it failed. */
  error: ZapwireError;
  /** When the next attempt is made; undefined when there is none (reconnect: false). */
  reconnectInMs: number | undefined;
}

export interface ZapwireClientEvents {
  message: [message: Message];
  receipt: [receipt: Receipt];
  groupCreated: [event: GroupCreated];
  /**
   * The session was taken over (ReplacedError, 409) or its token refused on
   * reconnect (UnauthorizedError), or a delivery listener threw (ListenerError:
   * the delivery and what was thrown; it comes again in the next session).
   */
  error: [error: Error];
  /** The connection dropped; the client is reconnecting unless `reconnectInMs` is undefined. */
  disconnect: [info: DisconnectInfo];
  /** The session was reopened after a drop; `attempt` is how many tries it took. */
  reconnect: [info: { attempt: number }];
  /** The client is done: close(), a takeover, a refused token, or a drop with reconnect off. */
  close: [info: { error: ZapwireError | undefined }];
}

/** docs/protocol.md §Names: a group's name is 1 to 64 bytes. */

/** What `nameOf` answers (docs/protocol.md §Names): a user's name from registration, a group's as last set; empty when none. */
export interface NameInfo {
  kind: 'user' | 'group';
  name: string;
}

/** What `createGroup` takes besides the members. */
export interface CreateGroupOptions {
  /** The group's name, set with a `14` right after the `10` (1 to 64 bytes). */
  name?: string;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/**
 * A zapwire protocol v1 client: one session (push or poll) over one TCP
 * connection, reopened with backoff when it drops.
 *
 * Attach the `message` / `receipt` / `groupCreated` listeners before
 * `connect()`. A received message is acknowledged to the server (which may
 * then delete it) only after its listeners have returned, so what the process
 * has not handled is delivered again; what it has handled but not yet
 * acknowledged when the connection drops is recognised when it comes again and
 * not emitted twice.
 *
 * A listener that throws has not taken the message: it is not acknowledged,
 * the client emits `error` (a ListenerError) and ends the session, and
 * reconnects as after a drop (with `reconnect: false` it closes), so the
 * message comes again in the next session, with everything that came after
 * it (the `08` is cumulative), less what was taken already (recognised, not
 * emitted twice). A listener that throws again and again is retried with
 * growing delays. Other listeners of that message that had run before the
 * throw run again with it.
 *
 * Attach an `error` listener: a takeover (409) is reported there, and without
 * one it is thrown, as Node does for emitters; a ListenerError without one is
 * a process warning instead, never a crash.
 */
export class ZapwireClient extends EventEmitter<ZapwireClientEvents> {
  readonly options: Readonly<ResolvedClientOptions>;
  private identityValue: Identity | undefined;
  private stateValue: ClientState = 'idle';
  private mode: SessionMode = 'push';
  /** The open session. */
  private conn: Connection | undefined;
  /** A connection being opened (connect or reconnect), so close() can stop it. */
  private opening: Connection | undefined;
  /** Numbers each connection, for telling a redelivery from a second identical message. */
  private generation = 0;
  private attempt = 0;
  /** Deliveries not taken in a row (listeners threw): the reconnect that brings them again waits longer each time. */
  private listenerFailures = 0;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private readonly dedup: Deduplicator;
  private pollChain: Promise<unknown> = Promise.resolve();
  /** The poll in progress: what its answer brought and was taken, and the listener error that ended it, if any. */
  private pollBatch: { deliveries: Delivery[]; failure: ListenerError | undefined } | undefined;
  private readonly settings: Readonly<ConnectionSettings>;

  constructor(options: ZapwireClientOptions = {}) {
    super();
    this.options = resolveClientOptions(options);
    this.identityValue = this.options.identity;
    this.dedup = new Deduplicator(this.options.seenCapacity, this.options.seen);
    const { host, port, ackDelayMs, ackEvery, requestTimeoutMs, connectTimeoutMs, tls } =
      this.options;
    this.settings = Object.freeze({
      host,
      port,
      tls,
      ackDelayMs,
      ackEvery,
      requestTimeoutMs,
      connectTimeoutMs,
    });
  }

  get identity(): Identity | undefined {
    return this.identityValue;
  }

  /** This client's number, once it has an identity. */
  get number(): string | undefined {
    return this.identityValue?.number;
  }

  get state(): ClientState {
    return this.stateValue;
  }

  /** A session is open: send, createGroup, poll and markRead can go out now. */
  get connected(): boolean {
    return this.stateValue === 'open';
  }

  /**
   * `01`: registers a new number on a connection of its own (no session
   * needed). The client adopts it as its identity if it had none.
   */
  async register(name = ''): Promise<Identity> {
    const frame = await this.oneShot((conn) =>
      conn.request({ code: Code.Register, data: name }, Code.Registered),
    );
    const identity = Object.freeze({ number: frame.dst, token: frame.data });
    this.identityValue ??= identity;
    return identity;
  }

  /**
   * `04`: opens a session with the identity. Resolves on `04 ok`; rejects with
   * UnauthorizedError (401), ConnectionError (server unreachable) or another
   * typed error. The first connection is not retried: reconnecting starts once
   * a session has been open.
   */
  async connect(options: { mode?: SessionMode } = {}): Promise<void> {
    const mode = options.mode ?? 'push';
    if (mode !== 'push' && mode !== 'poll')
      throw new TypeError(`mode must be 'push' or 'poll', got ${JSON.stringify(mode)}`);
    if (!this.identityValue)
      throw new UnauthorizedError('no identity: pass options.identity or call register() first');
    if (this.stateValue !== 'idle' && this.stateValue !== 'closed')
      throw new Error(`connect() called while ${this.stateValue}`);
    this.mode = mode;
    this.stateValue = 'connecting';
    let conn: Connection;
    try {
      conn = await this.openSession();
    } catch (err) {
      if (this.stateValue === 'connecting') this.stateValue = 'idle';
      throw err;
    }
    if (this.stateValue !== 'connecting') {
      conn.destroy(new ConnectionError('client closed while connecting'));
      throw new ConnectionError('client closed while connecting');
    }
    this.adopt(conn);
  }

  /**
   * `05`: sends `text` to a user or group. Text over 217 bytes goes as several
   * messages (split between characters), written back to back and stored in
   * order. Resolves once every part is stored (`07`); rejects with the typed
   * error of the `09` (NotFoundError 404, ForbiddenError 403, RateLimitError
   * 429...) or a ConnectionError if the connection was lost before the answer.
   * The error's `storedIds` lists the parts stored before the failure.
   */
  async send(to: string, text: string, options: SendOptions = {}): Promise<SendResult> {
    if (typeof to !== 'string' || !isNumber(to))
      throw withStored(
        new MalformedRequestError(`to must be 13 digits, got ${JSON.stringify(to)}`),
        [],
      );
    if (typeof text !== 'string') throw new TypeError('text must be a string');
    const receipts = options.receipts ?? true;
    const ts = options.ts ?? nowSeconds();
    if (!Number.isInteger(ts) || ts < 0 || ts > 9_999_999_999)
      throw new RangeError(`options.ts must be Unix seconds, got ${ts}`);
    const conn = this.session();
    const parts = splitText(text);
    const answers = conn.requestMany(
      parts.map((data) => ({ code: Code.Send, src: conn.self, dst: to, ts, flag: receipts, data })),
      Code.Stored,
    );
    const settled = await Promise.allSettled(answers);
    const ids: number[] = [];
    for (const result of settled) {
      if (result.status === 'rejected') throw withStored(asZapwireError(result.reason), ids);
      ids.push(Number(result.value.data));
    }
    return { id: ids[0]!, ids, ts };
  }

  /**
   * `10`: creates a group with these members (1 to 16; the creator is always
   * a member). Resolves with its number. With `options.name`, names it
   * (`14`) once created; if that fails, the group exists unnamed and the
   * error's `group` is its number.
   */
  async createGroup(members: readonly string[], options: CreateGroupOptions = {}): Promise<string> {
    if (!Array.isArray(members) || members.length < 1 || members.length > MAX_GROUP_MEMBERS) {
      throw new MalformedRequestError(`a group needs 1 to ${MAX_GROUP_MEMBERS} other members`);
    }
    const bad = members.find((m) => typeof m !== 'string' || !isNumber(m));
    if (bad !== undefined)
      throw new MalformedRequestError(`member ${JSON.stringify(bad)} is not 13 digits`);
    // Checked before the 10: a name the server would refuse creates nothing.
    if (options.name !== undefined) checkGroupName(options.name);
    const conn = this.session();
    const frame = await conn.request(
      { code: Code.CreateGroup, src: conn.self, ts: nowSeconds(), data: members.join('') },
      Code.GroupCreated,
    );
    const group = frame.dst;
    if (options.name !== undefined) {
      try {
        await this.nameGroup(group, options.name);
      } catch (err) {
        throw Object.assign(asZapwireError(err), { group });
      }
    }
    return group;
  }

  /**
   * `12`: the name a user registered with, or a group's name (members
   * only: ForbiddenError otherwise); NotFoundError for a number that is
   * neither. Names are for showing: numbers stay the identity.
   */
  async nameOf(number: string): Promise<NameInfo> {
    if (typeof number !== 'string' || !isNumber(number))
      throw new MalformedRequestError(`number must be 13 digits, got ${JSON.stringify(number)}`);
    const conn = this.session();
    const frame = await conn.request({ code: Code.NameOf, src: conn.self, dst: number }, Code.Name);
    return { kind: frame.flag ? 'group' : 'user', name: frame.data };
  }

  /**
   * `14`: names a group this client is a member of (1 to 64 bytes; the last
   * name set wins). Resolves with the name stored; rejects with
   * ForbiddenError (not a member), NotFoundError (not a group),
   * RateLimitError (`--group-rate-limit`). An empty or too long name is
   * refused here, before sending: the server would close the session for
   * an empty one.
   */
  async nameGroup(group: string, name: string): Promise<string> {
    if (typeof group !== 'string' || !isNumber(group))
      throw new MalformedRequestError(`group must be 13 digits, got ${JSON.stringify(group)}`);
    checkGroupName(name);
    const conn = this.session();
    const frame = await conn.request(
      { code: Code.NameGroup, src: conn.self, dst: group, data: name },
      Code.GroupNamed,
    );
    return frame.data;
  }

  /**
   * `19`: is this a registered user or group? Uses the session when one is
   * open, else a connection of its own. Not 13 digits: false, without asking.
   */
  async isValid(number: string): Promise<boolean> {
    if (typeof number !== 'string' || !isNumber(number)) return false;
    const ask = (conn: Connection) =>
      conn.request({ code: Code.IsValid, src: conn.self, dst: number }, Code.Validity);
    const frame =
      this.conn && this.stateValue === 'open' ? await ask(this.conn) : await this.oneShot(ask);
    return frame.data === '1';
  }

  /**
   * `03` (poll sessions): asks for pending messages and resolves with what one
   * answer brings (at most a batch), after emitting each as an event; they are
   * acknowledged as soon as the answer is complete. Polls run one at a time.
   * Rejects with the ListenerError if a listener threw on one of them (the
   * session then ends: see the class comment).
   */
  poll(): Promise<Delivery[]> {
    const run = this.pollChain.then(() => this.pollOnce());
    this.pollChain = run.catch(() => undefined);
    return run;
  }

  /**
   * Sends `lida <ts>` (flag 0) to the message's chat: its sender for a direct
   * message, the group for a group message (the server forwards it to the
   * sender only). Only messages whose sender asked for receipts get one:
   * resolves with the receipt's id, or undefined when none was asked for.
   */
  async markRead(
    message: Pick<Message, 'chat' | 'ts' | 'wantsReceipt'>,
  ): Promise<number | undefined> {
    if (!message.wantsReceipt) return undefined;
    const result = await this.send(message.chat.number, readReceiptText(message.ts), {
      receipts: false,
    });
    return result.id;
  }

  /**
   * Acknowledges what was handled, ends the session and stops reconnecting.
   * Requests still waiting reject with a ConnectionError: await them first.
   */
  async close(): Promise<void> {
    const before = this.stateValue;
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.opening?.destroy(new ConnectionError('client closed'));
    if (before === 'idle' || before === 'closed') {
      if (before === 'idle') this.stateValue = 'closed';
      return;
    }
    this.stateValue = 'closed';
    const conn = this.conn;
    this.conn = undefined;
    this.pollBatch = undefined;
    if (conn) await conn.end();
    this.emit('close', { error: undefined });
  }

  private session(): Connection {
    if (this.stateValue !== 'open' || !this.conn) {
      const why =
        this.stateValue === 'reconnecting'
          ? 'not connected: reconnecting'
          : this.stateValue === 'connecting'
            ? 'not connected yet: await connect()'
            : 'not connected: call connect() first';
      throw withStored(new ConnectionError(why), []);
    }
    return this.conn;
  }

  private async pollOnce(): Promise<Delivery[]> {
    const conn = this.session();
    if (this.mode !== 'poll')
      throw new Error("poll() needs a poll session: connect({ mode: 'poll' })");
    // Acknowledge first: polling before acknowledging would bring the same messages again.
    conn.flushAck();
    const batch: NonNullable<typeof this.pollBatch> = { deliveries: [], failure: undefined };
    this.pollBatch = batch;
    try {
      await conn.request({ code: Code.Poll, src: conn.self }, Code.Poll);
    } catch (err) {
      // The session ending after a listener threw may or may not beat the 03 answer: the same error either way.
      throw batch.failure ?? err;
    } finally {
      if (this.pollBatch === batch) this.pollBatch = undefined;
    }
    if (batch.failure) throw batch.failure;
    conn.flushAck();
    return batch.deliveries;
  }

  /** Opens a connection and a session on it; `opening` lets close() abort it. */
  private async openSession(): Promise<Connection> {
    const identity = this.identityValue!;
    const generation = ++this.generation;
    const push = this.mode === 'push';
    let conn: Connection | undefined;
    const opened = await Connection.open(this.settings, {
      delivery: (frame) => this.onDelivery(conn!, frame, generation, identity.number),
      closed: (error) => this.onConnectionClosed(conn!, error),
    });
    conn = opened;
    if (this.stateValue === 'closed') {
      opened.destroy(new ConnectionError('client closed'));
      throw new ConnectionError('client closed while connecting');
    }
    this.opening = opened;
    // docs/protocol.md §Sessions: a push session gets its pending messages right
    // after the 04 answer, often in the same read. Hold them until the code
    // awaiting connect() has run, so listeners it attaches then see them.
    if (push) opened.hold();
    try {
      await opened.openSession(identity.number, identity.token, push);
    } catch (err) {
      opened.destroy(asZapwireError(err));
      throw err;
    } finally {
      this.opening = undefined;
    }
    return opened;
  }

  private adopt(conn: Connection): void {
    this.conn = conn;
    this.stateValue = 'open';
    setImmediate(() => conn.release());
    if (conn.closed) this.onConnectionClosed(conn, conn.closeError);
  }

  /** A `06`: emitted, unless it is a redelivery of what was taken. True if the application took it (its listeners returned). */
  private onDelivery(conn: Connection, frame: Frame, generation: number, self: string): boolean {
    const key = messageKey(frame);
    if (this.dedup.redelivered(key, generation)) return true;
    const delivery = toDelivery(frame, self);
    try {
      switch (delivery.type) {
        case 'message':
          this.emit('message', delivery);
          break;
        case 'receipt':
          this.emit('receipt', delivery);
          break;
        case 'groupCreated':
          this.emit('groupCreated', delivery);
          break;
      }
    } catch (err) {
      // docs/protocol.md §Delivery guarantees: a 06 not acknowledged when the
      // connection ends is sent again in the next session. The application did
      // not take this one: the connection acknowledges what came before it and
      // nothing from it on, and ends; the client reconnects as after a drop.
      const error = new ListenerError(delivery, err);
      if (this.pollBatch) this.pollBatch.failure ??= error;
      this.listenerFailures++;
      void conn.end(error);
      this.reportError(error);
      return false;
    }
    this.listenerFailures = 0;
    this.dedup.taken(key, generation);
    this.pollBatch?.deliveries.push(delivery);
    return true;
  }

  private onConnectionClosed(conn: Connection, error: ZapwireError | undefined): void {
    if (conn !== this.conn) return;
    this.conn = undefined;
    this.pollBatch = undefined;
    if (this.stateValue !== 'open') return;
    const why = error ?? new ConnectionError(`connection to ${conn.where} closed`);
    // docs/protocol.md §Sessions: a newer push session replaced this one. Coming
    // back would take it over in turn, and the two would alternate for ever.
    if (why instanceof ReplacedError) return this.finish(why, true);
    if (this.options.reconnect === false) {
      this.emit('disconnect', { error: why, reconnectInMs: undefined });
      return this.finish(why, false);
    }
    this.stateValue = 'reconnecting';
    this.emit('disconnect', { error: why, reconnectInMs: this.scheduleReconnect() });
  }

  private scheduleReconnect(): number {
    // A listener that throws on the same message every time would otherwise get it back at the first delay for ever.
    const attempt = Math.max(this.attempt, this.listenerFailures - 1);
    const delay = backoffDelay(
      attempt,
      this.options.reconnect as Exclude<ResolvedClientOptions['reconnect'], false>,
    );
    this.attempt++;
    this.reconnectTimer = setTimeout(() => void this.reconnectNow(), delay);
    return delay;
  }

  private async reconnectNow(): Promise<void> {
    this.reconnectTimer = undefined;
    if (this.stateValue !== 'reconnecting') return;
    let conn: Connection;
    try {
      conn = await this.openSession();
    } catch (err) {
      if (this.stateValue !== 'reconnecting') return;
      const error = asZapwireError(err);
      if (error instanceof UnauthorizedError) return this.finish(error, true);
      this.emit('disconnect', { error, reconnectInMs: this.scheduleReconnect() });
      return;
    }
    if (this.stateValue !== 'reconnecting') {
      conn.destroy(new ConnectionError('client closed'));
      return;
    }
    const attempt = this.attempt;
    this.attempt = 0;
    this.adopt(conn);
    if ((this.stateValue as ClientState) === 'open') this.emit('reconnect', { attempt });
  }

  /** The client is done for good. */
  private finish(error: ZapwireError, report: boolean): void {
    this.stateValue = 'closed';
    if (this.reconnectTimer !== undefined) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    if (report) this.reportError(error);
    this.emit('close', { error });
  }

  /**
   * To the `error` listeners. With none: a listener's error is a process
   * warning (the application's own handler failed, and the message will come
   * again; crashing would only repeat that at every start); any other is
   * thrown on the next tick, as an emitter would (but not into the reading loop).
   */
  private reportError(err: unknown): void {
    const error = err instanceof Error ? err : new Error(String(err));
    if (this.listenerCount('error') === 0) {
      if (error instanceof ListenerError) process.emitWarning(error);
      else
        process.nextTick(() => {
          throw error;
        });
      return;
    }
    try {
      this.emit('error', error);
    } catch (thrown) {
      process.nextTick(() => {
        throw thrown;
      });
    }
  }

  /** A request on a connection of its own, closed afterwards. */
  private async oneShot(ask: (conn: Connection) => Promise<Frame>): Promise<Frame> {
    const conn = await Connection.open(this.settings, { delivery: () => true, closed: () => {} });
    try {
      return await ask(conn);
    } finally {
      await conn.end();
    }
  }
}

function asZapwireError(err: unknown): ZapwireError {
  if (err instanceof ZapwireError) return err;
  return new ZapwireError(err instanceof Error ? err.message : String(err), 'ZAPWIRE_ERROR', {
    cause: err,
  });
}

/** docs/protocol.md §Names, as the server checks it: the SDK refuses what the server would. */
function checkGroupName(name: unknown): asserts name is string {
  if (typeof name !== 'string') throw new TypeError('a group name must be a string');
  if (name === '') throw new MalformedRequestError('a group name must not be empty');
  if (Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES)
    throw new TooLargeError(`group name over ${MAX_NAME_BYTES} bytes`);
}

function withStored(error: ZapwireError, storedIds: number[]): SendError {
  return Object.assign(error, { storedIds: [...storedIds] });
}
