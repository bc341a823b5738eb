import { MAX_GROUP_MEMBERS } from '../../../src/protocol/frame.js';
import type { Chat } from '../chat.js';

import { el, field } from '../dom.js';

/**
 * A modal form in a <dialog>: Escape and Cancel close it, focus goes back
 * where it was, and an error the action throws is shown in it.
 */
function formDialog(
  title: string,
  submitLabel: string,
  body: Node[],
  action: () => Promise<void>,
): HTMLDialogElement {
  const error = el('p', { class: 'error', attrs: { role: 'alert' } });
  const submit = el('button', { class: 'button', attrs: { type: 'submit' } }, submitLabel);
  const dialog = el('dialog', { attrs: { 'aria-label': title } });
  const form = el(
    'form',
    {
      on: {
        submit: (event) => {
          event.preventDefault();
          submit.disabled = true;
          error.textContent = '';
          action()
            .then(
              () => dialog.close(),
              (err: unknown) => {
                error.textContent = err instanceof Error ? err.message : String(err);
              },
            )
            .finally(() => {
              submit.disabled = false;
            });
        },
      },
    },
    el('h2', { class: 'dialog-title' }, title),
    ...body,
    error,
    el(
      'div',
      { class: 'dialog-actions' },
      el(
        'button',
        {
          class: 'button secondary',
          attrs: { type: 'button' },
          on: { click: () => dialog.close() },
        },
        'Cancel',
      ),
      submit,
    ),
  );
  dialog.append(form);
  dialog.addEventListener('close', () => dialog.remove());
  return dialog;
}

/** Add a contact: a number the server knows (`19`), and the nickname to show for it. */
export function openAddContact(chat: Chat, added: (number: string) => void): void {
  const number = field('Number', { name: 'number', inputmode: 'numeric', maxlength: '13' });
  const nickname = field('Nickname', { name: 'nickname', maxlength: '64' });
  const dialog = formDialog('Add contact', 'Add', [number.wrapper, nickname.wrapper], async () => {
    const value = number.input.value.trim();
    await chat.addContact(value, nickname.input.value);
    added(value);
  });
  document.body.append(dialog);
  dialog.showModal();
}

/** New group: its name in this browser, and members chosen among the contacts. */
export function openNewGroup(chat: Chat, created: (group: string) => void): void {
  const name = field('Group name', { name: 'group-name', maxlength: '64' });
  const users = chat.conversations().filter((c) => c.kind === 'user');
  const boxes = users.map((user) => {
    const box = el('input', { attrs: { type: 'checkbox', value: user.number } });
    return { box, label: el('label', {}, box, user.nickname) };
  });
  const members = el(
    'fieldset',
    { class: 'members' },
    el('legend', {}, `Members (at most ${MAX_GROUP_MEMBERS})`),
    ...(users.length === 0
      ? [el('p', { class: 'empty' }, 'Add contacts first.')]
      : boxes.map((b) => b.label)),
  );
  const dialog = formDialog('New group', 'Create', [name.wrapper, members], async () => {
    const chosen = boxes.filter((b) => b.box.checked).map((b) => b.box.value);
    created(await chat.createGroup(name.input.value, chosen));
  });
  document.body.append(dialog);
  dialog.showModal();
}
