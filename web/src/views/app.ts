// The signed-in page: the list and the open chat side by side on a wide
// screen, one at a time on a narrow one. The open conversation is in the
// address (#/c/<id>), so a reload and the back button keep their place.

import type { Client } from '../client';
import { h } from './dom';
import { ChatView } from './chat';
import { Sidebar } from './sidebar';

function convFromHash(): string | null {
  const m = /^#\/c\/(.+)$/.exec(location.hash);
  return m ? decodeURIComponent(m[1]) : null;
}

export class AppView {
  readonly el: HTMLElement;
  private readonly sidebar: Sidebar;
  private readonly chat: ChatView;
  private readonly lightbox: HTMLElement;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly client: Client,
    signOut: () => void,
  ) {
    const go = (id: string | null) => {
      const hash = id ? `#/c/${encodeURIComponent(id)}` : '#/';
      if (location.hash !== hash) location.hash = hash;
      else this.route();
    };
    this.sidebar = new Sidebar(client, go, signOut, (id, seq) => {
      this.chat.reveal(id, seq);
      go(id);
    });
    this.chat = new ChatView(client, () => go(null), (id) => void this.zoom(id));
    this.lightbox = h('div', {
      class: 'lightbox',
      hidden: true,
      role: 'dialog',
      'aria-label': 'Image',
      'data-testid': 'lightbox',
      on: { click: () => this.closeZoom() },
    });
    this.el = h('div', { class: 'app', 'data-view': 'list' }, this.sidebar.el, this.chat.el, this.lightbox);
    this.unsubscribe = client.store.subscribe(() => this.render());
    window.addEventListener('hashchange', this.route);
    document.addEventListener('keydown', this.onKey);
  }

  start(): void {
    this.route();
    this.render();
  }

  dispose(): void {
    this.unsubscribe();
    this.sidebar.dispose();
    window.removeEventListener('hashchange', this.route);
    document.removeEventListener('keydown', this.onKey);
  }

  private route = (): void => {
    const id = convFromHash();
    this.el.dataset.view = id ? 'chat' : 'list';
    void this.client.open(id);
    this.render();
    if (id && matchMedia('(min-width: 720px)').matches) this.chat.focusComposer();
  };

  private onKey = (ev: KeyboardEvent): void => {
    if (ev.key !== 'Escape') return;
    if (!this.lightbox.hidden) this.closeZoom();
    else if (this.el.dataset.view === 'chat' && !matchMedia('(min-width: 720px)').matches) location.hash = '#/';
  };

  private async zoom(id: string): Promise<void> {
    try {
      const url = await this.client.media.original(id);
      this.lightbox.replaceChildren(h('img', { src: url, alt: 'Full-size image' }));
      this.lightbox.hidden = false;
    } catch (e) {
      this.client.tell(`Could not open the image: ${e instanceof Error ? e.message : e}`);
    }
  }

  private closeZoom(): void {
    this.lightbox.hidden = true;
    this.lightbox.replaceChildren();
  }

  private render(): void {
    this.sidebar.render();
    this.chat.render();
    const c = this.client.store.open ? this.client.store.convs.get(this.client.store.open) : null;
    const unread = Array.from(this.client.store.convs.values()).reduce((n, x) => n + x.unread, 0);
    document.title = `${unread ? `(${unread}) ` : ''}${c ? this.client.store.title(c) + ' · ' : ''}Chat`;
  }
}
