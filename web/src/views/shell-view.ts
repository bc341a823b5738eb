import type { Chat } from '../chat.js';
import type { Account } from '../credentials.js';
import { el } from '../dom.js';
import type { SessionState } from '../session.js';
import { ContactsView } from './contacts-view.js';
import { ConversationView } from './conversation-view.js';
import { openAddContact, openNewGroup } from './dialogs.js';

export interface ShellActions {
  signOut(): void;
  /** Offline: try to reconnect now rather than at the next attempt. */
  retryNow(): void;
  /** Another window took the session over: take it back. */
  useHere(): void;
}

/**
 * The signed-in page: who you are and sign-out on top, the connection banner,
 * then the list and the open conversation side by side (one at a time at
 * phone width: `data-pane`).
 */
export class ShellView {
  readonly element: HTMLElement;
  private readonly banner = el('div', {
    class: 'banner',
    attrs: { role: 'status', hidden: '' },
  });
  private readonly contacts: ContactsView;
  private readonly conversation: ConversationView;
  private countdown: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly chat: Chat,
    account: Account,
    private readonly actions: ShellActions,
  ) {
    const addContact = el(
      'button',
      {
        class: 'button secondary',
        attrs: { type: 'button' },
        on: { click: () => openAddContact(chat, (number) => this.openChat(number)) },
      },
      'Add contact',
    );
    const newGroup = el(
      'button',
      {
        class: 'button secondary',
        attrs: { type: 'button' },
        on: { click: () => openNewGroup(chat, (group) => this.openChat(group)) },
      },
      'New group',
    );
    this.contacts = new ContactsView(chat, (number) => this.openChat(number), [
      addContact,
      newGroup,
    ]);
    this.conversation = new ConversationView(chat, () => this.openChat(undefined));
    const topbar = el(
      'header',
      { class: 'topbar' },
      el(
        'div',
        { class: 'me' },
        el('strong', {}, account.name || 'zapwire'),
        el(
          'span',
          { attrs: { 'data-testid': 'own-number', title: 'Your number' } },
          account.number,
        ),
      ),
      el(
        'details',
        {},
        el('summary', {}, 'Sign-in token'),
        el('code', { attrs: { 'data-testid': 'own-token' } }, account.token),
      ),
      el(
        'button',
        { class: 'button', attrs: { type: 'button' }, on: { click: () => actions.signOut() } },
        'Sign out',
      ),
    );
    this.element = el(
      'div',
      { class: 'shell', attrs: { 'data-pane': 'list' } },
      topbar,
      this.banner,
      el('div', { class: 'panes' }, this.contacts.element, this.conversation.element),
    );
    chat.onChange((change) => {
      if (change.kind === 'contacts') this.contacts.render();
      else if (change.chat === this.conversation.open) this.conversation.render();
    });
    this.conversation.show(undefined);
  }

  /** Opens a conversation (undefined: back to the list). */
  openChat(number: string | undefined): void {
    this.element.dataset.pane = number === undefined ? 'list' : 'chat';
    this.conversation.show(number);
    this.contacts.select(number);
    this.chat.open(number);
    if (number === undefined) this.contacts.element.querySelector<HTMLElement>('.contact')?.focus();
  }

  /** The offline banner follows the session. */
  showState(state: SessionState): void {
    this.element.dataset.session = state.kind;
    clearInterval(this.countdown);
    this.countdown = undefined;
    const show = (...children: (Node | string)[]) => {
      this.banner.replaceChildren(...children);
      this.banner.hidden = false;
    };
    switch (state.kind) {
      case 'open':
      case 'stopped':
        this.banner.hidden = true;
        this.banner.replaceChildren();
        return;
      case 'connecting':
        return show('Connecting…');
      case 'offline': {
        const text = el('span');
        const tick = () => {
          const seconds = Math.max(0, Math.ceil((state.retryAt - Date.now()) / 1000));
          text.textContent = `Offline: reconnecting in ${seconds} s.`;
        };
        tick();
        this.countdown = setInterval(tick, 1000);
        return show(
          text,
          el(
            'button',
            {
              class: 'button secondary',
              attrs: { type: 'button' },
              on: { click: () => this.actions.retryNow() },
            },
            'Retry now',
          ),
        );
      }
      case 'replaced':
        return show(
          'zapwire is open in another window or device.',
          el(
            'button',
            {
              class: 'button secondary',
              attrs: { type: 'button' },
              on: { click: () => this.actions.useHere() },
            },
            'Use here',
          ),
        );
      case 'unauthorized':
        return show(`Signed out: ${state.reason}`);
    }
  }
}
