import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChatApp } from '../../../../src/cli/chat/chat-app.js';
import { ChatState } from '../../../../src/cli/chat/chat-state.js';
import { ChatStore } from '../../../../src/cli/chat/chat-store.js';
import { render } from '../../../../src/cli/chat/render.js';
import type { Key } from '../../../../src/cli/chat/terminal.js';
import type { ZapwireClient } from '../../../../src/client/zapwire-client.js';
import { ForbiddenError, NotFoundError, RateLimitError } from '../../../../src/errors.js';

const SELF = '1000000000001';
const BOB = '2000000000002';
const CAROL = '3000000000003';
const GROUP = '9000000000009';

/** The SDK surface the app uses, recorded. */
class FakeClient extends EventEmitter {
  sent: { to: string; text: string; ts: number | undefined }[] = [];
  read: { chat: string; ts: number }[] = [];
  groups: { members: string[]; name: string | undefined }[] = [];
  valid = new Set([BOB, CAROL]);
  /** What `12` answers: a NameInfo, or the error it rejects with. */
  names = new Map<string, { kind: 'user' | 'group'; name: string } | Error>();
  askedNames: string[] = [];
  /** What `14` does: resolve with the name, or reject with this error. */
  renameError: Error | undefined;
  renamed: { group: string; name: string }[] = [];
  async send(to: string, text: string, options: { ts?: number } = {}) {
    this.sent.push({ to, text, ts: options.ts });
    return { id: this.sent.length, ids: [this.sent.length], ts: options.ts ?? 0 };
  }
  async markRead(m: { chat: { number: string }; ts: number; wantsReceipt: boolean }) {
    if (m.wantsReceipt) this.read.push({ chat: m.chat.number, ts: m.ts });
    return 1;
  }
  async isValid(n: string) {
    return this.valid.has(n);
  }
  async createGroup(members: string[], options: { name?: string } = {}) {
    this.groups.push({ members, name: options.name });
    if (options.name !== undefined) this.names.set(GROUP, { kind: 'group', name: options.name });
    return GROUP;
  }
  async nameOf(n: string) {
    this.askedNames.push(n);
    const answer = this.names.get(n);
    if (answer instanceof Error) throw answer;
    if (!answer) throw new NotFoundError('unknown number');
    return answer;
  }
  async nameGroup(group: string, name: string) {
    if (this.renameError) throw this.renameError;
    this.renamed.push({ group, name });
    this.names.set(group, { kind: 'group', name });
    return name;
  }
}

const stores: ChatStore[] = [];
afterEach(() => {
  for (const s of stores.splice(0)) s.close();
});

function setup({ rows = 24, noticeMs = 5_000, store = new ChatStore(':memory:') } = {}) {
  stores.push(store);
  const state = new ChatState(store, SELF);
  const client = new FakeClient();
  const frames: string[] = [];
  const quit = vi.fn();
  const app = new ChatApp(
    client as unknown as ZapwireClient,
    state,
    { cols: 80, rows, write: (f) => frames.push(f) },
    'Alice',
    quit,
    noticeMs,
  );
  const screen = () => (frames.at(-1) ?? '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '\n');
  /** The input line as drawn (the row above the footer). */
  const inputRow = () => render(app.view())[rows - 2]!.trimEnd();
  const type = (text: string) => {
    for (const ch of text) app.key(ch, { name: ch, sequence: ch });
  };
  const press = (key: Key, str?: string) => app.key(str, key);
  const flush = () => new Promise((r) => setTimeout(r, 0));
  return { app, state, client, quit, screen, inputRow, type, press, flush };
}

const ENTER: Key = { name: 'return' };

describe('ChatApp', () => {
  it('adds a contact after the server says the number is valid, then sends to it', async () => {
    const { state, client, screen, type, press, flush } = setup();
    press({ name: 'n', ctrl: true });
    expect(screen()).toContain('New contact number');
    type('9999999999999');
    press(ENTER);
    await flush();
    expect(screen()).toContain('not a zapwire number');
    press({ name: 'escape' });
    press({ name: 'n', ctrl: true });
    type(BOB);
    press(ENTER);
    await flush();
    expect(screen()).toContain('Nickname (Enter for none):');
    type('Bob');
    press(ENTER);
    await flush();
    expect(state.conversations()).toEqual([
      { number: BOB, nickname: 'Bob', kind: 'user', name: '', unread: 0 },
    ]);
    expect(state.openChat).toBe(BOB);

    type('olá');
    press(ENTER);
    expect(state.messages(BOB)[0]).toMatchObject({ text: 'olá', status: 'sending' });
    await flush();
    expect(client.sent).toEqual([{ to: BOB, text: 'olá', ts: state.messages(BOB)[0]!.ts }]);
    expect(state.messages(BOB)[0]!.status).toBe('stored');
    client.emit('receipt', {
      type: 'receipt',
      kind: 'recebida',
      from: BOB,
      chat: { kind: 'user', number: BOB },
      ts: client.sent[0]!.ts,
      at: 1,
    });
    expect(state.messages(BOB)[0]!.status).toBe('delivered');
    expect(screen()).toContain('olá ✓✓');
  });

  it('sends lida when a conversation is opened, and at once for messages into the open one', async () => {
    const { state, client, press } = setup();
    const msg = (ts: number, wantsReceipt = true) => ({
      type: 'message',
      sender: BOB,
      chat: { kind: 'user', number: BOB },
      ts,
      text: `m${ts}`,
      wantsReceipt,
    });
    client.emit('message', msg(1));
    client.emit('message', msg(2, false));
    expect(state.conversations()[0]!.unread).toBe(2);
    expect(client.read).toEqual([]);
    press(ENTER); // the list has focus: open the selected chat
    expect(client.read).toEqual([{ chat: BOB, ts: 1 }]);
    client.emit('message', msg(3));
    expect(client.read).toEqual([
      { chat: BOB, ts: 1 },
      { chat: BOB, ts: 3 },
    ]);
    expect(state.conversations()[0]!.unread).toBe(0);
  });

  it('creates a group from contacts named by nickname', async () => {
    const { state, client, type, press, screen, flush } = setup();
    state.addContact(BOB, 'Bob');
    state.addContact(CAROL, 'Carol');
    press({ name: 'g', ctrl: true });
    type('Friends');
    press(ENTER);
    type('bob, Carol, nobody');
    press(ENTER);
    await flush();
    expect(screen()).toContain('no contact "nobody"');
    for (let i = 0; i < 8; i++) press({ name: 'backspace' });
    press(ENTER);
    await flush();
    // The name is the group's on the server (every member sees it), not a nickname of this user's.
    expect(client.groups).toEqual([{ members: [BOB, CAROL], name: 'Friends' }]);
    expect(state.contact(GROUP)).toEqual({
      number: GROUP,
      nickname: '',
      kind: 'group',
      name: 'Friends',
    });
    expect(state.openChat).toBe(GROUP);
  });

  it('moves the selection with ↑/↓, switches panes with Tab, quits on Ctrl-C and Ctrl-Q', () => {
    const { state, quit, press } = setup();
    state.addContact(BOB, 'Bob');
    state.addContact(CAROL, 'Carol');
    press({ name: 'up' });
    expect(state.selectedConversation()?.nickname).toBe('Bob');
    press({ name: 'down' });
    expect(state.selectedConversation()?.nickname).toBe('Carol');
    press({ name: 'tab' });
    press({ name: 'q', ctrl: true });
    expect(quit).toHaveBeenCalledTimes(1);
  });

  it('clears a refused number from the field, so the next one is typed afresh', async () => {
    const { screen, inputRow, type, press, flush } = setup();
    press({ name: 'n', ctrl: true });
    type('12345');
    press(ENTER);
    await flush();
    expect(screen()).toContain('12345 is not a 13-digit number');
    expect(inputRow()).toBe('New contact number (13 digits, Esc cancels):');
    type('9999999999999');
    press(ENTER);
    await flush();
    expect(screen()).toContain('9999999999999 is not a zapwire number');
    expect(inputRow()).toBe('New contact number (13 digits, Esc cancels):');
    type(BOB);
    press(ENTER);
    await flush();
    expect(screen()).toContain('Nickname (Enter for none):');
  });

  it('lets a header notice fade, but keeps the one that says the session is over', async () => {
    const { app, client, screen } = setup({ noticeMs: 20 });
    app.setNotice('contact Bob added');
    expect(screen()).toContain('contact Bob added');
    await new Promise((r) => setTimeout(r, 60));
    expect(screen()).not.toContain('contact Bob added');
    client.emit('close', { error: new Error('session replaced by a newer one') });
    await new Promise((r) => setTimeout(r, 60));
    expect(screen()).toContain('session replaced by a newer one (^Q quits)');
    app.stop();
  });

  it('edits the input line like a shell and recalls sent lines with ↑ when it is empty', async () => {
    const { state, client, inputRow, type, press, flush } = setup();
    state.addContact(BOB, 'Bob');
    press(ENTER); // open Bob
    type('hello there world');
    press({ name: 'w', ctrl: true });
    expect(inputRow()).toBe('> hello there');
    press({ name: 'home' });
    type('oh ');
    press({ name: 'end' });
    type('!');
    expect(inputRow()).toBe('> oh hello there !');
    press({ name: 'u', ctrl: true });
    expect(inputRow()).toBe('>');
    type('first');
    press(ENTER);
    type('second');
    press(ENTER);
    await flush();
    expect(client.sent.map((m) => m.text)).toEqual(['first', 'second']);
    press({ name: 'up' });
    expect(inputRow()).toBe('> second');
    press({ name: 'up' });
    expect(inputRow()).toBe('> first');
    press({ name: 'down' });
    press({ name: 'down' });
    expect(inputRow()).toBe('>');
    // The selection does not move while typing: Tab goes back to the list for that.
    expect(state.selectedConversation()?.nickname).toBe('Bob');
  });

  it('refuses a text over 4,096 bytes in one line, keeping it to be shortened', () => {
    const { state, client, screen, inputRow, press, app } = setup();
    state.addContact(BOB, 'Bob');
    press(ENTER);
    app.key('x'.repeat(4_097), { name: undefined, sequence: 'x' });
    press(ENTER);
    expect(client.sent).toEqual([]);
    expect(screen()).toContain('not sent: text too long: 4,097 bytes, at most 4,096');
    expect(inputRow()).toMatch(/^> x+$/);
    press({ name: 'backspace' });
    press(ENTER);
    expect(client.sent).toHaveLength(1);
  });

  it('scrolls the conversation back with PgUp and forward with PgDn', () => {
    const { state, client, screen, press } = setup({ rows: 12 });
    state.addContact(BOB, 'Bob');
    for (let ts = 1; ts <= 30; ts++)
      client.emit('message', {
        type: 'message',
        sender: BOB,
        chat: { kind: 'user', number: BOB },
        ts,
        text: `line ${ts}`,
        wantsReceipt: false,
      });
    press(ENTER);
    expect(screen()).toContain('line 30');
    expect(screen()).not.toContain('line 22\n');
    press({ name: 'pageup' });
    expect(screen()).toContain('line 22');
    expect(screen()).not.toContain('line 30');
    for (let i = 0; i < 10; i++) press({ name: 'pageup' });
    expect(screen()).toContain('line 1 ');
    press({ name: 'pagedown' });
    press({ name: 'pagedown' });
    press({ name: 'pagedown' });
    press({ name: 'pagedown' });
    expect(screen()).toContain('line 30');
  });
});

describe('ChatApp names (docs/protocol.md §Names)', () => {
  const fromBob = (
    ts: number,
    chat: { kind: 'user' | 'group'; number: string } = { kind: 'user', number: BOB },
  ) => ({
    type: 'message',
    sender: BOB,
    chat,
    ts,
    text: `m${ts}`,
    wantsReceipt: false,
  });
  /** The screen's rows without styles, runs of spaces as one. */
  const rows = (app: ChatApp) =>
    render(app.view()).map((l) => l.replace(/\x1b\[[0-9;]*m/g, '').replace(/ +/g, ' '));
  /** The conversation header (the right pane's first row). */
  const header = (app: ChatApp) => rows(app)[1]!.split('│')[1]!.trim();
  /** The left pane's rows of conversations. */
  const list = (app: ChatApp) =>
    rows(app)
      .slice(2, 6)
      .map((l) => l.split('│')[0]!.trim());

  it('shows someone who wrote by the name they registered, without a nickname, and the number in the header', async () => {
    const { app, client, press, flush } = setup();
    client.names.set(BOB, { kind: 'user', name: 'Bob' });
    client.emit('message', fromBob(1));
    await flush();
    expect(client.askedNames).toEqual([BOB]);
    expect(list(app)[0]).toBe('> Bob (1)');
    press(ENTER);
    await flush();
    expect(header(app)).toBe('Bob · 2000000000002');
    expect(render(app.view()).join('\n')).toMatch(/\d\d:\d\d Bob: m1/);
    // A second message asks nothing more: the name is in the history.
    const asked = client.askedNames.length;
    client.emit('message', fromBob(2));
    await flush();
    expect(client.askedNames).toHaveLength(asked);
  });

  it('puts a nickname first, and shows the number when nobody has a name', async () => {
    const { app, state, client, press, flush } = setup();
    client.names.set(BOB, { kind: 'user', name: 'Robert' });
    client.names.set(CAROL, { kind: 'user', name: '' });
    state.addContact(BOB, 'Bob');
    state.addContact(CAROL, '');
    app.setOnline(true);
    await flush();
    expect(list(app).slice(0, 2)).toEqual(['Bob (Robert)', `> ${CAROL}`]);
    press(ENTER);
    expect(header(app)).toBe(CAROL);
  });

  it('shows a group by its name once the creator has named it, marked #, else as #group …0009', async () => {
    const { app, client, flush } = setup();
    client.names.set(CAROL, { kind: 'user', name: 'Carol' });
    // The creator names the group just after 10: asked at once, it has no name yet.
    client.names.set(GROUP, { kind: 'group', name: '' });
    client.emit('groupCreated', { type: 'groupCreated', group: GROUP, creator: CAROL, ts: 1 });
    await flush();
    expect(list(app)[0]).toBe('>#group …0009');
    expect(render(app.view())[0]).toContain('Carol added you to a group');
    client.names.set(GROUP, { kind: 'group', name: 'Família' });
    client.emit('message', fromBob(2, { kind: 'group', number: GROUP }));
    await flush();
    expect(list(app)[0]).toBe('># Família (1)');
    // Named now: more messages do not ask again.
    const asked = client.askedNames.filter((n) => n === GROUP).length;
    client.emit('message', fromBob(3, { kind: 'group', number: GROUP }));
    await flush();
    expect(client.askedNames.filter((n) => n === GROUP)).toHaveLength(asked);
  });

  it('learns a rename when the conversation is opened, and when the chat is online again', async () => {
    const { app, state, client, press, flush } = setup();
    state.addContact(GROUP, '', 'group');
    client.names.set(GROUP, { kind: 'group', name: 'Família' });
    app.setOnline(true);
    await flush();
    expect(list(app)[0]).toBe('># Família');
    client.names.set(GROUP, { kind: 'group', name: 'Churrasco' });
    press(ENTER);
    await flush();
    expect(header(app)).toBe(`# Churrasco · ${GROUP}`);
    client.names.set(GROUP, { kind: 'group', name: 'Praia' });
    client.emit('reconnect');
    await flush();
    expect(header(app)).toBe(`# Praia · ${GROUP}`);
    // No longer a member: the number again.
    client.names.set(GROUP, new ForbiddenError('not a member'));
    press({ name: 'tab' });
    press(ENTER);
    await flush();
    expect(header(app)).toBe(`#group …0009 · ${GROUP}`);
  });

  it('/name renames the open group (14) and the header shows the name stored; it is no message', async () => {
    const { app, state, client, type, press, flush, inputRow } = setup();
    state.addContact(GROUP, '', 'group');
    press(ENTER);
    type('/name Família 🎉');
    press(ENTER);
    await flush();
    expect(client.renamed).toEqual([{ group: GROUP, name: 'Família 🎉' }]);
    expect(client.sent).toEqual([]);
    expect(header(app)).toBe(`# Família 🎉 · ${GROUP}`);
    expect(render(app.view())[0]).toContain('group named Família 🎉');
    expect(inputRow()).toBe('>');
    // A line that only starts like it is a message.
    type('/names are fun');
    press(ENTER);
    await flush();
    expect(client.sent.map((m) => m.text)).toEqual(['/names are fun']);
  });

  it('/name refused by the server (403, 429) or locally is a notice that fades', async () => {
    const { app, state, client, type, press, flush, screen } = setup({ noticeMs: 20 });
    state.addContact(GROUP, '', 'group');
    state.addContact(BOB, 'Bob');
    press({ name: 'up' });
    press(ENTER);
    client.renameError = new ForbiddenError('not a member');
    type('/name Família');
    press(ENTER);
    await flush();
    expect(screen()).toContain('not renamed: 403 not a member');
    await new Promise((r) => setTimeout(r, 60));
    expect(screen()).not.toContain('not renamed');
    client.renameError = new RateLimitError('too many groups');
    type('/name Família');
    press(ENTER);
    await flush();
    expect(screen()).toContain('not renamed: 429 too many groups');
    client.renameError = undefined;
    for (const [line, notice] of [
      ['/name', 'not renamed: empty name'],
      [`/name ${'é'.repeat(33)}`, 'not renamed: name too long: 66 bytes, at most 64'],
    ] as const) {
      press({ name: 'u', ctrl: true });
      type(line);
      press(ENTER);
      await flush();
      expect(screen()).toContain(notice);
    }
    expect(client.renamed).toEqual([]);
    // In a conversation with a person there is no group to name.
    press({ name: 'u', ctrl: true });
    press({ name: 'tab' });
    press({ name: 'down' });
    press(ENTER);
    type('/name Bobby');
    press(ENTER);
    await flush();
    expect(screen()).toContain('/name names a group');
    expect(client.sent).toEqual([]);
    app.stop();
  });

  it('keeps the name as a nickname when the group was created but its name refused', async () => {
    const { state, client, type, press, flush, screen } = setup();
    state.addContact(BOB, 'Bob');
    client.createGroup = async () => {
      throw Object.assign(new RateLimitError('too many groups'), { group: GROUP });
    };
    press({ name: 'g', ctrl: true });
    type('Friends');
    press(ENTER);
    type('Bob');
    press(ENTER);
    await flush();
    expect(screen()).toContain('group created, not named: 429 too many groups');
    expect(state.contact(GROUP)).toMatchObject({ nickname: 'Friends', kind: 'group' });
    expect(state.openChat).toBe(GROUP);
  });

  it('takes group members by the name the server told as well as by nickname', async () => {
    const { state, client, type, press, flush, screen } = setup();
    state.addContact(BOB, '');
    state.learnedName(BOB, { kind: 'user', name: 'Bob' });
    state.addContact(CAROL, 'Carol');
    state.learnedName(CAROL, { kind: 'user', name: 'Bob' });
    press({ name: 'g', ctrl: true });
    type('Friends');
    press(ENTER);
    type('bob');
    press(ENTER);
    await flush();
    expect(screen()).toContain('"bob" is more than one contact: type the number');
    press({ name: 'u', ctrl: true });
    type('carol');
    press(ENTER);
    await flush();
    expect(client.groups).toEqual([{ members: [CAROL], name: 'Friends' }]);
  });
});
