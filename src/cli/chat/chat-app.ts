import type { Message } from '../../client/deliveries.js';
import type { ZapwireClient } from '../../client/zapwire-client.js';
import { isNumber } from '../../protocol/frame.js';
import { describeError } from '../client-command.js';
import { nameProblem, textProblem } from '../message-text.js';
import type { ChatState } from './chat-state.js';
import type { StoredMessage } from './chat-store.js';
import { displayName, label } from './display-name.js';
import { InputLine } from './input-line.js';
import { NameLookup } from './name-lookup.js';
import { frame, pageSize, scrollLimit, type View } from './render.js';
import type { Key } from './terminal.js';

/** What the input line is for: a message, or one step of adding a contact or a group. */
type Mode =
  | { kind: 'message' }
  | { kind: 'contact-number' }
  | { kind: 'contact-nickname'; number: string }
  | { kind: 'group-name' }
  | { kind: 'group-members'; name: string };

const PROMPTS: Record<Mode['kind'], string> = {
  message: '> ',
  'contact-number': 'New contact number (13 digits, Esc cancels): ',
  'contact-nickname': 'Nickname (Enter for none): ',
  'group-name': "Group name, every member's to see (Esc cancels): ",
  'group-members': 'Members (nicknames or numbers, comma-separated): ',
};

export interface Screen {
  readonly cols: number;
  readonly rows: number;
  write(data: string): void;
}

/** `/name <text>` in a group conversation names the group (`14`); any other line is a message. */
const NAME_COMMAND = /^\/name(?:\s+(.*))?$/s;

/** How long a header notice stays (news fades; a state such as "offline" is in the header anyway). */
export const NOTICE_MS = 5_000;

/** Keys that edit the input line, by readline's key name (Ctrl- keys as readline/emacs have them). */
const EDIT_KEYS: Record<string, (line: InputLine) => void> = {
  backspace: (l) => l.backspace(),
  delete: (l) => l.deleteForward(),
  left: (l) => l.left(),
  right: (l) => l.right(),
  home: (l) => l.home(),
  end: (l) => l.end(),
  'ctrl-a': (l) => l.home(),
  'ctrl-e': (l) => l.end(),
  'ctrl-b': (l) => l.left(),
  'ctrl-f': (l) => l.right(),
  'ctrl-d': (l) => l.deleteForward(),
  'ctrl-h': (l) => l.backspace(),
  'ctrl-u': (l) => l.deleteToStart(),
  'ctrl-k': (l) => l.deleteToEnd(),
  'ctrl-w': (l) => l.deleteWordBack(),
};

/**
 * The chat's controller: keys in, SDK events in, frames out. State lives in
 * ChatState (and its store); drawing is render.ts; this only connects them.
 */
export class ChatApp {
  private focus: View['focus'] = 'list';
  private mode: Mode = { kind: 'message' };
  private readonly line: InputLine;
  private notice = '';
  private noticeTimer: NodeJS.Timeout | undefined;
  /** Lines the open conversation is scrolled back (PgUp), 0 at the newest. */
  private scroll = 0;
  private online = false;
  private quitting = false;
  /** Names from the server (`12`), cached in the history. */
  private readonly names: NameLookup;

  constructor(
    private readonly client: ZapwireClient,
    private readonly state: ChatState,
    private readonly screen: Screen,
    private readonly selfName: string,
    private readonly quit: () => void,
    private readonly noticeMs = NOTICE_MS,
  ) {
    this.line = new InputLine(state.sentLines());
    this.names = new NameLookup(client, state, () => this.render());
    client.on('message', (m) => {
      const stored = this.state.received(m, true);
      if (stored.status === 'read') this.sendRead([stored]);
      this.askNames(m);
      this.render();
    });
    client.on('receipt', (r) => {
      this.state.receipt(r);
      this.render();
    });
    client.on('groupCreated', (g) => {
      this.state.groupCreated(g);
      void this.names.ensure(g.group);
      this.render();
      if (g.creator !== this.state.self)
        void this.names
          .ensure(g.creator)
          .then(() => this.setNotice(`${this.state.nameOf(g.creator)} added you to a group`));
    });
    client.on('disconnect', ({ error, reconnectInMs }) => {
      this.online = false;
      if (reconnectInMs === undefined) this.note(describeError(error), true);
      else this.note('offline: reconnecting');
      this.render();
    });
    client.on('reconnect', () => {
      this.online = true;
      this.setNotice('reconnected');
      this.refreshNames();
    });
    client.on('close', ({ error }) => {
      this.online = false;
      if (error) this.setNotice(`${describeError(error)} (^Q quits)`, true);
    });
    client.on('error', (err) => this.setNotice(describeError(err)));
  }

  /** The session is open (or not); once open, the names of the conversations are asked again. */
  setOnline(online: boolean): void {
    this.online = online;
    this.render();
    if (online) this.refreshNames();
  }

  /** Names may have changed while this chat was not running or offline (a group renamed). */
  private refreshNames(): void {
    void this.names.refreshAll(this.state.conversations().map((c) => c.number));
  }

  /**
   * A message shows its chat and, in a group, its sender: each is asked the
   * first time. A group still without a name is asked at each message, as its
   * creator names it just after creating it (this may have asked in between).
   */
  private askNames(m: Message): void {
    const chat = m.chat.number;
    const cached = this.state.cachedName(chat);
    if (m.chat.kind === 'group' && cached?.name === '') void this.names.refresh(chat);
    else void this.names.ensure(chat);
    if (m.sender !== chat) void this.names.ensure(m.sender);
  }

  /** A line of news in the header; it fades after noticeMs unless `sticky` (the session is over). */
  setNotice(notice: string, sticky = false): void {
    this.note(notice, sticky);
    this.render();
  }

  private note(notice: string, sticky = false): void {
    clearTimeout(this.noticeTimer);
    this.noticeTimer = undefined;
    this.notice = notice;
    if (notice === '' || sticky || this.quitting) return;
    this.noticeTimer = setTimeout(() => {
      this.noticeTimer = undefined;
      this.notice = '';
      this.render();
    }, this.noticeMs);
    // A notice never keeps the process alive.
    this.noticeTimer.unref();
  }

  /** Stops the notice timer (on quit). */
  stop(): void {
    this.quitting = true;
    clearTimeout(this.noticeTimer);
  }

  view(): View {
    const open = this.state.openChat;
    const contact = open ? this.state.contact(open) : undefined;
    return {
      cols: this.screen.cols,
      rows: this.screen.rows,
      self: this.state.self,
      selfName: this.selfName,
      online: this.online,
      notice: this.notice,
      conversations: this.state.conversations(),
      selected: this.state.selected,
      focus: this.mode.kind === 'message' ? this.focus : 'input',
      open:
        open === undefined
          ? undefined
          : {
              title: contact ? conversationTitle(contact) : open,
              messages: this.state.messages(open),
              nameOf: (n) => this.state.nameOf(n),
              group: contact?.kind === 'group',
              scroll: this.scroll,
            },
      prompt: PROMPTS[this.mode.kind],
      input: this.line.text,
      cursor: this.line.cursor,
    };
  }

  render(): void {
    if (this.quitting) return;
    this.screen.write(frame(this.view()));
  }

  /** One keypress (node:readline's emitKeypressEvents). */
  key(str: string | undefined, key: Key): void {
    const name = key.ctrl ? `ctrl-${key.name}` : key.name;
    if (name === 'ctrl-c' || name === 'ctrl-q') {
      this.stop();
      this.quit();
      return;
    }
    if (name === 'ctrl-n') return this.startMode({ kind: 'contact-number' });
    if (name === 'ctrl-g') return this.startMode({ kind: 'group-name' });
    if (name === 'escape') {
      this.mode = { kind: 'message' };
      this.line.clear();
      this.note('');
      return this.render();
    }
    if (name === 'pageup' || name === 'pagedown') return this.page(name === 'pageup' ? 1 : -1);
    const onInput = this.mode.kind !== 'message' || this.focus === 'input';
    if (name === 'up' || name === 'down') {
      if (!onInput) this.state.moveSelection(name === 'up' ? -1 : 1);
      else if (this.mode.kind === 'message') {
        if (name === 'up') this.line.up();
        else this.line.down();
      }
      return this.render();
    }
    if (name === 'tab') {
      if (this.mode.kind === 'message') this.focus = this.focus === 'list' ? 'input' : 'list';
      return this.render();
    }
    if (name === 'return' || name === 'enter') return void this.enter();
    const edit = name === undefined ? undefined : EDIT_KEYS[name];
    if (edit) {
      if (!onInput) return;
      edit(this.line);
      return this.render();
    }
    if (str !== undefined && !key.ctrl && !key.meta && str >= ' ' && str !== '\x7f') {
      if (this.mode.kind === 'message') this.focus = 'input';
      this.line.insert(str);
      this.render();
    }
  }

  /** PgUp (+1) / PgDn (-1): the open conversation a screenful back or forward. */
  private page(direction: 1 | -1): void {
    const view = this.view();
    const limit = scrollLimit(view);
    this.scroll = Math.min(limit, Math.max(0, this.scroll + direction * pageSize(view)));
    this.render();
  }

  private startMode(mode: Mode): void {
    this.mode = mode;
    this.line.clear();
    this.note('');
    this.render();
  }

  private async enter(): Promise<void> {
    const text = this.line.text.trim();
    switch (this.mode.kind) {
      case 'message': {
        if (this.focus === 'list' || text === '') return this.openSelected();
        const command = NAME_COMMAND.exec(text);
        if (command) return this.nameGroup(command[1]?.trim() ?? '');
        return this.sendMessage(this.line.text);
      }
      case 'contact-number':
        return this.checkContact(text);
      case 'contact-nickname':
        this.state.addContact(this.mode.number, text);
        void this.names.ensure(this.mode.number);
        this.mode = { kind: 'message' };
        this.line.clear();
        this.note(text ? `contact ${text} added` : 'contact added');
        return this.openSelected();
      case 'group-name':
        if (text === '') return this.setNotice('a group needs a name');
        this.mode = { kind: 'group-members', name: text };
        this.line.clear();
        return this.render();
      case 'group-members':
        return this.createGroup(this.mode.name, text);
    }
  }

  private openSelected(): void {
    const c = this.state.selectedConversation();
    if (!c) return this.setNotice('no chat selected: ^N adds a contact');
    this.sendRead(this.state.open(c.number));
    // Opening a conversation is when a rename is learnt (nobody is told of a `14`).
    void this.names.refresh(c.number);
    for (const sender of this.state.senders(c.number)) void this.names.ensure(sender);
    this.scroll = 0;
    this.focus = 'input';
    this.render();
  }

  private sendMessage(text: string): void {
    const chat = this.state.openChat;
    if (!chat) return this.setNotice('open a chat first (Tab, ↑/↓ and Enter)');
    const problem = textProblem(text);
    if (problem) return this.setNotice(`not sent: ${problem}`);
    const ts = Math.floor(Date.now() / 1000);
    const local = this.state.sending(chat, text, ts);
    this.line.sent(text);
    this.scroll = 0;
    this.render();
    this.client.send(chat, text, { ts }).then(
      () => {
        this.state.stored(local.id);
        this.render();
      },
      (err: unknown) => {
        this.state.failed(local.id);
        this.setNotice(`not sent: ${describeError(err)}`);
      },
    );
  }

  /** `/name <text>`: `14` names the open group; the header shows the name the server stored. */
  private async nameGroup(name: string): Promise<void> {
    const chat = this.state.openChat;
    const contact = chat ? this.state.contact(chat) : undefined;
    if (!chat || contact?.kind !== 'group')
      return this.setNotice('/name names a group: open one first (^N gives a contact a nickname)');
    const problem = nameProblem(name);
    if (problem) return this.setNotice(`not renamed: ${problem} (/name <the group's name>)`);
    this.line.sent(this.line.text);
    this.render();
    try {
      const stored = await this.client.nameGroup(chat, name);
      this.state.learnedName(chat, { kind: 'group', name: stored });
      this.setNotice(`group named ${stored}`);
    } catch (err) {
      this.setNotice(`not renamed: ${describeError(err)}`);
    }
  }

  /** 19: only a registered number becomes a contact. A refused number leaves the field, so the next one starts afresh. */
  private async checkContact(number: string): Promise<void> {
    const refuse = (why: string) => {
      this.line.clear();
      this.setNotice(why);
    };
    if (!isNumber(number)) return refuse(`${number || 'that'} is not a 13-digit number`);
    if (number === this.state.self) return refuse('that is your own number');
    this.setNotice('checking…');
    let valid: boolean;
    try {
      valid = await this.client.isValid(number);
    } catch (err) {
      return this.setNotice(`cannot check: ${describeError(err)}`);
    }
    if (!valid) return refuse(`${number} is not a zapwire number`);
    this.mode = { kind: 'contact-nickname', number };
    this.line.clear();
    this.setNotice(`${number} is valid`);
  }

  private async createGroup(name: string, list: string): Promise<void> {
    const members: string[] = [];
    for (const word of list
      .split(',')
      .map((w) => w.trim())
      .filter((w) => w.length > 0)) {
      const wanted = word.toLowerCase();
      const byName = this.state
        .conversations()
        .filter(
          (c) =>
            c.kind === 'user' &&
            [c.nickname, c.name].some((n) => n.trim() !== '' && n.trim().toLowerCase() === wanted),
        );
      if (byName.length > 1)
        return this.setNotice(`"${word}" is more than one contact: type the number`);
      const number = byName[0]?.number ?? (isNumber(word) ? word : undefined);
      if (!number) return this.setNotice(`no contact "${word}"`);
      if (number !== this.state.self && !members.includes(number)) members.push(number);
    }
    if (members.length === 0) return this.setNotice('name at least one contact');
    this.setNotice('creating group…');
    try {
      // The name is the group's own (10, then 14): every member sees it.
      const group = await this.client.createGroup(members, { name });
      this.state.addContact(group, '', 'group');
      this.state.learnedName(group, { kind: 'group', name });
      this.groupReady(`group ${name} created`);
    } catch (err) {
      const group = (err as { group?: unknown }).group;
      if (typeof group !== 'string')
        return this.setNotice(`group not created: ${describeError(err)}`);
      // Created, but the server refused its name: it is this user's nickname for it, at least.
      this.state.addContact(group, name, 'group');
      this.groupReady(`group created, not named: ${describeError(err)}`);
    }
  }

  private groupReady(notice: string): void {
    this.mode = { kind: 'message' };
    this.line.clear();
    this.note(notice);
    this.openSelected();
  }

  /** `lida` for messages now shown; a failure (offline) is reported, not retried. */
  private sendRead(messages: StoredMessage[]): void {
    for (const m of messages) {
      const kind = this.state.contact(m.chat)?.kind ?? 'user';
      this.client
        .markRead({ chat: { kind, number: m.chat }, ts: m.ts, wantsReceipt: m.wantsReceipt })
        .catch((err: unknown) => {
          this.setNotice(`read receipt not sent: ${describeError(err)}`);
        });
    }
  }
}

/** The open conversation's header: how it is known (display-name.ts), then its number when that is not it. */
function conversationTitle(contact: Parameters<typeof displayName>[0]): string {
  const shown = displayName(contact);
  return label(contact) === undefined && contact.kind === 'user'
    ? shown
    : `${shown} · ${contact.number}`;
}
