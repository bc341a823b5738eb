import { advance } from '../../src/cli/chat/chat-state.js';
import {
  type GroupCreated,
  type Message,
  type Receipt,
  readReceiptText,
  toDelivery,
} from '../../src/client/deliveries.js';
import { ConnectionError } from '../../src/errors.js';
import { Code } from '../../src/protocol/codes.js';
import {
  type Frame,
  type FrameInit,
  isNumber,
  MAX_GROUP_MEMBERS,
} from '../../src/protocol/frame.js';
import { splitText } from '../../src/protocol/text.js';
import type { Changes, Contact, History, StoredMessage } from './history.js';

/** What the chat needs of the session: requests on it, answered or refused. */
export interface Requests {
  request(init: Omit<FrameInit, 'src'>, answer: Code): Promise<Frame>;
}

/** What changed, for the views to draw again. */
export type Change = { kind: 'contacts' } | { kind: 'messages'; chat: string };

/** A delivery's identity as the SDK has it (src/client/deduplicator.ts), without hashing. */
function deliveryKey(frame: Pick<Frame, 'src' | 'dst' | 'ts' | 'flag' | 'data'>): string {
  return `${frame.src}${frame.dst}${String(frame.ts).padStart(10, '0')}${frame.flag ? '1' : '0'}${frame.data}`;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function groupNickname(group: string): string {
  return `group …${group.slice(-4)}`;
}

/**
 * What the web chat knows, apart from how it is drawn: contacts with unread
 * counts, each conversation's messages and their checkmarks, and what is still
 * owed to the server (messages to send, `lida` receipts). Every change is made
 * in memory at once and written to IndexedDB in the same order, before a
 * delivery is acknowledged.
 */
export class Chat {
  readonly contacts = new Map<string, Contact>();
  private readonly messages = new Map<string, StoredMessage[]>();
  /** Delivery keys -> the session generation that took them (0: an earlier page load). */
  private readonly seen = new Map<string, number>();
  private readonly sending = new Set<number>();
  private readonly receiptsSending = new Set<string>();
  private readonly listeners: ((change: Change) => void)[] = [];
  private nextId = 1;
  private generation = 0;
  private openChat: string | undefined;
  private visible = true;
  private session: Requests | undefined;

  constructor(
    readonly self: string,
    private readonly history: History,
  ) {}

  async load(): Promise<void> {
    const { contacts, messages } = await this.history.load();
    for (const contact of contacts) this.contacts.set(contact.number, contact);
    messages.sort((a, b) => a.id - b.id);
    for (const message of messages) {
      this.list(message.chat).push(message);
      if (message.key !== undefined) this.seen.set(message.key, 0);
      this.nextId = Math.max(this.nextId, message.id + 1);
    }
  }

  onChange(listener: (change: Change) => void): void {
    this.listeners.push(listener);
  }

  /** Contacts and groups, the most recent conversation first. */
  conversations(): Contact[] {
    return [...this.contacts.values()].sort(
      (a, b) => b.lastTs - a.lastTs || a.nickname.localeCompare(b.nickname),
    );
  }

  messagesOf(chat: string): readonly StoredMessage[] {
    return this.messages.get(chat) ?? [];
  }

  /** The name to show for a number: its nickname, "you", or the number itself. */
  nameOf(number: string): string {
    if (number === this.self) return 'you';
    return this.contacts.get(number)?.nickname ?? number;
  }

  // The session.

  /** The session (re)opened: new generation, then what waited goes out, in the order it was written. */
  opened(session: Requests): void {
    this.session = session;
    this.generation++;
    const all = [...this.messages.values()].flat().sort((a, b) => a.id - b.id);
    for (const message of all) if (message.status === 'sending') void this.transmit(message);
    void this.sendReadReceipts();
  }

  /** A `06`: kept (written to IndexedDB) before the promise resolves, so the session may acknowledge it. */
  async delivered(frame: Frame): Promise<void> {
    const delivery = toDelivery(frame, this.self);
    if (delivery.type === 'receipt') return this.receipt(delivery);
    if (delivery.type === 'groupCreated') return this.groupCreated(delivery);
    const key = deliveryKey(frame);
    // docs/protocol.md §Delivery guarantees: what was not acknowledged comes again in the next session.
    if (this.redelivered(key)) return;
    await this.received(delivery, key);
  }

  /**
   * The same rule as the SDK's Deduplicator: a key taken on this connection
   * again is a second identical message; one taken earlier is a redelivery.
   */
  private redelivered(key: string): boolean {
    const seenOn = this.seen.get(key);
    this.seen.set(key, this.generation);
    return seenOn !== undefined && seenOn !== this.generation;
  }

  private async received(message: Message, key: string): Promise<void> {
    const chat = message.chat.number;
    const contact = this.contactFor(chat, message.chat.kind);
    const shown = this.isShown(chat);
    const stored: StoredMessage = {
      id: this.nextId++,
      chat,
      direction: 'in',
      sender: message.sender,
      ts: message.ts,
      text: message.text,
      status: shown ? 'read' : 'unread',
      wantsReceipt: message.wantsReceipt,
      readReceiptDue: shown && message.wantsReceipt,
      key,
    };
    this.list(chat).push(stored);
    contact.lastTs = Math.max(contact.lastTs, message.ts);
    contact.lastText = message.text;
    if (!shown) contact.unread++;
    await this.write({ contacts: [contact], messages: [stored] }, chat);
    if (stored.readReceiptDue) void this.sendReadReceipts();
  }

  /** `recebida` / `lida`: own messages of that chat stamped `ts` get two checks, or blue. */
  private async receipt(receipt: Receipt): Promise<void> {
    const to = receipt.kind === 'lida' ? 'read' : 'delivered';
    const changed: StoredMessage[] = [];
    for (const message of this.messagesOf(receipt.chat.number)) {
      if (message.direction !== 'out' || message.ts !== receipt.ts) continue;
      const next = advance(message.status, to);
      if (next === message.status) continue;
      message.status = next;
      changed.push(message);
    }
    if (changed.length > 0) await this.write({ messages: changed }, receipt.chat.number);
  }

  private async groupCreated(event: GroupCreated): Promise<void> {
    if (this.contacts.has(event.group)) return;
    const contact = this.contactFor(event.group, 'group');
    contact.lastTs = event.ts;
    contact.lastText = `created by ${this.nameOf(event.creator)}`;
    await this.write({ contacts: [contact] });
  }

  // What the person does.

  /** Opens a conversation (or none); what it shows counts as read if the page is visible. */
  open(chat: string | undefined): void {
    this.openChat = chat;
    if (chat !== undefined) void this.markRead(chat);
  }

  /** The page became visible or hidden (document.visibilityState). */
  setVisible(visible: boolean): void {
    this.visible = visible;
    if (visible && this.openChat !== undefined) void this.markRead(this.openChat);
  }

  /** Sends text to a contact or group: shown at once, one message per frame it needs. */
  async send(chat: string, text: string): Promise<void> {
    if (text.trim() === '' || !this.contacts.has(chat)) return;
    const ts = nowSeconds();
    const parts: StoredMessage[] = splitText(text).map((part) => ({
      id: this.nextId++,
      chat,
      direction: 'out',
      sender: this.self,
      ts,
      text: part,
      status: 'sending',
      wantsReceipt: true,
    }));
    this.list(chat).push(...parts);
    const contact = this.contacts.get(chat)!;
    contact.lastTs = Math.max(contact.lastTs, ts);
    contact.lastText = text;
    const written = this.write({ contacts: [contact], messages: parts }, chat);
    for (const part of parts) void this.transmit(part);
    await written;
  }

  /** Adds (or renames) a contact, once the server says the number is registered (`19` -> `20`). */
  async addContact(number: string, nickname: string): Promise<void> {
    if (!isNumber(number)) throw new Error('a number is 13 digits');
    if (number === this.self) throw new Error('that is your own number');
    const answer = await this.need().request({ code: Code.IsValid, dst: number }, Code.Validity);
    if (answer.data !== '1') throw new Error(`${number} is not a zapwire number`);
    const contact = this.contactFor(number, 'user');
    contact.nickname = nickname.trim() || number;
    await this.write({ contacts: [contact] });
  }

  /** Creates a group of this user and `members` (`10` -> `11`), named `name` in this browser. */
  async createGroup(name: string, members: readonly string[]): Promise<string> {
    if (members.length === 0) throw new Error('choose at least one member');
    if (members.length > MAX_GROUP_MEMBERS)
      throw new Error(`a group has at most ${MAX_GROUP_MEMBERS} other members`);
    const ts = nowSeconds();
    const answer = await this.need().request(
      { code: Code.CreateGroup, ts, data: members.join('') },
      Code.GroupCreated,
    );
    const contact = this.contactFor(answer.dst, 'group');
    contact.nickname = name.trim() || groupNickname(answer.dst);
    contact.members = [...members];
    contact.lastTs = ts;
    contact.lastText = 'group created';
    await this.write({ contacts: [contact] });
    return answer.dst;
  }

  // Internals.

  private need(): Requests {
    if (!this.session) throw new ConnectionError('offline');
    return this.session;
  }

  private isShown(chat: string): boolean {
    return this.visible && this.openChat === chat;
  }

  private list(chat: string): StoredMessage[] {
    let list = this.messages.get(chat);
    if (!list) this.messages.set(chat, (list = []));
    return list;
  }

  /** The contact of a number, made (named by its number) when a message from it is the first news of it. */
  private contactFor(number: string, kind: Contact['kind']): Contact {
    let contact = this.contacts.get(number);
    if (!contact) {
      contact = {
        number,
        nickname: kind === 'group' ? groupNickname(number) : number,
        kind,
        unread: 0,
        lastTs: 0,
        lastText: '',
      };
      this.contacts.set(number, contact);
    }
    return contact;
  }

  /** The conversation is on screen: its received messages are read, and those that asked get a `lida`. */
  private async markRead(chat: string): Promise<void> {
    if (!this.isShown(chat)) return;
    const changed: StoredMessage[] = [];
    for (const message of this.messagesOf(chat)) {
      if (message.direction !== 'in' || message.status !== 'unread') continue;
      message.status = 'read';
      message.readReceiptDue = message.wantsReceipt;
      changed.push(message);
    }
    const contact = this.contacts.get(chat);
    const contacts = contact && contact.unread > 0 ? [contact] : [];
    if (contact) contact.unread = 0;
    if (changed.length === 0 && contacts.length === 0) return;
    await this.write({ contacts, messages: changed }, chat);
    void this.sendReadReceipts();
  }

  /** One `05` `lida <ts>` per conversation and ts still owed (docs/protocol.md §Receipts); kept owed until stored. */
  private async sendReadReceipts(): Promise<void> {
    const session = this.session;
    if (!session) return;
    for (const [chat, messages] of this.messages) {
      const due = new Set(messages.filter((m) => m.readReceiptDue).map((m) => m.ts));
      for (const ts of due) {
        const id = `${chat}:${ts}`;
        if (this.receiptsSending.has(id)) continue;
        this.receiptsSending.add(id);
        session
          .request(
            { code: Code.Send, dst: chat, ts: nowSeconds(), data: readReceiptText(ts) },
            Code.Stored,
          )
          .then(
            () => {
              const paid = messages.filter((m) => m.readReceiptDue && m.ts === ts);
              for (const message of paid) message.readReceiptDue = false;
              return this.write({ messages: paid });
            },
            () => {},
          )
          .finally(() => this.receiptsSending.delete(id));
      }
    }
  }

  /** Sends an own message (`05` with receipts asked); a lost connection leaves it to the next session. */
  private async transmit(message: StoredMessage): Promise<void> {
    if (this.sending.has(message.id) || !this.session) return;
    this.sending.add(message.id);
    try {
      await this.session.request(
        { code: Code.Send, dst: message.chat, ts: message.ts, flag: true, data: message.text },
        Code.Stored,
      );
      message.status = advance(message.status, 'stored');
    } catch (err) {
      if (err instanceof ConnectionError) return;
      message.status = 'failed';
      message.error = err instanceof Error ? err.message : String(err);
    } finally {
      this.sending.delete(message.id);
    }
    await this.write({ messages: [message] }, message.chat);
  }

  private async write(changes: Changes, chat?: string): Promise<void> {
    // Shown at once; on disk in the same order.
    const written = this.history.write(changes);
    if (changes.contacts?.length) this.emit({ kind: 'contacts' });
    if (chat !== undefined) this.emit({ kind: 'messages', chat });
    await written;
  }

  private emit(change: Change): void {
    for (const listener of this.listeners) listener(change);
  }
}
