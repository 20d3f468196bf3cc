// What the client knows, and the rules that keep it consistent: messages
// keyed by (conversation, seq) so a replay after a reconnect never shows a
// message twice, receipt watermarks that only move forward, unread counts,
// presence and typing. Views read it; `changed` tells them to redraw.

import type { ConnState } from './socket';
import type { Conversation, ListedConversation, MemberReceipt, Message, Presence } from './types';

export interface Watermarks {
  delivered: number;
  read: number;
}

export type Tick = 'sent' | 'delivered' | 'read';

export const TYPING_SHOWN_MS = 4000;

export class ConvState {
  unread = 0;
  /** The highest seq `unread` accounts for (the server's count, then ours). */
  unreadUpTo = 0;
  last: Message | null = null;
  readonly messages = new Map<number, Message>();
  /** Whether the latest history page was fetched; older pages load on scroll. */
  historyLoaded = false;
  hasOlder = true;
  loadingOlder = false;
  readonly receipts = new Map<string, Watermarks>();
  /** user → when their "typing" stops showing. */
  readonly typing = new Map<string, number>();
  /** The highest seq this device acknowledged as delivered, and as read. */
  deliveredAcked = 0;
  deliveredSeen = 0;
  readSent = 0;

  constructor(public conv: Conversation) {}

  get id(): string {
    return this.conv.id;
  }

  activity(): number {
    return this.last?.ts ?? this.conv.created_at;
  }

  sorted(): Message[] {
    return Array.from(this.messages.values()).sort((a, b) => a.seq - b.seq);
  }

  oldestSeq(): number | null {
    let min: number | null = null;
    for (const s of this.messages.keys()) if (min === null || s < min) min = s;
    return min;
  }

  newestSeq(): number {
    let max = this.last?.seq ?? 0;
    for (const s of this.messages.keys()) if (s > max) max = s;
    return max;
  }

  watermark(user: string): Watermarks {
    let w = this.receipts.get(user);
    if (!w) {
      w = { delivered: 0, read: 0 };
      this.receipts.set(user, w);
    }
    return w;
  }
}

export class Store {
  conn: ConnState = 'connecting';
  readonly convs = new Map<string, ConvState>();
  readonly presence = new Map<string, Presence>();
  /** The conversation on screen, if any. */
  open: string | null = null;
  listLoaded = false;
  private listeners = new Set<() => void>();
  private scheduled = false;

  constructor(readonly me: string) {}

  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Redraws once after the current burst of changes. */
  changed(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      for (const fn of this.listeners) fn();
    });
  }

  /** Conversations by most recent activity. */
  list(): ConvState[] {
    return Array.from(this.convs.values()).sort((a, b) => b.activity() - a.activity());
  }

  upsertConversation(conv: Conversation): ConvState {
    let c = this.convs.get(conv.id);
    if (!c) {
      c = new ConvState(conv);
      this.convs.set(conv.id, c);
    } else {
      c.conv = { ...conv, last_seq: Math.max(conv.last_seq, c.conv.last_seq) };
    }
    this.changed();
    return c;
  }

  removeConversation(id: string): void {
    if (this.convs.delete(id)) this.changed();
  }

  /**
   * Takes the server's list as the truth for membership, unread and the last
   * message, keeping what arrived live after the server answered.
   */
  applyList(list: ListedConversation[]): void {
    const seen = new Set<string>();
    for (const lc of list) {
      seen.add(lc.id);
      const { unread, last_message, ...conv } = lc;
      const c = this.upsertConversation(conv);
      // The server counted up to its last_seq; add what came live after that.
      let later = 0;
      let upTo = lc.last_seq;
      for (const m of c.messages.values()) {
        if (m.seq > lc.last_seq && m.sender !== this.me && m.seq > c.readSent) later += 1;
        if (m.seq > upTo) upTo = m.seq;
      }
      c.unread = this.open === c.id ? 0 : unread + later;
      c.unreadUpTo = upTo;
      if (last_message && (!c.last || last_message.seq >= c.last.seq)) c.last = last_message;
    }
    for (const id of Array.from(this.convs.keys())) if (!seen.has(id)) this.convs.delete(id);
    this.listLoaded = true;
    this.changed();
  }

  /**
   * Adds messages, ignoring any (conv, seq) already known except to take a
   * newer deleted flag, a newer edit, or a reply's fresher view of what it
   * answers. Returns those that were new.
   */
  addMessages(conv: string, msgs: Message[]): Message[] {
    const c = this.convs.get(conv);
    if (!c) return [];
    const fresh: Message[] = [];
    for (const m of msgs) {
      const had = c.messages.get(m.seq);
      if (had) {
        const newer =
          (m.deleted && !had.deleted) ||
          (m.edit_version ?? 0) > (had.edit_version ?? 0) ||
          JSON.stringify(m.reply_to ?? null) !== JSON.stringify(had.reply_to ?? null);
        if (newer && !(had.deleted && !m.deleted)) {
          c.messages.set(m.seq, m);
          if (c.last?.seq === m.seq) c.last = m;
          this.changed();
        }
        continue;
      }
      c.messages.set(m.seq, m);
      fresh.push(m);
      if (!c.last || m.seq >= c.last.seq) c.last = m;
      if (m.seq > c.conv.last_seq) c.conv.last_seq = m.seq;
    }
    if (fresh.length) this.changed();
    return fresh;
  }

  /** A new body, unless this one is older than what is shown. */
  markEdited(conv: string, seq: number, body: string, version: number, ts: number): void {
    const c = this.convs.get(conv);
    if (!c) return;
    const m = c.messages.get(seq);
    if (!m || m.deleted || (m.edit_version ?? 0) >= version) return;
    const edited = { ...m, body, edit_version: version, edited_ts: ts };
    c.messages.set(seq, edited);
    if (c.last?.seq === seq) c.last = edited;
    this.changed();
  }

  /** A reaction added (`on`) or removed, as the server announced it. */
  react(conv: string, seq: number, user: string, emoji: string, on: boolean): void {
    const c = this.convs.get(conv);
    const m = c?.messages.get(seq);
    if (!c || !m) return;
    const reactions = (m.reactions ?? []).map((r) => ({ ...r, users: [...r.users] }));
    let r = reactions.find((x) => x.emoji === emoji);
    if (on && !r?.users.includes(user)) {
      if (!r) reactions.push((r = { emoji, count: 0, users: [] }));
      r.users.push(user);
    }
    if (!on && r) r.users = r.users.filter((u) => u !== user);
    const shown = reactions
      .map((x) => ({ ...x, count: x.users.length }))
      .filter((x) => x.count > 0)
      .sort((a, b) => b.count - a.count || (a.emoji < b.emoji ? -1 : a.emoji > b.emoji ? 1 : 0));
    c.messages.set(seq, { ...m, reactions: shown });
    this.changed();
  }

  markDeleted(conv: string, seq: number): void {
    const c = this.convs.get(conv);
    if (!c) return;
    const m = c.messages.get(seq);
    if (m) c.messages.set(seq, { ...m, deleted: true, body: '', attachments: [] });
    if (c.last?.seq === seq) c.last = { ...c.last, deleted: true, body: '', attachments: [] };
    this.changed();
  }

  setReceipts(conv: string, members: MemberReceipt[]): void {
    const c = this.convs.get(conv);
    if (!c) return;
    for (const r of members) this.receipt(conv, r.user, 'delivered', r.delivered_seq, false);
    for (const r of members) this.receipt(conv, r.user, 'read', r.read_seq, false);
    this.changed();
  }

  /** A watermark moves forward only; read implies delivered. */
  receipt(conv: string, user: string, kind: 'delivered' | 'read', seq: number, notify = true): void {
    const c = this.convs.get(conv);
    if (!c) return;
    const w = c.watermark(user);
    if (kind === 'read' && seq > w.read) w.read = seq;
    if (seq > w.delivered) w.delivered = seq;
    if (user === this.me && kind === 'read') this.readElsewhere(c, seq);
    if (notify) this.changed();
  }

  /** Another device of mine read up to `seq`. */
  private readElsewhere(c: ConvState, seq: number): void {
    if (seq <= c.readSent) return;
    c.readSent = seq;
    if (seq >= c.conv.last_seq) c.unread = 0;
    else {
      let left = 0;
      for (const m of c.messages.values()) if (m.seq > seq && m.sender !== this.me) left += 1;
      c.unread = Math.min(c.unread, left);
    }
  }

  /** Where a message of mine stands with the other members. */
  tick(c: ConvState, seq: number): { tick: Tick; read: number; of: number } {
    const others = c.conv.members.filter((u) => u !== this.me);
    let delivered = 0;
    let read = 0;
    for (const u of others) {
      const w = c.receipts.get(u);
      if (w && w.delivered >= seq) delivered += 1;
      if (w && w.read >= seq) read += 1;
    }
    const all = others.length;
    const tick: Tick =
      all > 0 && read === all ? 'read' : all > 0 && delivered === all ? 'delivered' : 'sent';
    return { tick, read, of: all };
  }

  setPresence(p: Presence): void {
    this.presence.set(p.user, p);
    this.changed();
  }

  setTyping(conv: string, user: string): void {
    const c = this.convs.get(conv);
    if (!c || user === this.me) return;
    c.typing.set(user, Date.now() + TYPING_SHOWN_MS);
    this.changed();
    setTimeout(() => this.changed(), TYPING_SHOWN_MS + 50);
  }

  /** Who is typing in a conversation now. */
  typists(c: ConvState): string[] {
    const now = Date.now();
    const out: string[] = [];
    for (const [u, until] of c.typing) {
      if (until > now) out.push(u);
      else c.typing.delete(u);
    }
    return out;
  }

  /** The other member of a direct conversation. */
  peer(c: ConvState): string | null {
    if (c.conv.kind !== 'direct') return null;
    return c.conv.members.find((u) => u !== this.me) ?? this.me;
  }

  title(c: ConvState): string {
    if (c.conv.kind === 'direct') return this.peer(c) ?? 'chat';
    return c.conv.title || c.conv.members.filter((u) => u !== this.me).join(', ') || 'group';
  }
}
