// Starting a conversation: a direct chat with one user, or a named group.

import type { Client } from '../client';
import { ID_PATTERN } from '../session';
import { h } from './dom';

export function newChatForm(client: Client, opened: (conv: string) => void): HTMLElement {
  const direct = h('input', { type: 'radio', name: 'kind', value: 'direct', checked: true });
  const group = h('input', { type: 'radio', name: 'kind', value: 'group', 'data-testid': 'new-chat-group' });
  const members = h('input', {
    name: 'members',
    required: true,
    autocapitalize: 'off',
    spellcheck: 'false',
    placeholder: 'User, e.g. bob',
    'aria-label': 'Who to chat with',
    'data-testid': 'new-chat-members',
  });
  const title = h('input', {
    name: 'title',
    maxLength: 256,
    placeholder: 'Group name',
    'aria-label': 'Group name',
    'data-testid': 'new-chat-title',
  });
  const titleRow = h('div', { class: 'field' }, title);
  const error = h('p', { class: 'form-error', role: 'alert' });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'new-chat-start' }, 'Start chat');

  const sync = () => {
    const isGroup = group.checked;
    titleRow.hidden = !isGroup;
    title.required = isGroup;
    members.placeholder = isGroup ? 'Members, e.g. bob, carol' : 'User, e.g. bob';
  };
  direct.addEventListener('change', sync);
  group.addEventListener('change', sync);
  members.addEventListener('focusme', () => members.focus());
  sync();

  const form = h(
    'form',
    {
      class: 'new-chat',
      'data-testid': 'new-chat-form',
      on: {
        submit: async (ev: SubmitEvent) => {
          ev.preventDefault();
          error.textContent = '';
          const names = members.value
            .split(/[\s,]+/)
            .map((s) => s.trim())
            .filter(Boolean);
          const bad = names.find((n) => !ID_PATTERN.test(n));
          if (bad) return void (error.textContent = `"${bad}" is not a valid user id.`);
          if (!names.length) return void (error.textContent = 'Name someone to chat with.');
          if (direct.checked && names.length > 1) {
            return void (error.textContent = 'A direct chat has one other person; choose Group for more.');
          }
          submit.disabled = true;
          try {
            const id = direct.checked
              ? await client.startDirect(names[0])
              : await client.startGroup(title.value.trim(), names);
            members.value = '';
            title.value = '';
            direct.checked = true;
            sync();
            opened(id);
          } catch (e) {
            error.textContent = `Could not start the chat: ${e instanceof Error ? e.message : e}`;
          } finally {
            submit.disabled = false;
          }
        },
      },
    },
    h(
      'div',
      { class: 'segmented', role: 'radiogroup', 'aria-label': 'Kind of chat' },
      h('label', {}, direct, h('span', {}, 'Direct')),
      h('label', {}, group, h('span', {}, 'Group')),
    ),
    h('div', { class: 'field' }, members),
    titleRow,
    submit,
    error,
  );
  return form;
}
