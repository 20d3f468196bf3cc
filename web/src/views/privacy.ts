// Privacy settings (the server's extension, docs/protocol.md "Privacy
// settings"): who sees my online status and last seen, and who may add me
// to groups. Read from the server each time the form opens; saved at once.

import type { Api } from '../api';
import type { Audience, PrivacySettings } from '../types';
import { h } from './dom';

const PRESENCE: [Audience, string][] = [
  ['everyone', 'Everyone'],
  ['contacts', 'My contacts'],
  ['nobody', 'Nobody'],
];
const GROUP_ADDS: [Audience, string][] = [
  ['everyone', 'Everyone'],
  ['contacts', 'My contacts'],
];

/** One question, as a row of radio buttons named `name`. */
function choice(name: keyof PrivacySettings, legend: string, options: [Audience, string][]): HTMLElement {
  return h(
    'fieldset',
    { class: 'privacy-choice' },
    h('legend', {}, legend),
    h(
      'div',
      { class: 'segmented' },
      ...options.map(([value, label]) =>
        h(
          'label',
          {},
          h('input', { type: 'radio', name, value, 'data-testid': `privacy-${name}-${value}` }),
          h('span', {}, label),
        ),
      ),
    ),
  );
}

export class PrivacyForm {
  readonly el: HTMLFormElement;
  private readonly status: HTMLElement;
  private readonly error: HTMLElement;
  private readonly save: HTMLButtonElement;
  /** What the server last said; a failed save puts it back. */
  private saved: PrivacySettings | null = null;
  /** Counts requests, so that an older answer never lands on a newer one. */
  private asked = 0;

  constructor(private readonly api: Api) {
    this.status = h('p', { class: 'form-status', role: 'status', 'data-testid': 'privacy-status' });
    this.error = h('p', { class: 'form-error', role: 'alert' });
    this.save = h('button', { type: 'submit', class: 'primary', 'data-testid': 'privacy-save' }, 'Save');
    this.el = h(
      'form',
      {
        class: 'new-chat privacy',
        id: 'privacy-form',
        'aria-label': 'Privacy',
        'data-testid': 'privacy-form',
        on: { submit: (ev: SubmitEvent) => void this.submit(ev), change: () => this.say('') },
      },
      choice('presence', 'Who sees my online status and last seen', PRESENCE),
      choice('group_adds', 'Who can add me to groups', GROUP_ADDS),
      h(
        'p',
        { class: 'hint muted' },
        'Contacts are the people you share a group with, or a direct chat you wrote in.',
      ),
      this.save,
      this.status,
      this.error,
    );
    this.el.hidden = true;
  }

  /** Shows the form with the settings the server has now. */
  async show(): Promise<void> {
    const ask = ++this.asked;
    this.el.hidden = false;
    // Nothing chosen until the server says what is.
    this.el.reset();
    this.enable(false);
    this.say('Loading…');
    try {
      const settings = await this.api.privacy();
      if (ask !== this.asked) return;
      this.fill(settings);
      this.say('');
      this.enable(true);
      this.el.querySelector<HTMLInputElement>('input[name="presence"]:checked')?.focus();
    } catch (e) {
      if (ask === this.asked) this.fail('Could not read the settings', e);
    }
  }

  private enable(on: boolean): void {
    for (const input of this.el.querySelectorAll<HTMLInputElement | HTMLButtonElement>('input, button')) {
      input.disabled = !on;
    }
  }

  hide(): void {
    this.el.hidden = true;
  }

  private fill(settings: PrivacySettings): void {
    this.saved = settings;
    for (const [name, value] of Object.entries(settings)) {
      const input = this.el.querySelector<HTMLInputElement>(`input[name="${name}"][value="${value}"]`);
      if (input) input.checked = true;
    }
  }

  private picked(name: keyof PrivacySettings): Audience | undefined {
    return (this.el.querySelector<HTMLInputElement>(`input[name="${name}"]:checked`)?.value as Audience) ?? undefined;
  }

  private async submit(ev: SubmitEvent): Promise<void> {
    ev.preventDefault();
    const ask = ++this.asked;
    this.say('');
    this.enable(false);
    try {
      const settings = await this.api.setPrivacy({
        presence: this.picked('presence'),
        group_adds: this.picked('group_adds'),
      });
      if (ask !== this.asked) return;
      this.fill(settings);
      this.say('Saved.');
    } catch (e) {
      if (ask !== this.asked) return;
      // The form shows what is in force, not the choice that was refused.
      if (this.saved) this.fill(this.saved);
      this.fail('Could not save the settings', e);
    } finally {
      if (ask === this.asked) this.enable(true);
    }
  }

  private say(text: string): void {
    this.status.textContent = text;
    this.error.textContent = '';
  }

  private fail(what: string, e: unknown): void {
    this.status.textContent = '';
    this.error.textContent = `${what}: ${e instanceof Error ? e.message : e}`;
  }
}
