// The left column: who I am, the connection state, starting a chat, privacy
// settings, message search, and the conversation list with unread badges
// and last messages.

import type { Client } from '../client';
import * as fmt from '../format';
import type { ConvState } from '../store';
import { avatar, tickIcon } from './parts';
import { h, icon, ICONS, reconcile, setAttr, setText } from './dom';
import { newChatForm } from './newchat';
import { PrivacyForm } from './privacy';
import { SearchBox } from './search';

export class Sidebar {
  readonly el: HTMLElement;
  private readonly conn: HTMLElement;
  private readonly connLabel: HTMLButtonElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly notice: HTMLElement;
  private readonly form: HTMLElement;
  private readonly newButton: HTMLButtonElement;
  private readonly privacy: PrivacyForm;
  private readonly privacyButton: HTMLButtonElement;
  private readonly search: SearchBox;
  private countdown: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly client: Client,
    private readonly go: (conv: string | null) => void,
    signOut: () => void,
    /** Opens a conversation at a message (a search result). */
    found: (conv: string, seq: number) => void,
  ) {
    const me = client.session.user;
    this.connLabel = h(
      'button',
      { type: 'button', class: 'conn-label', on: { click: () => client.socket.retryNow() } },
    );
    this.conn = h(
      'div',
      { class: 'conn', 'data-testid': 'conn-state', role: 'status', 'aria-live': 'polite' },
      h('span', { class: 'conn-dot' }),
      this.connLabel,
    );
    this.form = newChatForm(client, (id) => {
      this.toggleForm(false);
      go(id);
    });
    this.form.hidden = true;
    this.newButton = h(
      'button',
      {
        type: 'button',
        class: 'icon-button',
        'aria-label': 'New chat',
        title: 'New chat',
        'aria-expanded': 'false',
        'data-testid': 'new-chat',
        on: { click: () => this.toggleForm(this.form.hidden) },
      },
      icon('plus', ICONS.plus),
    );
    this.privacy = new PrivacyForm(client.api);
    this.privacyButton = h(
      'button',
      {
        type: 'button',
        class: 'icon-button',
        'aria-label': 'Privacy',
        title: 'Privacy',
        'aria-expanded': 'false',
        'aria-controls': 'privacy-form',
        'data-testid': 'privacy',
        on: { click: () => this.togglePrivacy(this.privacy.el.hidden) },
      },
      icon('lock', ICONS.lock),
    );
    this.list = h('nav', { class: 'conv-list', 'aria-label': 'Conversations', 'data-testid': 'conversations' });
    this.empty = h(
      'p',
      { class: 'empty-list' },
      'No conversations yet. Start one with the + button: type the name another window signed in with.',
    );
    this.notice = h('div', { class: 'notice', role: 'alert', 'data-testid': 'notice' });
    this.search = new SearchBox(client, found, () => this.render());
    this.el = h(
      'aside',
      { class: 'sidebar' },
      h(
        'header',
        { class: 'side-header' },
        avatar(me),
        h(
          'div',
          { class: 'me' },
          h('div', { class: 'me-name', 'data-testid': 'me' }, me),
          this.conn,
        ),
        this.newButton,
        this.privacyButton,
        h(
          'button',
          {
            type: 'button',
            class: 'icon-button',
            'aria-label': 'Sign out',
            title: `Sign out (${me} · ${client.session.device})`,
            'data-testid': 'sign-out',
            on: { click: signOut },
          },
          icon('logout', ICONS.logout),
        ),
      ),
      this.form,
      this.privacy.el,
      this.search.form,
      this.notice,
      this.empty,
      this.list,
      this.search.panel,
    );
  }

  dispose(): void {
    clearInterval(this.countdown);
  }

  private toggleForm(show: boolean): void {
    if (show) this.togglePrivacy(false);
    this.form.hidden = !show;
    this.newButton.setAttribute('aria-expanded', String(show));
    if (show) this.form.querySelector('input[name=members]')?.dispatchEvent(new Event('focusme'));
  }

  /** Opens (reading the settings afresh) or closes the privacy form. */
  private togglePrivacy(show: boolean): void {
    if (show) {
      this.toggleForm(false);
      void this.privacy.show();
    } else this.privacy.hide();
    this.privacyButton.setAttribute('aria-expanded', String(show));
  }

  render(): void {
    const { store } = this.client;
    this.renderConn();
    const notice = this.client.notice;
    this.notice.hidden = !notice;
    setText(this.notice, notice ?? '');
    // A search's results take the list's place.
    this.search.render();
    const searching = this.search.active;
    this.list.hidden = searching;
    const items = store.list();
    this.empty.hidden = searching || !store.listLoaded || items.length > 0;
    reconcile(
      this.list,
      items,
      (c) => c.id,
      (c) => this.createItem(c),
      (el, c) => this.updateItem(el, c),
    );
  }

  private renderConn(): void {
    const { socket } = this.client;
    const state = this.client.store.conn;
    setAttr(this.conn, 'data-state', state);
    // Offline, the label is a button that retries at once.
    this.connLabel.disabled = state !== 'offline';
    this.connLabel.title = state === 'offline' ? 'Retry now' : '';
    const label = () => {
      if (state === 'online') return 'Online';
      if (state === 'connecting') return 'Connecting…';
      const secs = Math.max(0, Math.ceil((socket.retryAt - Date.now()) / 1000));
      return secs > 0 ? `Offline · retry in ${secs} s` : 'Offline';
    };
    setText(this.connLabel, label());
    clearInterval(this.countdown);
    if (state === 'offline') {
      this.countdown = setInterval(() => setText(this.connLabel, label()), 1000);
    }
  }

  private createItem(c: ConvState): HTMLElement {
    const title = this.client.store.title(c);
    return h(
      'a',
      {
        class: 'conv',
        href: `#/c/${encodeURIComponent(c.id)}`,
        'data-testid': 'conversation',
        'data-conv': c.id,
        on: {
          click: (ev: MouseEvent) => {
            ev.preventDefault();
            this.go(c.id);
          },
        },
      },
      avatar(title, c.conv.kind === 'direct'),
      h(
        'div',
        { class: 'conv-main' },
        h('div', { class: 'conv-top' }, h('span', { class: 'conv-title' }), h('time', { class: 'conv-time' })),
        h(
          'div',
          { class: 'conv-bottom' },
          h('span', { class: 'conv-last', 'data-testid': 'last-message' }),
          h('span', { class: 'unread-badge', 'data-testid': 'unread-badge' }),
        ),
      ),
    );
  }

  private updateItem(el: HTMLElement, c: ConvState): void {
    const { store } = this.client;
    const title = store.title(c);
    setAttr(el, 'data-title', title);
    setAttr(el, 'aria-current', store.open === c.id ? 'page' : null);
    setText(el.querySelector('.conv-title')!, title);
    const dot = el.querySelector<HTMLElement>('.avatar-dot');
    if (dot) {
      const peer = store.peer(c);
      const online = !!peer && !!store.presence.get(peer)?.online;
      setAttr(dot, 'data-online', String(online));
    }
    const time = el.querySelector('.conv-time')!;
    setText(time, fmt.listTime(c.activity()));

    const last = el.querySelector<HTMLElement>('.conv-last')!;
    const typists = store.typists(c);
    const m = c.last;
    let key: string;
    if (typists.length) key = `typing:${typists.join(',')}`;
    else if (!m) key = 'none';
    else {
      const mine = m.sender === store.me;
      const tick = mine && !m.deleted ? store.tick(c, m.seq).tick : '';
      key = `${m.seq}:${m.deleted}:${tick}`;
    }
    if (last.dataset.shown !== key) {
      last.dataset.shown = key;
      last.replaceChildren();
      last.classList.toggle('typing-text', typists.length > 0);
      if (typists.length) last.append(c.conv.kind === 'group' ? `${typists[0]} is typing…` : 'typing…');
      else if (!m) last.append(h('span', { class: 'muted' }, 'No messages yet'));
      else if (m.deleted) last.append(h('em', { class: 'muted' }, 'This message was deleted'));
      else {
        const mine = m.sender === store.me;
        if (mine) last.append(tickIcon(store.tick(c, m.seq).tick));
        const who = c.conv.kind === 'group' ? `${mine ? 'You' : m.sender}: ` : '';
        const text = m.body || (m.attachments.length ? 'Attachment' : '');
        last.append(`${who}${text}`);
      }
    }
    const badge = el.querySelector<HTMLElement>('.unread-badge')!;
    badge.hidden = c.unread === 0;
    setText(badge, c.unread > 99 ? '99+' : String(c.unread));
    setAttr(badge, 'aria-label', `${c.unread} unread`);
    el.classList.toggle('has-unread', c.unread > 0);
  }
}
