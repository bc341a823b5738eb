import type { Chat } from '../chat.js';
import { el } from '../dom.js';
import { whenOf } from './format.js';

/**
 * The left pane: every contact and group, the latest conversation first, with
 * its unread count. Each row is a button (Tab, Enter); the arrow keys move
 * between rows.
 */
export class ContactsView {
  readonly element: HTMLElement;
  private readonly list = el('ul', { class: 'contacts', attrs: { 'aria-label': 'Chats' } });
  private current: string | undefined;

  constructor(
    private readonly chat: Chat,
    private readonly choose: (number: string) => void,
    actions: HTMLElement[],
  ) {
    this.element = el(
      'nav',
      { class: 'sidebar', attrs: { 'aria-label': 'Conversations' } },
      el('div', { class: 'sidebar-actions' }, ...actions),
      this.list,
    );
    this.list.addEventListener('keydown', (event) => this.onKey(event));
    this.render();
  }

  /** The conversation open on the right, highlighted here. */
  select(number: string | undefined): void {
    this.current = number;
    this.render();
  }

  render(): void {
    const conversations = this.chat.conversations();
    const focused = document.activeElement?.closest<HTMLElement>('.contact')?.dataset.number;
    this.list.replaceChildren(
      ...conversations.map((c) =>
        el(
          'li',
          {},
          el(
            'button',
            {
              class: 'contact',
              attrs: {
                type: 'button',
                'data-number': c.number,
                'aria-current': c.number === this.current ? 'true' : undefined,
              },
              on: { click: () => this.choose(c.number) },
            },
            el(
              'span',
              { class: 'name' },
              el('span', { class: 'nickname' }, c.nickname),
              c.kind === 'group' && el('span', { class: 'tag' }, 'group'),
            ),
            el('span', { class: 'when' }, whenOf(c.lastTs)),
            el('span', { class: 'preview' }, c.lastText || c.number),
            c.unread > 0 &&
              el(
                'span',
                { class: 'unread', attrs: { 'aria-label': `${c.unread} unread` } },
                String(c.unread),
              ),
          ),
        ),
      ),
    );
    if (conversations.length === 0)
      this.list.append(el('li', { class: 'empty' }, 'No chats yet: add a contact to start one.'));
    if (focused) this.row(focused)?.focus();
  }

  private row(number: string): HTMLElement | null {
    return this.list.querySelector<HTMLElement>(`.contact[data-number="${number}"]`);
  }

  private onKey(event: KeyboardEvent): void {
    if (event.key !== 'ArrowDown' && event.key !== 'ArrowUp') return;
    const rows = [...this.list.querySelectorAll<HTMLElement>('.contact')];
    const at = rows.indexOf(document.activeElement as HTMLElement);
    const next =
      rows[Math.max(0, Math.min(rows.length - 1, at + (event.key === 'ArrowDown' ? 1 : -1)))];
    next?.focus();
    event.preventDefault();
  }
}
