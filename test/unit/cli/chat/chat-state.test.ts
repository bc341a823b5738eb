import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { advance, ChatState } from '../../../../src/cli/chat/chat-state.js';
import { ChatStore, chatDbPath } from '../../../../src/cli/chat/chat-store.js';
import type { Message, Receipt } from '../../../../src/client/deliveries.js';

const SELF = '1000000000001';
const BOB = '2000000000002';
const CAROL = '3000000000003';
const GROUP = '9000000000009';

function message(over: Partial<Message> = {}): Message {
  return {
    type: 'message',
    sender: BOB,
    chat: { kind: 'user', number: BOB },
    ts: 1_700_000_000,
    text: 'hi',
    wantsReceipt: true,
    ...over,
  };
}

function receipt(kind: Receipt['kind'], ts: number, chat = BOB): Receipt {
  return {
    type: 'receipt',
    kind,
    from: BOB,
    chat: { kind: chat === GROUP ? 'group' : 'user', number: chat },
    ts,
    at: ts + 1,
  };
}

const stores: ChatStore[] = [];
const dirs: string[] = [];
function fresh(path = ':memory:'): ChatState {
  const store = new ChatStore(path);
  stores.push(store);
  return new ChatState(store, SELF);
}
afterEach(() => {
  for (const s of stores.splice(0)) {
    try {
      s.close();
    } catch {
      // already closed
    }
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('checkmark transitions', () => {
  it('only move forward: sending → ✓ stored → ✓✓ delivered → read', () => {
    expect(advance('sending', 'stored')).toBe('stored');
    expect(advance('stored', 'delivered')).toBe('delivered');
    expect(advance('delivered', 'read')).toBe('read');
    expect(advance('read', 'delivered')).toBe('read');
    expect(advance('delivered', 'stored')).toBe('delivered');
    // A receipt can overtake the 07: it still counts.
    expect(advance('sending', 'read')).toBe('read');
    expect(advance('failed', 'stored')).toBe('failed');
  });

  it('follows 07, recebida and lida for the own messages of that chat and ts', () => {
    const s = fresh();
    s.addContact(BOB, 'Bob');
    const a = s.sending(BOB, 'one', 1_700_000_000);
    const b = s.sending(BOB, 'two', 1_700_000_005);
    expect(s.messages(BOB).map((m) => m.status)).toEqual(['sending', 'sending']);
    s.stored(a.id);
    s.stored(b.id);
    expect(s.messages(BOB).map((m) => m.status)).toEqual(['stored', 'stored']);
    expect(s.receipt(receipt('recebida', 1_700_000_000))).toBe(1);
    expect(s.messages(BOB).map((m) => m.status)).toEqual(['delivered', 'stored']);
    s.receipt(receipt('lida', 1_700_000_000));
    s.receipt(receipt('recebida', 1_700_000_005));
    expect(s.messages(BOB).map((m) => m.status)).toEqual(['read', 'delivered']);
    // A late recebida does not take the blue checks away; another chat's receipt changes nothing here.
    expect(s.receipt(receipt('recebida', 1_700_000_000))).toBe(0);
    expect(s.receipt(receipt('lida', 1_700_000_005, CAROL))).toBe(0);
    expect(s.messages(BOB).map((m) => m.status)).toEqual(['read', 'delivered']);
  });

  it('marks a failed send, and a later 07 does not revive it', () => {
    const s = fresh();
    const m = s.sending(BOB, 'x', 1);
    s.failed(m.id);
    s.stored(m.id);
    expect(s.messages(BOB)[0]!.status).toBe('failed');
  });
});

describe('conversations and unread counts', () => {
  it('counts unread messages until the conversation is opened, then returns those wanting lida', () => {
    const s = fresh();
    s.addContact(BOB, 'Bob');
    s.received(message({ ts: 1 }), true);
    s.received(message({ ts: 2, wantsReceipt: false }), true);
    expect(s.conversations()).toEqual([
      { number: BOB, nickname: 'Bob', kind: 'user', name: '', unread: 2 },
    ]);
    const answer = s.open(BOB);
    expect(answer.map((m) => m.ts)).toEqual([1]);
    expect(s.conversations()[0]!.unread).toBe(0);
    // Opening again answers nothing twice.
    expect(s.open(BOB)).toEqual([]);
  });

  it('a message into the open conversation is read at once; into another one it is unread', () => {
    const s = fresh();
    s.addContact(BOB, 'Bob');
    s.addContact(CAROL, 'Carol');
    s.open(BOB);
    expect(s.received(message(), true).status).toBe('read');
    const fromCarol = s.received(
      message({ sender: CAROL, chat: { kind: 'user', number: CAROL } }),
      true,
    );
    expect(fromCarol.status).toBe('unread');
    expect(s.received(message(), false).status).toBe('unread');
    expect(s.conversations().map((c) => c.unread)).toEqual([1, 1]);
  });

  it('turns unknown senders and new groups into contacts without a nickname', () => {
    const s = fresh();
    s.received(message(), true);
    s.groupCreated({ type: 'groupCreated', group: GROUP, creator: BOB, ts: 5 });
    s.received(message({ chat: { kind: 'group', number: GROUP } }), true);
    expect(s.conversations()).toEqual([
      { number: BOB, nickname: '', kind: 'user', name: '', unread: 1 },
      { number: GROUP, nickname: '', kind: 'group', name: '', unread: 1 },
    ]);
    s.addContact(BOB, 'Bob');
    expect(s.nameOf(BOB)).toBe('Bob');
    expect(s.nameOf(SELF)).toBe('you');
    expect(s.nameOf(CAROL)).toBe(CAROL);
  });

  it('moves the selection within the list and selects an added contact', () => {
    const s = fresh();
    s.moveSelection(1);
    expect(s.selected).toBe(0);
    s.addContact(BOB, 'Bob');
    s.addContact(CAROL, 'Carol');
    expect(s.selectedConversation()?.nickname).toBe('Carol');
    s.moveSelection(-5);
    expect(s.selectedConversation()?.nickname).toBe('Bob');
    s.moveSelection(9);
    expect(s.selected).toBe(1);
  });
});

describe('persistence', () => {
  it('keeps contacts, history, statuses and seen keys in <config-dir>/profiles/<profile>.db across restarts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zapwire-chat-'));
    dirs.push(dir);
    const path = chatDbPath(dir, 'alice');
    expect(path).toBe(join(dir, 'profiles', 'alice.db'));

    const first = fresh(path);
    first.addContact(BOB, 'Bob');
    const sent = first.sending(BOB, 'olá', 10);
    first.stored(sent.id);
    first.receipt(receipt('recebida', 10));
    first.received(message({ ts: 11, text: 'oi' }), false);
    const seen = new ChatStore(path).seenStore();
    seen.add('key-1');
    stores.at(-1)!.close();

    const again = fresh(path);
    expect(again.conversations()).toEqual([
      { number: BOB, nickname: 'Bob', kind: 'user', name: '', unread: 1 },
    ]);
    expect(again.messages(BOB).map((m) => [m.direction, m.text, m.status])).toEqual([
      ['out', 'olá', 'delivered'],
      ['in', 'oi', 'unread'],
    ]);
    const seenAgain = new ChatStore(path);
    stores.push(seenAgain);
    expect(seenAgain.seenStore().has('key-1')).toBe(true);
    expect(seenAgain.seenStore().has('key-2')).toBe(false);
  });

  it('keeps the history file and its -wal and -shm mode 0600 whatever the umask, also one made 0644 before', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zapwire-chat-'));
    dirs.push(dir);
    const path = chatDbPath(dir, 'alice');
    const previous = process.umask(0o022);
    try {
      const state = fresh(path);
      state.addContact(BOB, 'Bob');
      for (const file of [path, `${path}-wal`, `${path}-shm`])
        expect(statSync(file).mode & 0o777, file).toBe(0o600);
      stores.pop()!.close();
      chmodSync(path, 0o644);
      fresh(path);
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('gives the sent texts, oldest first, for the input line history', () => {
    const state = fresh(':memory:');
    state.sending(BOB, 'one', 1);
    state.received(message({ ts: 2, text: 'not mine' }), false);
    state.sending(CAROL, 'two', 3);
    expect(state.sentLines()).toEqual(['one', 'two']);
    expect(state.sentLines(1)).toEqual(['two']);
  });

  it('learns that a contact recorded as a user is a group when a group message comes from it', () => {
    const state = fresh(':memory:');
    state.addContact(GROUP, GROUP);
    state.received(message({ chat: { kind: 'group', number: GROUP } }), false);
    expect(state.contact(GROUP)?.kind).toBe('group');
  });

  it('clears, once, the nicknames an older chat filled in itself, so the server names show', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zapwire-chat-'));
    dirs.push(dir);
    const path = chatDbPath(dir, 'alice');
    mkdirSync(dirname(path), { recursive: true });
    // A history file as the chat wrote it before names: no names table, user_version 0.
    const old = new Database(path);
    old.exec(
      "CREATE TABLE contacts (number TEXT PRIMARY KEY, nickname TEXT NOT NULL, kind TEXT NOT NULL CHECK (kind IN ('user', 'group')))",
    );
    const add = old.prepare('INSERT INTO contacts VALUES (?, ?, ?)');
    add.run(BOB, BOB, 'user');
    add.run(CAROL, 'Carol', 'user');
    add.run(GROUP, `group …0009 by ${BOB}`, 'group');
    add.run('9000000001400', 'group …1400', 'group');
    add.run('9000000002222', 'Friends', 'group');
    old.close();

    const state = fresh(path);
    expect(state.conversations().map((c) => [c.number, c.nickname])).toEqual([
      [BOB, ''],
      [CAROL, 'Carol'],
      [GROUP, ''],
      ['9000000001400', ''],
      ['9000000002222', 'Friends'],
    ]);
    // Done once: a nickname given later that happens to be the number is the user's choice.
    state.addContact(BOB, BOB);
    stores.pop()!.close();
    expect(fresh(path).contact(BOB)?.nickname).toBe(BOB);
  });
});

describe('names from the server (12), cached in the history', () => {
  it('shows the nickname first, then the name, then the number, for contacts and for group members who are not', () => {
    const s = fresh();
    s.received(message(), false);
    expect(s.nameOf(BOB)).toBe(BOB);
    s.learnedName(BOB, { kind: 'user', name: 'Bob' });
    expect(s.nameOf(BOB)).toBe('Bob');
    expect(s.conversations()).toMatchObject([{ number: BOB, nickname: '', name: 'Bob' }]);
    s.addContact(BOB, 'Bobby');
    expect(s.nameOf(BOB)).toBe('Bobby (Bob)');
    // Carol wrote in a group: she is no contact, her name still shows beside her messages.
    s.learnedName(CAROL, { kind: 'user', name: 'Carol' });
    expect(s.contact(CAROL)).toBeUndefined();
    expect(s.nameOf(CAROL)).toBe('Carol');
    expect(s.labelOf('4000000000004')).toBeUndefined();
    s.forgetName(CAROL);
    expect(s.nameOf(CAROL)).toBe(CAROL);
    expect(s.nameOf(SELF)).toBe('you');
  });

  it('keeps the names across restarts, with when they were told', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zapwire-chat-'));
    dirs.push(dir);
    const path = chatDbPath(dir, 'alice');
    fresh(path).learnedName(GROUP, { kind: 'group', name: 'Família' }, 1_700_000_000);
    stores.pop()!.close();
    expect(fresh(path).cachedName(GROUP)).toEqual({
      kind: 'group',
      name: 'Família',
      at: 1_700_000_000,
    });
  });

  it('lists who wrote in a chat, once each', () => {
    const s = fresh();
    const inGroup = { kind: 'group' as const, number: GROUP };
    s.received(message({ chat: inGroup }), false);
    s.received(message({ chat: inGroup, ts: 2 }), false);
    s.received(message({ chat: inGroup, sender: CAROL }), false);
    s.sending(GROUP, 'mine', 3);
    expect(s.senders(GROUP).sort()).toEqual([BOB, CAROL]);
  });
});
