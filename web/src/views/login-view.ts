import { isNumber, MAX_NAME_BYTES } from '../../../src/protocol/frame.js';
import type { Account } from '../credentials.js';
import { el, field } from '../dom.js';

/** The most bytes a display name may have (docs/protocol.md §Codes, `01`). */

export interface LoginActions {
  /** Registers a new number with this display name. */
  register(name: string): Promise<void>;
  /** Signs in as an existing number (checked by the server when the session opens). */
  signIn(account: Account): Promise<void>;
}

/** Register with a display name, or sign in with number and token. */
export function loginView(actions: LoginActions, problem?: string): HTMLElement {
  const error = el('p', { class: 'error', attrs: { role: 'alert' } }, problem ?? '');
  const busy = async (form: HTMLFormElement, work: () => Promise<void>) => {
    const button = form.querySelector('button')!;
    button.disabled = true;
    error.textContent = '';
    try {
      await work();
    } catch (err) {
      error.textContent = err instanceof Error ? err.message : String(err);
      button.disabled = false;
    }
  };

  const name = field('Your name', { name: 'name', maxlength: String(MAX_NAME_BYTES) });
  const registerForm = el(
    'form',
    {
      attrs: { 'aria-labelledby': 'register-title' },
      on: {
        submit: (event) => {
          event.preventDefault();
          const value = name.input.value.trim();
          void busy(registerForm, () => {
            if (new TextEncoder().encode(value).length > MAX_NAME_BYTES)
              throw new Error(`a name has at most ${MAX_NAME_BYTES} bytes`);
            return actions.register(value);
          });
        },
      },
    },
    el('h2', { attrs: { id: 'register-title' } }, 'New here? Get a number'),
    name.wrapper,
    el('button', { class: 'button', attrs: { type: 'submit' } }, 'Register'),
  );

  const number = field('Number', {
    name: 'number',
    inputmode: 'numeric',
    pattern: '[0-9]{13}',
    maxlength: '13',
  });
  const token = field('Token', {
    name: 'token',
    type: 'password',
    autocomplete: 'current-password',
  });
  const signInForm = el(
    'form',
    {
      attrs: { 'aria-labelledby': 'signin-title' },
      on: {
        submit: (event) => {
          event.preventDefault();
          const account = {
            number: number.input.value.trim(),
            token: token.input.value.trim(),
            name: '',
          };
          void busy(signInForm, () => {
            if (!isNumber(account.number)) throw new Error('a number is 13 digits');
            if (account.token === '') throw new Error('the token is needed');
            return actions.signIn(account);
          });
        },
      },
    },
    el('h2', { attrs: { id: 'signin-title' } }, 'Have a number? Sign in'),
    number.wrapper,
    token.wrapper,
    el('button', { class: 'button secondary', attrs: { type: 'submit' } }, 'Sign in'),
  );

  return el(
    'main',
    { class: 'login' },
    el(
      'div',
      { class: 'login-card' },
      el('h1', {}, 'zapwire'),
      el('p', {}, 'Messages that wait for you, delivered the moment you are here.'),
      error,
      registerForm,
      signInForm,
    ),
  );
}
