import type { ZapwireClient } from '../../client/zapwire-client.js';
import { isNumber } from '../../protocol/frame.js';
import { describeError } from '../client-command.js';
import type { ChatState } from './chat-state.js';
import type { StoredMessage } from './chat-store.js';
import { frame, type View } from './render.js';
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
  'contact-nickname': 'Nickname: ',
  'group-name': 'Group name (Esc cancels): ',
  'group-members': 'Members (nicknames or numbers, comma-separated): ',
};

export interface Screen {
  readonly cols: number;
  readonly rows: number;
  write(data: string): void;
}

/**
 * The chat's controller: keys in, SDK events in, frames out. State lives in
 * ChatState (and its store); drawing is render.ts; this only connects them.
 */
export class ChatApp {
  private focus: View['focus'] = 'list';
  private mode: Mode = { kind: 'message' };
  private input = '';
  private notice = '';
  private online = false;
  private quitting = false;

  constructor(
    private readonly client: ZapwireClient,
    private readonly state: ChatState,
    private readonly screen: Screen,
    private readonly selfName: string,
    private readonly quit: () => void,
  ) {
    client.on('message', (m) => {
      const stored = this.state.received(m, true);
      if (stored.status === 'read') this.sendRead([stored]);
      this.render();
    });
    client.on('receipt', (r) => {
      this.state.receipt(r);
      this.render();
    });
    client.on('groupCreated', (g) => {
      this.state.groupCreated(g);
      this.render();
    });
    client.on('disconnect', ({ error, reconnectInMs }) => {
      this.online = false;
      this.notice = reconnectInMs === undefined ? describeError(error) : `offline: reconnecting`;
      this.render();
    });
    client.on('reconnect', () => {
      this.online = true;
      this.notice = 'reconnected';
      this.render();
    });
    client.on('close', ({ error }) => {
      this.online = false;
      if (error) this.setNotice(`${describeError(error)} (^Q quits)`);
    });
    client.on('error', (err) => this.setNotice(describeError(err)));
  }

  setOnline(online: boolean): void {
    this.online = online;
    this.render();
  }

  setNotice(notice: string): void {
    this.notice = notice;
    this.render();
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
              title: contact
                ? `${contact.kind === 'group' ? '# ' : ''}${contact.nickname} (${open})`
                : open,
              messages: this.state.messages(open),
              nameOf: (n) => this.state.nameOf(n),
              group: contact?.kind === 'group',
            },
      prompt: PROMPTS[this.mode.kind],
      input: this.input,
    };
  }

  render(): void {
    if (this.quitting) return;
    this.screen.write(frame(this.view()));
  }

  /** One keypress (node:readline's emitKeypressEvents). */
  key(str: string | undefined, key: Key): void {
    if (key.ctrl && (key.name === 'c' || key.name === 'q')) {
      this.quitting = true;
      this.quit();
      return;
    }
    if (key.ctrl && key.name === 'n') return this.startMode({ kind: 'contact-number' });
    if (key.ctrl && key.name === 'g') return this.startMode({ kind: 'group-name' });
    if (key.name === 'escape') {
      this.mode = { kind: 'message' };
      this.input = '';
      this.notice = '';
      return this.render();
    }
    if (key.name === 'up' || key.name === 'down') {
      if (this.mode.kind === 'message') this.state.moveSelection(key.name === 'up' ? -1 : 1);
      return this.render();
    }
    if (key.name === 'tab') {
      if (this.mode.kind === 'message') this.focus = this.focus === 'list' ? 'input' : 'list';
      return this.render();
    }
    if (key.name === 'return' || key.name === 'enter') return void this.enter();
    if (key.name === 'backspace') {
      this.input = [...this.input].slice(0, -1).join('');
      return this.render();
    }
    if (str !== undefined && !key.ctrl && !key.meta && str >= ' ' && str !== '\x7f') {
      if (this.mode.kind === 'message') this.focus = 'input';
      this.input += str;
      this.render();
    }
  }

  private startMode(mode: Mode): void {
    this.mode = mode;
    this.input = '';
    this.notice = '';
    this.render();
  }

  private async enter(): Promise<void> {
    const text = this.input.trim();
    switch (this.mode.kind) {
      case 'message':
        if (this.focus === 'list' || text === '') return this.openSelected();
        return this.sendMessage(this.input);
      case 'contact-number':
        return this.checkContact(text);
      case 'contact-nickname':
        this.state.addContact(this.mode.number, text);
        this.mode = { kind: 'message' };
        this.input = '';
        this.notice = text ? `contact ${text} added` : 'contact added';
        return this.openSelected();
      case 'group-name':
        if (text === '') return this.setNotice('a group needs a name');
        this.mode = { kind: 'group-members', name: text };
        this.input = '';
        return this.render();
      case 'group-members':
        return this.createGroup(this.mode.name, text);
    }
  }

  private openSelected(): void {
    const c = this.state.selectedConversation();
    if (!c) return this.setNotice('no chat selected: ^N adds a contact');
    this.sendRead(this.state.open(c.number));
    this.focus = 'input';
    this.render();
  }

  private sendMessage(text: string): void {
    const chat = this.state.openChat;
    if (!chat) return this.setNotice('open a chat first (↑/↓ and Enter)');
    const ts = Math.floor(Date.now() / 1000);
    const local = this.state.sending(chat, text, ts);
    this.input = '';
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

  /** 19: only a registered number becomes a contact. */
  private async checkContact(number: string): Promise<void> {
    if (!isNumber(number)) return this.setNotice('a number is 13 digits');
    if (number === this.state.self) return this.setNotice('that is your own number');
    this.setNotice('checking…');
    let valid: boolean;
    try {
      valid = await this.client.isValid(number);
    } catch (err) {
      return this.setNotice(`cannot check: ${describeError(err)}`);
    }
    if (!valid) return this.setNotice(`${number} is not a zapwire number`);
    this.mode = { kind: 'contact-nickname', number };
    this.input = '';
    this.setNotice(`${number} is valid`);
  }

  private async createGroup(name: string, list: string): Promise<void> {
    const members: string[] = [];
    for (const word of list
      .split(',')
      .map((w) => w.trim())
      .filter((w) => w.length > 0)) {
      const byName = this.state
        .conversations()
        .find((c) => c.kind === 'user' && c.nickname.toLowerCase() === word.toLowerCase());
      const number = byName?.number ?? (isNumber(word) ? word : undefined);
      if (!number) return this.setNotice(`no contact "${word}"`);
      if (number !== this.state.self && !members.includes(number)) members.push(number);
    }
    if (members.length === 0) return this.setNotice('name at least one contact');
    this.setNotice('creating group…');
    try {
      const group = await this.client.createGroup(members);
      this.state.addContact(group, name, 'group');
      this.mode = { kind: 'message' };
      this.input = '';
      this.notice = `group ${name} created`;
      this.openSelected();
    } catch (err) {
      this.setNotice(`group not created: ${describeError(err)}`);
    }
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
