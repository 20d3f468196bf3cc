// The sign-in screen: the server's dev login, by user and device.

import { devLogin } from '../api';
import { defaultDevice, ID_INPUT_PATTERN, recentAccounts, type Session } from '../session';
import { h } from './dom';

export function loginView(onSignedIn: (s: Session) => void, why?: string): HTMLElement {
  const error = h('p', { class: 'form-error', role: 'alert', 'data-testid': 'login-error' }, why ?? '');
  const user = h('input', {
    name: 'user',
    required: true,
    autocomplete: 'username',
    autocapitalize: 'off',
    spellcheck: 'false',
    pattern: ID_INPUT_PATTERN,
    maxLength: 64,
    placeholder: 'alice',
    'data-testid': 'login-user',
  });
  const device = h('input', {
    name: 'device',
    required: true,
    autocapitalize: 'off',
    spellcheck: 'false',
    pattern: ID_INPUT_PATTERN,
    maxLength: 64,
    value: defaultDevice(),
    'data-testid': 'login-device',
  });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Sign in');

  async function signIn(u: string, d: string): Promise<void> {
    submit.disabled = true;
    error.textContent = '';
    try {
      const token = await devLogin(u, d);
      onSignedIn({ user: u, device: d, token });
    } catch (e) {
      error.textContent = `Sign-in failed: ${e instanceof Error ? e.message : e}`;
      submit.disabled = false;
    }
  }

  const form = h(
    'form',
    {
      class: 'login-card',
      'data-testid': 'login-form',
      on: {
        submit: (ev: SubmitEvent) => {
          ev.preventDefault();
          void signIn(user.value.trim(), device.value.trim());
        },
      },
    },
    h('h1', {}, 'Chat'),
    h(
      'p',
      { class: 'hint' },
      'Development sign-in: choose any user name. Open a second window and sign in as someone else to chat between them.',
    ),
    h('label', {}, h('span', {}, 'User'), user),
    h('label', {}, h('span', {}, 'Device'), device),
    submit,
    error,
  );

  const recent = recentAccounts();
  if (recent.length) {
    form.append(
      h(
        'div',
        { class: 'recent' },
        h('span', { class: 'hint' }, 'Recent:'),
        ...recent.map((a) =>
          h(
            'button',
            {
              type: 'button',
              class: 'chip',
              'data-testid': 'recent-account',
              on: { click: () => void signIn(a.user, a.device) },
            },
            `${a.user} · ${a.device}`,
          ),
        ),
      ),
    );
  }
  queueMicrotask(() => user.focus());
  return h('main', { class: 'login' }, form);
}
