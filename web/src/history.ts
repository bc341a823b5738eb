/**
 * The web chat's history in IndexedDB, one database per signed-in number, so
 * that a reload (or the browser closed and opened) shows every conversation
 * as it was. The chat keeps what it shows in memory (chat.ts) and writes each
 * change here before it acknowledges a delivery: a message the server
 * deleted after an `08` is one this browser has on disk.
 */

import type { StoredMessage as ChatMessage } from '../../src/cli/chat/chat-store.js';

export type ChatKind = 'user' | 'group';

export interface Contact {
  /** 13 digits: a user or a group. */
  number: string;
  /** The name shown: the one given when it was added, or the number. */
  nickname: string;
  kind: ChatKind;
  /** Received messages not yet seen. */
  unread: number;
  /** ts of the latest message, for the order of the list (0: none yet). */
  lastTs: number;
  lastText: string;
  /** A group this browser created: its members other than this user. */
  members?: string[];
}

/**
 * The terminal chat's statuses (src/cli/chat/chat-store.ts): an own message
 * goes sending -> stored (✓) -> delivered (✓✓) -> read (blue), or failed; a
 * received one is unread until its conversation was on screen, then read.
 */
export type { MessageStatus } from '../../src/cli/chat/chat-store.js';

/** The terminal chat's message record, and what only the browser keeps. */
export interface StoredMessage extends ChatMessage {
  /** Received: the `lida` this browser owes the sender and has not had stored yet. */
  readReceiptDue?: boolean;
  /** Received: the delivery's identity, to recognise it when the server sends it again. */
  key?: string;
  /** Failed: why (the `09`'s reason). */
  error?: string;
}

export interface Changes {
  contacts?: readonly Contact[];
  messages?: readonly StoredMessage[];
}

const VERSION = 1;

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

function completed(tx: IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error);
    tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
  });
}

function databaseName(number: string): string {
  return `zapwire-${number}`;
}

export class History {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(number: string): Promise<History> {
    const req = indexedDB.open(databaseName(number), VERSION);
    req.onupgradeneeded = () => {
      const db = req.result;
      db.createObjectStore('contacts', { keyPath: 'number' });
      db.createObjectStore('messages', { keyPath: 'id' });
    };
    return new History(await request(req));
  }

  /** Sign-out: nothing of this number stays in the browser. */
  static async remove(number: string): Promise<void> {
    await request(indexedDB.deleteDatabase(databaseName(number)));
  }

  async load(): Promise<{ contacts: Contact[]; messages: StoredMessage[] }> {
    const tx = this.db.transaction(['contacts', 'messages'], 'readonly');
    const [contacts, messages] = await Promise.all([
      request(tx.objectStore('contacts').getAll() as IDBRequest<Contact[]>),
      request(tx.objectStore('messages').getAll() as IDBRequest<StoredMessage[]>),
    ]);
    return { contacts, messages };
  }

  /**
   * Writes the changes in one transaction, flushed to disk before it resolves.
   * Transactions run in the order they were made, so a later change of the
   * same message lands after an earlier one.
   */
  async write(changes: Changes): Promise<void> {
    const tx = this.db.transaction(['contacts', 'messages'], 'readwrite', { durability: 'strict' });
    const done = completed(tx);
    const contacts = tx.objectStore('contacts');
    const messages = tx.objectStore('messages');
    for (const contact of changes.contacts ?? []) contacts.put(contact);
    for (const message of changes.messages ?? []) messages.put(message);
    await done;
  }

  close(): void {
    this.db.close();
  }
}
