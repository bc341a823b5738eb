import type { Chat } from '../chat.js';
import { el } from '../dom.js';
import type { StoredMessage } from '../history.js';
import { checkOf, fullDateOf, timeOf } from './format.js';

/**
 * The right pane: one conversation's messages (times, checkmarks, the sender
 * in a group) and the box to write in. Enter sends, Shift+Enter is a new line,
 * Escape goes back to the list.
 */
export class ConversationView {
  readonly element: HTMLElement;
  private readonly title = el('h2', { attrs: { id: 'conversation-title' } });
  private readonly subtitle = el('span', { class: 'number' });
  private readonly list = el('ol', {
    class: 'messages',
    attrs: { 'aria-live': 'polite', 'aria-labelledby': 'conversation-title' },
  });
  private readonly input = el('textarea', {
    attrs: { rows: '1', placeholder: 'Type a message', 'aria-label': 'Message' },
  });
  private readonly composer: HTMLFormElement;
  private readonly header: HTMLElement;
  private readonly placeholder = el(
    'div',
    { class: 'placeholder' },
    'Choose a chat, or add a contact to start one.',
  );
  /** The bubble of each message shown, by id: drawn once, its checkmark updated. */
  private readonly bubbles = new Map<number, { item: HTMLLIElement; check?: HTMLElement }>();
  private chatNumber: string | undefined;

  constructor(
    private readonly chat: Chat,
    back: () => void,
  ) {
    this.composer = el(
      'form',
      { class: 'composer', on: { submit: (event) => this.submit(event) } },
      this.input,
      el('button', { class: 'button', attrs: { type: 'submit' } }, 'Send'),
    );
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.composer.requestSubmit();
      }
    });
    this.element = el(
      'section',
      { class: 'conversation', attrs: { 'aria-label': 'Conversation' } },
      this.placeholder,
    );
    this.element.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') back();
    });
    this.header = el(
      'header',
      { class: 'conversation-header' },
      el(
        'button',
        { class: 'button secondary back', attrs: { type: 'button' }, on: { click: back } },
        '← Chats',
      ),
      el('div', {}, this.title, this.subtitle),
    );
  }

  get open(): string | undefined {
    return this.chatNumber;
  }

  show(number: string | undefined): void {
    this.chatNumber = number;
    this.bubbles.clear();
    this.list.replaceChildren();
    if (number === undefined) {
      this.element.replaceChildren(this.placeholder);
      return;
    }
    this.element.replaceChildren(this.header, this.list, this.composer);
    this.render();
    this.input.focus();
  }

  /** Draws what is new in the open conversation and updates the checkmarks. */
  render(): void {
    const number = this.chatNumber;
    if (number === undefined) return;
    const contact = this.chat.contacts.get(number);
    this.title.textContent = contact?.nickname ?? number;
    this.subtitle.textContent =
      contact?.kind === 'group' ? `group ${number}` : contact?.nickname === number ? '' : number;
    let added = false;
    for (const message of this.chat.messagesOf(number)) {
      const shown = this.bubbles.get(message.id);
      if (shown) {
        if (shown.check) this.drawCheck(shown.item, shown.check, message);
        continue;
      }
      this.list.append(this.bubble(message, contact?.kind === 'group'));
      added = true;
    }
    if (added) this.list.scrollTop = this.list.scrollHeight;
  }

  private bubble(message: StoredMessage, inGroup: boolean): HTMLLIElement {
    const out = message.direction === 'out';
    const check = out ? el('span', { class: 'check' }) : undefined;
    const item = el(
      'li',
      { class: out ? 'message out' : 'message in' },
      inGroup && !out && el('div', { class: 'sender' }, this.chat.nameOf(message.sender)),
      el('div', { class: 'text' }, message.text),
      el(
        'div',
        { class: 'meta' },
        el(
          'time',
          {
            attrs: {
              datetime: new Date(message.ts * 1000).toISOString(),
              title: fullDateOf(message.ts),
            },
          },
          timeOf(message.ts),
        ),
        check,
      ),
    );
    this.bubbles.set(message.id, { item, ...(check ? { check } : {}) });
    if (check) this.drawCheck(item, check, message);
    return item;
  }

  private drawCheck(item: HTMLElement, check: HTMLElement, message: StoredMessage): void {
    if (item.dataset.status === message.status) return;
    const { mark, label } = checkOf(message.status);
    item.dataset.status = message.status;
    check.dataset.status = message.status;
    check.textContent = mark;
    check.setAttribute('aria-label', label);
    check.title = message.error ? `${label}: ${message.error}` : label;
  }

  private submit(event: SubmitEvent): void {
    event.preventDefault();
    const number = this.chatNumber;
    const text = this.input.value;
    if (number === undefined || text.trim() === '') return;
    this.input.value = '';
    void this.chat.send(number, text);
  }
}
