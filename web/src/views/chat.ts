// The open conversation: header (presence, last seen, typing), the message
// list (older pages load when scrolled to the top), and the composer
// (Enter sends, Shift+Enter breaks the line; files attach). A search
// result opens it at its message, highlighted.

import type { Client } from '../client';
import * as fmt from '../format';
import type { ConvState } from '../store';
import { h, icon, ICONS, reconcile, setAttr, setText } from './dom';
import { createBubble, updateBubble, type Bubble, type BubbleContext } from './message';
import { avatar } from './parts';

type Item = ({ key: string } & Bubble) | { key: string; kind: 'day'; label: string };

/** Scrolled to within this many pixels of an end counts as at that end. */
const NEAR_BOTTOM_PX = 80;
const NEAR_TOP_PX = 200;

export class ChatView {
  readonly el: HTMLElement;
  private conv: ConvState | null = null;
  private readonly header: HTMLElement;
  private readonly scroller: HTMLElement;
  private readonly items: HTMLElement;
  private readonly older: HTMLElement;
  private readonly input: HTMLTextAreaElement;
  private readonly fileInput: HTMLInputElement;
  private readonly staged: HTMLElement;
  private readonly uploading: HTMLElement;
  private readonly replyBar: HTMLElement;
  private readonly placeholder: HTMLElement;
  private readonly pane: HTMLElement;
  private files: File[] = [];
  private drafts = new Map<string, string>();
  private stickToBottom = true;
  private ctx: BubbleContext | null = null;
  /** A message to scroll to and highlight once it is loaded (from a search). */
  private target: { conv: string; seq: number } | null = null;

  constructor(
    private readonly client: Client,
    back: () => void,
    private readonly zoom: (id: string) => void,
  ) {
    this.header = h('header', { class: 'chat-header' });
    this.header.append(
      h(
        'button',
        { type: 'button', class: 'icon-button back', 'aria-label': 'Back to chats', 'data-testid': 'back', on: { click: back } },
        icon('back', ICONS.back),
      ),
      h('span', { class: 'header-avatar' }),
      h(
        'div',
        { class: 'who' },
        h('h2', { class: 'chat-title', 'data-testid': 'chat-title' }),
        h(
          'div',
          { class: 'status' },
          h('span', { class: 'presence-dot', 'data-testid': 'presence-dot', 'data-online': 'false' }),
          h('span', { class: 'last-seen', 'data-testid': 'last-seen' }),
          h('span', { class: 'members', 'data-testid': 'members' }),
          h('span', { class: 'typing', 'data-testid': 'typing', 'aria-live': 'polite' }),
        ),
      ),
    );

    this.older = h('div', { class: 'history-status', 'data-testid': 'history-status' });
    this.items = h('div', { class: 'items' });
    this.scroller = h(
      'div',
      { class: 'messages', 'data-testid': 'messages', tabindex: '0', 'aria-label': 'Messages' },
      this.older,
      this.items,
    );
    this.scroller.addEventListener('scroll', () => this.onScroll(), { passive: true });

    this.fileInput = h('input', {
      type: 'file',
      multiple: true,
      class: 'visually-hidden',
      'data-testid': 'file-input',
      on: {
        change: () => {
          this.files.push(...Array.from(this.fileInput.files ?? []));
          this.fileInput.value = '';
          this.renderStaged();
          this.input.focus();
        },
      },
    });
    this.input = h('textarea', {
      rows: 1,
      placeholder: 'Message',
      'aria-label': 'Message',
      'data-testid': 'composer-input',
      on: {
        keydown: (ev: KeyboardEvent) => {
          if (ev.key === 'Enter' && !ev.shiftKey && !ev.isComposing) {
            ev.preventDefault();
            this.submit();
          }
        },
        input: () => {
          this.autosize();
          if (this.conv && this.input.value.trim()) this.client.typing(this.conv.id);
        },
      },
    });
    this.staged = h('div', { class: 'staged', 'data-testid': 'staged-files' });
    this.uploading = h('div', { class: 'uploading', role: 'status', 'data-testid': 'uploading' });
    this.replyBar = h(
      'div',
      { class: 'reply-bar', 'data-testid': 'reply-bar', hidden: true },
      h('span', { class: 'reply-to' }),
      h(
        'button',
        {
          type: 'button',
          class: 'link',
          'aria-label': 'Cancel reply',
          'data-testid': 'cancel-reply',
          on: { click: () => this.conv && this.client.replyTo(this.conv.id, null) },
        },
        '×',
      ),
    );
    const composer = h(
      'form',
      {
        class: 'composer',
        on: {
          submit: (ev: SubmitEvent) => {
            ev.preventDefault();
            this.submit();
          },
        },
      },
      h(
        'label',
        { class: 'icon-button attach', title: 'Attach files', 'aria-label': 'Attach files' },
        this.fileInput,
        icon('clip', ICONS.clip),
      ),
      this.input,
      h('button', { type: 'submit', class: 'icon-button send', 'aria-label': 'Send', 'data-testid': 'send' }, icon('send', ICONS.send)),
    );

    this.pane = h('section', { class: 'chat-pane', 'aria-label': 'Conversation' }, this.header, this.scroller, this.uploading, this.staged, this.replyBar, composer);
    this.placeholder = h(
      'div',
      { class: 'chat-empty' },
      h('p', {}, 'Choose a conversation, or start one with the + button.'),
    );
    this.el = h('main', { class: 'chat', 'data-testid': 'chat' }, this.placeholder, this.pane);
  }

  private submit(): void {
    if (!this.conv) return;
    const body = this.input.value.trim();
    if (!body && this.files.length === 0) return;
    const files = this.files;
    this.files = [];
    this.input.value = '';
    this.drafts.delete(this.conv.id);
    this.autosize();
    this.renderStaged();
    this.stickToBottom = true;
    void this.client.send(this.conv.id, body, files);
  }

  private autosize(): void {
    this.input.style.height = 'auto';
    this.input.style.height = `${Math.min(this.input.scrollHeight, 160)}px`;
  }

  private renderStaged(): void {
    this.staged.hidden = this.files.length === 0;
    this.staged.replaceChildren(
      ...this.files.map((f, i) =>
        h(
          'span',
          { class: 'chip' },
          `${f.name} · ${fmt.size(f.size)}`,
          h(
            'button',
            {
              type: 'button',
              class: 'chip-x',
              'aria-label': `Remove ${f.name}`,
              on: {
                click: () => {
                  this.files.splice(i, 1);
                  this.renderStaged();
                },
              },
            },
            '×',
          ),
        ),
      ),
    );
  }

  private onScroll(): void {
    const s = this.scroller;
    this.stickToBottom = s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
    if (this.conv && s.scrollTop < NEAR_TOP_PX) void this.client.loadOlder(this.conv.id);
  }

  /** Shows message `seq` of `conv` once that conversation is open and the message loaded. */
  reveal(conv: string, seq: number): void {
    this.target = Number.isSafeInteger(seq) ? { conv, seq } : null;
  }

  focusComposer(): void {
    if (this.conv) this.input.focus();
  }

  render(): void {
    const { store } = this.client;
    const c = store.open ? store.convs.get(store.open) ?? null : null;
    this.placeholder.hidden = c !== null;
    this.pane.hidden = c === null;
    if (c !== this.conv) this.switchTo(c);
    if (!c) return;
    this.renderHeader(c);

    const s = this.scroller;
    const anchor = this.items.querySelector<HTMLElement>('[data-seq]');
    const anchorTop = anchor?.offsetTop ?? 0;
    const topBefore = s.scrollTop;
    reconcile(
      this.items,
      this.itemsOf(c),
      (i) => i.key,
      (i) => (i.kind === 'day' ? h('div', { class: 'day', role: 'separator' }, h('span', {})) : createBubble(i, this.ctx!)),
      (el, i) => (i.kind === 'day' ? setText(el.firstElementChild!, i.label) : updateBubble(el, i, this.ctx!)),
    );
    this.renderHistoryStatus(c);
    this.renderReplyBar(c);
    if (this.stickToBottom) s.scrollTop = s.scrollHeight;
    else if (anchor?.isConnected && anchor.offsetTop !== anchorTop) {
      // Older messages went in above: keep the ones on screen where they were.
      s.scrollTop = topBefore + (anchor.offsetTop - anchorTop);
    }
    this.revealTarget(c);
    // Not enough to scroll yet: fetch more until there is.
    if (c.hasOlder && c.historyLoaded && s.scrollHeight <= s.clientHeight + NEAR_TOP_PX) {
      void this.client.loadOlder(c.id);
    }
  }

  /** Scrolls to the target message, paging older history in until it is there. */
  private revealTarget(c: ConvState): void {
    const t = this.target;
    if (!t || t.conv !== c.id) return;
    const row = this.items.querySelector<HTMLElement>(`:scope > [data-seq="${t.seq}"]`);
    if (row) {
      this.target = null;
      this.items.querySelector('.found')?.classList.remove('found');
      row.classList.add('found');
      const s = this.scroller;
      s.scrollTop = row.offsetTop - (s.clientHeight - row.offsetHeight) / 2;
      this.stickToBottom = s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
      return;
    }
    if (!c.historyLoaded || c.loadingOlder) return;
    const oldest = c.oldestSeq();
    if (c.hasOlder && oldest !== null && t.seq < oldest) void this.client.loadOlder(c.id);
    else this.target = null; // Not in this conversation's history (gone): just open it.
  }

  private switchTo(c: ConvState | null): void {
    if (this.target && this.target.conv !== c?.id) this.target = null;
    if (this.conv) this.drafts.set(this.conv.id, this.input.value);
    this.conv = c;
    this.items.replaceChildren();
    this.files = [];
    this.renderStaged();
    this.stickToBottom = true;
    if (!c) return;
    this.ctx = {
      client: this.client,
      conv: c,
      onMediaLoaded: () => {
        if (this.stickToBottom) this.scroller.scrollTop = this.scroller.scrollHeight;
      },
      onZoom: this.zoom,
      onReply: () => this.input.focus(),
    };
    this.input.value = this.drafts.get(c.id) ?? '';
    this.autosize();
    const title = this.client.store.title(c);
    this.header.querySelector('.header-avatar')!.replaceChildren(avatar(title));
  }

  private itemsOf(c: ConvState): Item[] {
    const out: Item[] = [];
    let lastDay = '';
    const dayOf = (ts: number) => {
      const key = fmt.dayKey(ts);
      if (key !== lastDay) {
        lastDay = key;
        out.push({ key: `d:${key}`, kind: 'day', label: fmt.day(ts) });
      }
    };
    for (const m of c.sorted()) {
      dayOf(m.ts);
      out.push({ key: `s:${m.seq}`, kind: 'msg', m });
    }
    for (const o of this.client.outbox.of(c.id)) {
      dayOf(o.created);
      out.push({ key: `p:${o.client_msg_id}`, kind: 'out', o });
    }
    return out;
  }

  private renderReplyBar(c: ConvState): void {
    const m = this.client.replyTarget(c.id);
    this.replyBar.hidden = !m;
    setText(this.replyBar.querySelector('.reply-to')!, m ? `Replying to ${m.sender}: ${m.body.slice(0, 100)}` : '');
  }

  private renderHistoryStatus(c: ConvState): void {
    let text = '';
    if (c.loadingOlder || (!c.historyLoaded && c.messages.size === 0)) text = 'Loading…';
    else if (c.historyLoaded && !c.hasOlder && c.messages.size > 0) text = 'The beginning of the conversation';
    else if (c.historyLoaded && c.messages.size === 0 && this.client.outbox.of(c.id).length === 0) text = 'No messages yet. Say hello!';
    setText(this.older, text);
    this.older.hidden = !text;
    const n = this.client.uploading.get(c.id) ?? 0;
    this.uploading.hidden = n === 0;
    setText(this.uploading, n ? `Uploading ${n} file${n > 1 ? 's' : ''}…` : '');
  }

  private renderHeader(c: ConvState): void {
    const { store } = this.client;
    setText(this.header.querySelector('.chat-title')!, store.title(c));
    const dot = this.header.querySelector<HTMLElement>('.presence-dot')!;
    const seen = this.header.querySelector<HTMLElement>('.last-seen')!;
    const members = this.header.querySelector<HTMLElement>('.members')!;
    const typing = this.header.querySelector<HTMLElement>('.typing')!;
    const peer = store.peer(c);
    const typists = store.typists(c);
    if (peer) {
      const p = store.presence.get(peer);
      dot.hidden = !p;
      setAttr(dot, 'data-online', String(!!p?.online));
      setText(seen, !p ? '' : p.online ? 'online' : fmt.lastSeen(p.last_seen));
      members.hidden = true;
    } else {
      dot.hidden = true;
      setText(seen, '');
      members.hidden = false;
      const others = c.conv.members.filter((u) => u !== store.me);
      setText(members, ['you', ...others].join(', '));
    }
    typing.hidden = typists.length === 0;
    seen.hidden = typists.length > 0 || !seen.textContent;
    if (typists.length) members.hidden = true;
    setText(
      typing,
      typists.length === 0
        ? ''
        : typists.length === 1
          ? `${typists[0]} is typing…`
          : `${typists.slice(0, -1).join(', ')} and ${typists[typists.length - 1]} are typing…`,
    );
  }
}
