// One message bubble: what it answers, body, attachments, time, "edited",
// ticks (or "read by n of m" in groups); reply on every message, and on my
// own, edit and delete for everyone. Sequenced messages and sends still in
// the outbox share the look.

import type { Client } from '../client';
import * as fmt from '../format';
import { isImage } from '../media';
import type { OutgoingMessage } from '../outbox';
import type { ConvState } from '../store';
import type { Message, Reaction } from '../types';
import { h, icon, ICONS, setAttr, setText } from './dom';
import { tickIcon, type MessageState } from './parts';

export type Bubble =
  | { kind: 'msg'; m: Message }
  | { kind: 'out'; o: OutgoingMessage };

export interface BubbleContext {
  client: Client;
  conv: ConvState;
  /** An image finished loading (the list may need to stay scrolled down). */
  onMediaLoaded(): void;
  /** Show an image full size. */
  onZoom(id: string): void;
  /** A message was chosen to answer: the composer takes the focus. */
  onReply(): void;
}

function facts(b: Bubble, me: string) {
  if (b.kind === 'msg') {
    const { m } = b;
    return {
      mine: m.sender === me,
      sender: m.sender,
      body: m.body,
      attachments: m.attachments,
      ts: m.ts,
      deleted: m.deleted,
      seq: m.seq as number | null,
      edited: (m.edit_version ?? 0) > 0,
      reply: m.reply_to ?? null,
      reactions: m.reactions ?? [],
    };
  }
  const { o } = b;
  return {
    mine: true,
    sender: me,
    body: o.body,
    attachments: o.attachments,
    ts: o.created,
    deleted: false,
    seq: null,
    edited: false,
    reply: null,
    reactions: [] as Reaction[],
  };
}

export function createBubble(b: Bubble, ctx: BubbleContext): HTMLElement {
  const f = facts(b, ctx.client.store.me);
  const group = ctx.conv.conv.kind === 'group';
  const bubble = h(
    'div',
    { class: 'bubble' },
    group && !f.mine ? h('div', { class: 'sender', 'data-testid': 'sender' }, f.sender) : null,
    h(
      'div',
      { class: 'quote', 'data-testid': 'reply-quote', hidden: true },
      h('span', { class: 'quote-sender' }),
      h('span', { class: 'quote-text' }),
    ),
    h('div', { class: 'attachments' }),
    h('div', { class: 'body', 'data-testid': 'message-body' }),
    h('div', { class: 'reactions', 'data-testid': 'reactions' }),
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'read-count', 'data-testid': 'read-count' }),
      h('span', { class: 'edited', 'data-testid': 'edited', hidden: true }, 'edited'),
      h('time', { class: 'time' }, fmt.clock(f.ts)),
      h('span', { class: 'tick-slot' }),
    ),
  );
  const row = h('div', { class: `msg ${f.mine ? 'mine' : 'theirs'}`, 'data-testid': 'message' }, bubble);
  if (f.sender && group && !f.mine) bubble.querySelector<HTMLElement>('.sender')!.style.color = fmt.colour(f.sender);
  row.append(actions(row, ctx, f.mine));
  return row;
}

/** The reaction the bubble's action adds. */
const QUICK = '\u{1f44d}';

/** Reply and react on every message; on my own, edit and delete for everyone. */
function actions(row: HTMLElement, ctx: BubbleContext, mine: boolean): HTMLElement {
  const seqOf = () => Number(row.dataset.seq);
  const reply = h(
    'button',
    {
      type: 'button',
      class: 'msg-action',
      'aria-label': 'Reply',
      title: 'Reply',
      'data-testid': 'reply-message',
      on: {
        click: () => {
          const m = ctx.conv.messages.get(seqOf());
          if (m) ctx.client.replyTo(ctx.conv.id, m);
          ctx.onReply();
        },
      },
    },
    icon('reply', ICONS.reply),
  );
  const like = h(
    'button',
    {
      type: 'button',
      class: 'msg-action',
      'aria-label': `React ${QUICK}`,
      title: `React ${QUICK}`,
      'data-testid': 'react-message',
      on: {
        click: () => {
          const m = ctx.conv.messages.get(seqOf());
          if (!m) return;
          const mineAlready = (m.reactions ?? []).some((r) => r.emoji === QUICK && r.users.includes(ctx.client.store.me));
          void ctx.client.react(ctx.conv.id, m.seq, QUICK, !mineAlready);
        },
      },
    },
    QUICK,
  );
  if (!mine) return h('div', { class: 'actions' }, reply, like);
  const input = h('textarea', { rows: 2, 'aria-label': 'Edit message', 'data-testid': 'edit-input' });
  const editor = h(
    'form',
    {
      class: 'editor',
      hidden: true,
      on: {
        submit: (ev: SubmitEvent) => {
          ev.preventDefault();
          const body = input.value.trim();
          editor.hidden = true;
          if (body && seqOf()) void ctx.client.editMessage(ctx.conv.id, seqOf(), body);
        },
      },
    },
    input,
    h('button', { type: 'submit', 'data-testid': 'save-edit' }, 'Save'),
    h('button', { type: 'button', class: 'link', on: { click: () => (editor.hidden = true) } }, 'Cancel'),
  );
  const editButton = h(
    'button',
    {
      type: 'button',
      class: 'msg-action edit-action',
      'aria-label': 'Edit',
      title: 'Edit',
      'data-testid': 'edit-message',
      on: {
        click: () => {
          input.value = ctx.conv.messages.get(seqOf())?.body ?? '';
          editor.hidden = !editor.hidden;
          if (!editor.hidden) input.focus();
        },
      },
    },
    icon('pencil', ICONS.pencil),
  );
  return h('div', { class: 'actions' }, reply, like, editButton, deleteActions(row, ctx), editor);
}

/** The delete button, then its confirmation, on my own messages. */
function deleteActions(row: HTMLElement, ctx: BubbleContext): HTMLElement {
  const confirm = h(
    'div',
    { class: 'confirm', hidden: true },
    h(
      'button',
      {
        type: 'button',
        class: 'danger',
        'data-testid': 'confirm-delete',
        on: {
          click: () => {
            const seq = Number(row.dataset.seq);
            confirm.hidden = true;
            if (seq) void ctx.client.deleteMessage(ctx.conv.id, seq);
          },
        },
      },
      'Delete for everyone',
    ),
    h('button', { type: 'button', class: 'link', on: { click: () => (confirm.hidden = true) } }, 'Cancel'),
  );
  const button = h(
    'button',
    {
      type: 'button',
      class: 'msg-action',
      'aria-label': 'Delete for everyone',
      title: 'Delete for everyone',
      'data-testid': 'delete-message',
      on: { click: () => (confirm.hidden = !confirm.hidden) },
    },
    icon('trash', ICONS.trash),
  );
  return h('div', { class: 'delete' }, button, confirm);
}

export function updateBubble(el: HTMLElement, b: Bubble, ctx: BubbleContext): void {
  const { store } = ctx.client;
  const f = facts(b, store.me);
  setAttr(el, 'data-seq', f.seq === null ? null : String(f.seq));
  setAttr(el, 'data-mine', String(f.mine));
  setAttr(el, 'data-deleted', String(f.deleted));
  if (b.kind === 'out') setAttr(el, 'data-client-msg-id', b.o.client_msg_id);

  let state: MessageState | 'received' = 'received';
  let readCount = '';
  if (b.kind === 'out') state = b.o.state === 'failed' ? 'failed' : 'pending';
  else if (f.mine) {
    const t = store.tick(ctx.conv, b.m.seq);
    state = t.tick;
    if (ctx.conv.conv.kind === 'group' && !f.deleted) readCount = `read by ${t.read} of ${t.of}`;
  }
  // A send the server acknowledged but has not sequenced yet: one tick.
  if (b.kind === 'out' && b.o.state === 'sent') state = 'sent';
  setAttr(el, 'data-state', state);

  const slot = el.querySelector<HTMLElement>('.tick-slot')!;
  const shownTick = f.mine && !f.deleted ? state : '';
  if (slot.dataset.state !== shownTick) {
    slot.dataset.state = shownTick;
    slot.replaceChildren(shownTick ? tickIcon(shownTick as MessageState) : '');
  }
  const rc = el.querySelector<HTMLElement>('.read-count')!;
  rc.hidden = !readCount;
  setText(rc, readCount);

  const quote = el.querySelector<HTMLElement>('.quote')!;
  quote.hidden = !f.reply || f.deleted;
  if (f.reply) {
    setText(quote.querySelector('.quote-sender')!, f.reply.sender);
    setText(quote.querySelector('.quote-text')!, f.reply.deleted ? 'This message was deleted' : f.reply.preview);
    setAttr(quote, 'data-reply-seq', String(f.reply.seq));
  }
  const reactions = el.querySelector<HTMLElement>('.reactions')!;
  const shown = f.deleted ? [] : f.reactions;
  const key = JSON.stringify(shown);
  if (reactions.dataset.key !== key) {
    reactions.dataset.key = key;
    const me = ctx.client.store.me;
    reactions.replaceChildren(
      ...shown.map((r) => {
        const mineToo = r.users.includes(me);
        return h(
          'button',
          {
            type: 'button',
            class: `chip${mineToo ? ' mine' : ''}`,
            title: r.users.join(', '),
            'data-testid': 'reaction',
            'data-emoji': r.emoji,
            'data-count': String(r.count),
            on: { click: () => f.seq && void ctx.client.react(ctx.conv.id, f.seq, r.emoji, !mineToo) },
          },
          `${r.emoji} ${r.count}`,
        );
      }),
    );
  }
  reactions.hidden = shown.length === 0;
  const edited = el.querySelector<HTMLElement>('.edited')!;
  edited.hidden = !f.edited || f.deleted;

  const body = el.querySelector<HTMLElement>('.body')!;
  body.classList.toggle('deleted', f.deleted);
  setText(body, f.deleted ? 'This message was deleted' : f.body);
  body.hidden = !f.deleted && !f.body;

  const atts = el.querySelector<HTMLElement>('.attachments')!;
  const want = f.deleted ? '' : f.attachments.join(',');
  if (atts.dataset.ids !== want) {
    atts.dataset.ids = want;
    atts.replaceChildren(...(f.deleted ? [] : f.attachments.map((id) => attachment(id, ctx))));
  }

  const actionsEl = el.querySelector<HTMLElement>('.actions');
  if (actionsEl) actionsEl.hidden = f.deleted || f.seq === null;
  const editAction = el.querySelector<HTMLElement>('.edit-action');
  if (editAction) editAction.hidden = !f.body;

  if (b.kind === 'out' && b.o.state === 'failed') {
    let fail = el.querySelector<HTMLElement>('.failed');
    if (!fail) {
      const id = b.o.client_msg_id;
      fail = h(
        'div',
        { class: 'failed', role: 'alert' },
        h('span', { class: 'why' }),
        h('button', { type: 'button', class: 'link', on: { click: () => ctx.client.retry(id) } }, 'Retry'),
        h('button', { type: 'button', class: 'link', on: { click: () => ctx.client.discard(id) } }, 'Discard'),
      );
      el.querySelector('.bubble')!.append(fail);
    }
    setText(fail.querySelector('.why')!, `Not sent: ${b.o.error ?? 'refused'}`);
  } else el.querySelector('.failed')?.remove();
}

/** An attachment: an image preview, or a file to download. */
function attachment(id: string, ctx: BubbleContext): HTMLElement {
  const box = h(
    'div',
    { class: 'attachment loading', 'data-testid': 'attachment', 'data-attachment-id': id },
    'Loading attachment…',
  );
  const { media } = ctx.client;
  const show = () => {
    media.show(id).then(
      (shown) => {
        box.classList.remove('loading');
        const { info } = shown;
        if (shown.url) {
          const img = h('img', {
            src: shown.url,
            alt: fmt.kind(info.content_type),
            'data-testid': 'attachment-image',
            on: { load: () => ctx.onMediaLoaded() },
          });
          box.replaceChildren(
            h('button', { type: 'button', class: 'image', 'aria-label': 'Open image', on: { click: () => ctx.onZoom(id) } }, img),
          );
          return;
        }
        const name = `attachment-${id.slice(0, 10)}${fmt.extension(info.content_type)}`;
        box.replaceChildren(
          h(
            'button',
            {
              type: 'button',
              class: 'file',
              'data-testid': 'attachment-file',
              title: `Download ${name}`,
              on: {
                click: () =>
                  media.download(id, name).catch((e) => ctx.client.tell(`Download failed: ${e.message ?? e}`)),
              },
            },
            icon('file', ICONS.file),
            h(
              'span',
              { class: 'file-text' },
              h('span', { class: 'file-kind' }, isImage(info.content_type) ? 'Image' : fmt.kind(info.content_type)),
              h('span', { class: 'file-size' }, fmt.size(info.size)),
            ),
            icon('download', ICONS.download),
          ),
        );
      },
      () => {
        box.classList.remove('loading');
        box.replaceChildren(
          h('button', { type: 'button', class: 'link', on: { click: () => (box.replaceChildren('Loading attachment…'), show()) } }, 'Attachment unavailable — retry'),
        );
      },
    );
  };
  show();
  return box;
}
