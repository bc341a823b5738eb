import type { GroupCreated, Message, Receipt } from '../../client/deliveries.js';
import type { NameInfo } from '../../client/zapwire-client.js';
import type { CachedName, ChatStore, Contact, MessageStatus, StoredMessage } from './chat-store.js';
import { label } from './display-name.js';
import { HISTORY_SIZE } from './input-line.js';

/** One row of the left pane. */
export interface Conversation extends Contact {
  unread: number;
}

/** Own messages' statuses, in the order they may move (never backwards). */
const RANK: Record<MessageStatus, number> = {
  failed: -1,
  sending: 0,
  stored: 1,
  delivered: 2,
  read: 3,
  unread: 0,
};

/** The status a receipt brings an own message to: `recebida` two checks, `lida` read. */
export function advance(
  current: MessageStatus,
  to: 'stored' | 'delivered' | 'read',
): MessageStatus {
  if (current === 'failed' && to === 'stored') return current;
  return RANK[to] > RANK[current] ? to : current;
}

/**
 * What the chat knows, apart from how it is drawn: the conversations with
 * their unread counts, the selected and the open one, and each message's
 * status. Every change goes to the store first, so history survives restarts.
 */
export class ChatState {
  /** Index into conversations() of the highlighted row. */
  selected = 0;
  /** The number of the conversation shown on the right, if any. */
  openChat: string | undefined;

  constructor(
    private readonly store: ChatStore,
    readonly self: string,
  ) {}

  conversations(): Conversation[] {
    const unread = this.store.unreadCounts();
    return this.store.contacts().map((c) => ({ ...c, unread: unread.get(c.number) ?? 0 }));
  }

  contact(number: string): Contact | undefined {
    return this.store.contact(number);
  }

  /**
   * The name to show for a number: "you", else its nickname and the server's
   * name (display-name.ts), else the number itself. A group's members who are
   * not contacts are named by what the server told.
   */
  nameOf(number: string): string {
    if (number === this.self) return 'you';
    return this.labelOf(number) ?? number;
  }

  /** A number's nickname and server name (display-name.ts `label`); undefined when neither is known. */
  labelOf(number: string): string | undefined {
    const contact = this.store.contact(number);
    return label(contact ?? { nickname: '', name: this.store.cachedName(number)?.name ?? '' });
  }

  /** Adds a contact (or gives it another nickname; empty for none) and selects it. */
  addContact(number: string, nickname: string, kind: Contact['kind'] = 'user'): void {
    this.store.saveContact({ number, nickname: nickname.trim(), kind });
    this.select(number);
  }

  /** What the server last said of this number's name (undefined: never asked, or forgotten). */
  cachedName(number: string): CachedName | undefined {
    return this.store.cachedName(number);
  }

  /**
   * The server's `13` about a number: kept, and a contact learns from it
   * whether it is a group (`zapwire send` may have recorded one as a user).
   */
  learnedName(number: string, answer: NameInfo, at = Math.floor(Date.now() / 1000)): void {
    this.store.saveName(number, { ...answer, at });
    const contact = this.store.contact(number);
    if (contact && contact.kind !== answer.kind)
      this.store.saveContact({ ...contact, kind: answer.kind });
  }

  /** The server will not say (no longer a member, no such number): the number is shown again. */
  forgetName(number: string): void {
    this.store.forgetName(number);
  }

  /** Who wrote in a chat (for a group, the members whose names are shown beside their messages). */
  senders(chat: string): string[] {
    return this.store.senders(chat);
  }

  select(number: string): void {
    const index = this.conversations().findIndex((c) => c.number === number);
    if (index >= 0) this.selected = index;
  }

  moveSelection(delta: number): void {
    const n = this.conversations().length;
    if (n === 0) return;
    this.selected = Math.min(n - 1, Math.max(0, this.selected + delta));
  }

  selectedConversation(): Conversation | undefined {
    return this.conversations()[this.selected];
  }

  messages(chat: string): StoredMessage[] {
    return this.store.messages(chat);
  }

  /** The texts this user sent, oldest first: the input line's ↑ history. */
  sentLines(limit = HISTORY_SIZE): string[] {
    return this.store.sentTexts(limit);
  }

  /**
   * Opens a conversation: its received messages count as read. Returns those
   * that asked for receipts, for the caller to answer with `lida` (markRead).
   */
  open(chat: string): StoredMessage[] {
    this.openChat = chat;
    this.select(chat);
    return this.readAll(chat);
  }

  /** Marks every unread received message of `chat` read; returns those whose sender wants a `lida`. */
  readAll(chat: string): StoredMessage[] {
    const toAnswer: StoredMessage[] = [];
    for (const m of this.store.messages(chat)) {
      if (m.direction !== 'in' || m.status !== 'unread') continue;
      this.store.setStatus(m.id, 'read');
      if (m.wantsReceipt) toAnswer.push({ ...m, status: 'read' });
    }
    return toAnswer;
  }

  /**
   * A message arrived (push). Unknown senders and groups become contacts
   * without a nickname (their number, or the server's name once known, is
   * shown). Returns the stored message; it is `unread` unless its
   * conversation is open and `visible` (then the caller answers with `lida`).
   */
  received(message: Message, visible: boolean): StoredMessage {
    const chat = message.chat.number;
    const known = this.store.contact(chat);
    if (!known) {
      this.store.saveContact({ number: chat, nickname: '', kind: message.chat.kind });
    } else if (known.kind !== message.chat.kind) {
      // `zapwire send` to a group records it as a user (a number does not say which it is); a message into it does.
      this.store.saveContact({ ...known, kind: message.chat.kind });
    }
    const shown = visible && this.openChat === chat;
    return this.store.addMessage({
      chat,
      direction: 'in',
      sender: message.sender,
      ts: message.ts,
      text: message.text,
      status: shown ? 'read' : 'unread',
      wantsReceipt: message.wantsReceipt,
    });
  }

  /** This user was made a member of a group: it appears in the list (by its name once the server tells it). */
  groupCreated(event: GroupCreated): void {
    if (this.store.contact(event.group)) return;
    this.store.saveContact({ number: event.group, nickname: '', kind: 'group' });
  }

  /** An own message about to be sent: shown at once, without a check. */
  sending(chat: string, text: string, ts: number): StoredMessage {
    return this.store.addMessage({
      chat,
      direction: 'out',
      sender: this.self,
      ts,
      text,
      status: 'sending',
      wantsReceipt: true,
    });
  }

  /**
   * A text sent from outside the chat (`zapwire send`) that the server stored:
   * one check. An unknown number becomes a contact without a nickname (a
   * user: a number does not say it is a group until the server's name or a
   * message from the group does).
   */
  sentElsewhere(chat: string, text: string, ts: number): StoredMessage {
    if (!this.store.contact(chat))
      this.store.saveContact({ number: chat, nickname: '', kind: 'user' });
    const m = this.sending(chat, text, ts);
    this.stored(m.id);
    return { ...m, status: 'stored' };
  }

  /** The server stored it (07): one check. */
  stored(id: number): void {
    const m = this.find(id);
    if (m) this.store.setStatus(id, advance(m.status, 'stored'));
  }

  failed(id: number): void {
    const m = this.find(id);
    if (m && m.status === 'sending') this.store.setStatus(id, 'failed');
  }

  /**
   * `recebida` / `lida` for the own messages of that chat stamped `ts`: two
   * checks, or read. Returns how many messages changed.
   */
  receipt(receipt: Receipt): number {
    const to = receipt.kind === 'lida' ? 'read' : 'delivered';
    let changed = 0;
    for (const m of this.store.messages(receipt.chat.number)) {
      if (m.direction !== 'out' || m.ts !== receipt.ts) continue;
      const next = advance(m.status, to);
      if (next !== m.status) {
        this.store.setStatus(m.id, next);
        changed++;
      }
    }
    return changed;
  }

  private find(id: number): StoredMessage | undefined {
    return this.store.message(id);
  }
}
