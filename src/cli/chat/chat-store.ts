import { chmodSync, closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { SeenStore } from '../../client/deduplicator.js';

/**
 * A conversation partner: a user or a group, with the nickname given here
 * (`''` when none: the server's name is shown then) and the name the server
 * last told (`''` when it has none or was not asked yet).
 */
export interface Contact {
  number: string;
  nickname: string;
  kind: 'user' | 'group';
  name: string;
}

/** A `13` answer kept: a user's registered name or a group's name, as of `at` (Unix seconds). */
export interface CachedName {
  kind: 'user' | 'group';
  name: string;
  at: number;
}

/**
 * Own messages: `sending` (no answer yet), `stored` (07, one check),
 * `delivered` (recebida, two checks), `read` (lida, blue), `failed`.
 * Received messages: `unread`, then `read` once shown.
 */
export type MessageStatus = 'sending' | 'stored' | 'delivered' | 'read' | 'failed' | 'unread';

export interface StoredMessage {
  /** Given by the chat, in the order messages were added: the order they are shown in. */
  id: number;
  /** The conversation: the contact's number, or the group's. */
  chat: string;
  direction: 'in' | 'out';
  sender: string;
  /** Unix seconds as the sender stamped it; receipts name the message by it. */
  ts: number;
  text: string;
  status: MessageStatus;
  /** Received messages: the sender asked for receipts (so opening it sends `lida`). */
  wantsReceipt: boolean;
}

interface MessageRow {
  id: number;
  chat: string;
  direction: 'in' | 'out';
  sender: string;
  ts: number;
  text: string;
  status: MessageStatus;
  wants_receipt: number;
}

/** `<config-dir>/profiles/<profile>.db`, next to the profile's JSON (the original client kept `<number>.db`). */
export function chatDbPath(configDir: string, profile: string): string {
  return join(configDir, 'profiles', `${profile}.db`);
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS contacts (number TEXT PRIMARY KEY, nickname TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('user', 'group')));
CREATE TABLE IF NOT EXISTS messages (id INTEGER PRIMARY KEY AUTOINCREMENT, chat TEXT NOT NULL, direction TEXT NOT NULL CHECK (direction IN ('in', 'out')),
                                     sender TEXT NOT NULL, ts INTEGER NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL,
                                     wants_receipt INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS messages_chat_id ON messages (chat, id);
CREATE TABLE IF NOT EXISTS seen (key TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS names (number TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('user', 'group')),
                                  name TEXT NOT NULL, at INTEGER NOT NULL) WITHOUT ROWID;
`;

/**
 * Steps from one `user_version` to the next, run once each. 1: names arrived
 * (docs/protocol.md §Names); before them the chat filled the nickname itself
 * with the number, or `group …1400` (`by <creator>`), which would now hide
 * the server's name, so those are cleared to mean "no nickname".
 */
const MIGRATIONS: readonly string[] = [
  `UPDATE contacts SET nickname = '' WHERE nickname = number
     OR (kind = 'group' AND (nickname = 'group …' || substr(number, -4)
                             OR nickname LIKE 'group …' || substr(number, -4) || ' by %'))`,
];

const CONTACT_COLUMNS =
  "c.number, c.nickname, c.kind, coalesce(n.name, '') AS name FROM contacts c LEFT JOIN names n ON n.number = c.number";

/** The chat's local history, contacts and the SDK's dedup keys, in one SQLite file per profile. */
export class ChatStore {
  private readonly db: Database.Database;

  /**
   * `path` ':memory:' for tests; a file's folder is created (mode 0700, like
   * the profiles'). The file is made (or made again) mode 0600 before SQLite
   * opens it, whatever the umask: it holds the conversations, and SQLite
   * creates its `-wal` and `-shm` files with the database file's mode.
   */
  constructor(path: string) {
    if (path !== ':memory:') {
      mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
      closeSync(openSync(path, 'a', 0o600));
      chmodSync(path, 0o600);
      for (const extra of [`${path}-wal`, `${path}-shm`])
        if (existsSync(extra)) chmodSync(extra, 0o600);
    }
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.exec(SCHEMA);
    this.migrate();
  }

  /** Brings a history file of an older chat up to MIGRATIONS.length (a new file runs them on empty tables). */
  private migrate(): void {
    this.db
      .transaction(() => {
        const version = this.db.pragma('user_version', { simple: true }) as number;
        for (const step of MIGRATIONS.slice(version)) this.db.exec(step);
        if (version < MIGRATIONS.length) this.db.pragma(`user_version = ${MIGRATIONS.length}`);
      })
      .immediate();
  }

  close(): void {
    this.db.close();
  }

  contacts(): Contact[] {
    return this.db.prepare(`SELECT ${CONTACT_COLUMNS} ORDER BY c.rowid`).all() as Contact[];
  }

  contact(number: string): Contact | undefined {
    return this.db.prepare(`SELECT ${CONTACT_COLUMNS} WHERE c.number = ?`).get(number) as
      | Contact
      | undefined;
  }

  /** Adds a contact, or gives it another nickname (or kind) if it is already there. */
  saveContact(contact: Omit<Contact, 'name'>): void {
    this.db
      .prepare(
        'INSERT INTO contacts (number, nickname, kind) VALUES (?, ?, ?) ON CONFLICT (number) DO UPDATE SET nickname = excluded.nickname, kind = excluded.kind',
      )
      .run(contact.number, contact.nickname, contact.kind);
  }

  /** What the server last said this number's name is, if it was asked. */
  cachedName(number: string): CachedName | undefined {
    return this.db.prepare('SELECT kind, name, at FROM names WHERE number = ?').get(number) as
      | CachedName
      | undefined;
  }

  saveName(number: string, answer: CachedName): void {
    this.db
      .prepare(
        'INSERT INTO names (number, kind, name, at) VALUES (?, ?, ?, ?) ON CONFLICT (number) DO UPDATE SET kind = excluded.kind, name = excluded.name, at = excluded.at',
      )
      .run(number, answer.kind, answer.name, answer.at);
  }

  forgetName(number: string): void {
    this.db.prepare('DELETE FROM names WHERE number = ?').run(number);
  }

  /** The distinct senders of a chat's received messages (a group's members who wrote). */
  senders(chat: string): string[] {
    const rows = this.db
      .prepare("SELECT DISTINCT sender FROM messages WHERE chat = ? AND direction = 'in'")
      .all(chat) as { sender: string }[];
    return rows.map((r) => r.sender);
  }

  addMessage(message: Omit<StoredMessage, 'id'>): StoredMessage {
    const info = this.db
      .prepare(
        'INSERT INTO messages (chat, direction, sender, ts, text, status, wants_receipt) VALUES (?, ?, ?, ?, ?, ?, ?)',
      )
      .run(
        message.chat,
        message.direction,
        message.sender,
        message.ts,
        message.text,
        message.status,
        message.wantsReceipt ? 1 : 0,
      );
    return { ...message, id: Number(info.lastInsertRowid) };
  }

  /** A chat's messages, oldest first. */
  messages(chat: string): StoredMessage[] {
    const rows = this.db
      .prepare('SELECT * FROM messages WHERE chat = ? ORDER BY id')
      .all(chat) as MessageRow[];
    return rows.map(fromRow);
  }

  /** The last `limit` texts sent from this profile, oldest first. */
  sentTexts(limit: number): string[] {
    const rows = this.db
      .prepare("SELECT text FROM messages WHERE direction = 'out' ORDER BY id DESC LIMIT ?")
      .all(limit) as { text: string }[];
    return rows.map((r) => r.text).reverse();
  }

  message(id: number): StoredMessage | undefined {
    const row = this.db.prepare('SELECT * FROM messages WHERE id = ?').get(id) as
      | MessageRow
      | undefined;
    return row ? fromRow(row) : undefined;
  }

  setStatus(id: number, status: MessageStatus): void {
    this.db.prepare('UPDATE messages SET status = ? WHERE id = ?').run(status, id);
  }

  /** Received messages not yet shown, per chat. */
  unreadCounts(): Map<string, number> {
    const rows = this.db
      .prepare(
        "SELECT chat, COUNT(*) AS n FROM messages WHERE direction = 'in' AND status = 'unread' GROUP BY chat",
      )
      .all() as {
      chat: string;
      n: number;
    }[];
    return new Map(rows.map((r) => [r.chat, r.n]));
  }

  /** The SDK's `seen` hook: redeliveries are recognised across restarts. */
  seenStore(): SeenStore {
    const has = this.db.prepare('SELECT 1 FROM seen WHERE key = ?');
    const add = this.db.prepare('INSERT OR IGNORE INTO seen (key) VALUES (?)');
    return {
      has: (key) => has.get(key) !== undefined,
      add: (key) => void add.run(key),
    };
  }
}

function fromRow(row: MessageRow): StoredMessage {
  return {
    id: row.id,
    chat: row.chat,
    direction: row.direction,
    sender: row.sender,
    ts: row.ts,
    text: row.text,
    status: row.status,
    wantsReceipt: row.wants_receipt === 1,
  };
}
