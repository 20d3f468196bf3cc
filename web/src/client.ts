// The client's behaviour: what it does with each server frame, when it
// acknowledges delivery and reads, how sends leave the outbox, and what the
// views may ask for. State lives in the Store, the wire in Api and Socket.

import { Api, ApiError } from './api';
import { Media } from './media';
import { Outbox, type OutgoingMessage } from './outbox';
import type { Session } from './session';
import { Socket } from './socket';
import { ConvState, Store } from './store';
import type { Conversation, Message, ServerFrame } from './types';

const ACK_DELAY_MS = 150;
const TYPING_EVERY_MS = 2500;
/** A send the server called `sent` whose message did not come back by then is looked up. */
const SENT_RECONCILE_MS = 3000;

export class Client {
  readonly store: Store;
  readonly api: Api;
  readonly outbox: Outbox;
  readonly media: Media;
  readonly socket: Socket;
  /** A short notice for the user (a failed upload, a refused delete). */
  notice: string | null = null;
  /** Files being uploaded, per conversation. */
  readonly uploading = new Map<string, number>();

  private inflight = new Set<string>();
  private subscribed = new Set<string>();
  private orphans = new Map<string, Message[]>();
  private latest = new Map<string, Promise<void>>();
  private ackTimer: ReturnType<typeof setTimeout> | undefined;
  private reconcileTimer: ReturnType<typeof setTimeout> | undefined;
  private typingSent = new Map<string, number>();
  /** Per conversation, the message the next send answers. */
  private replying = new Map<string, Message>();
  private noticeTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly session: Session,
    private readonly onSignedOut: (why: string) => void,
  ) {
    this.store = new Store(session.user);
    this.api = new Api(session.token);
    this.outbox = new Outbox(`chat.outbox.${session.user}.${session.device}`);
    this.media = new Media(this.api);
    const ws = new URL('/v1/ws', location.href);
    ws.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws.searchParams.set('token', session.token);
    this.socket = new Socket(() => ws.href, {
      onFrame: (f) => this.onFrame(f),
      onState: (s) => {
        this.store.conn = s;
        if (s !== 'online') {
          this.inflight.clear();
          // Presence is live knowledge: unknown until subscribed again.
          this.store.presence.clear();
        }
        this.store.changed();
      },
      onFailure: (attempt) => {
        if (attempt % 3 === 0) void this.checkToken();
      },
    });
  }

  start(): void {
    document.addEventListener('visibilitychange', this.onVisibility);
    this.socket.start();
    void this.refreshList();
  }

  stop(): void {
    document.removeEventListener('visibilitychange', this.onVisibility);
    clearTimeout(this.ackTimer);
    clearTimeout(this.reconcileTimer);
    this.socket.stop();
    this.media.dispose();
  }

  private onVisibility = (): void => this.markRead();

  // ---- frames ----

  private onFrame(f: ServerFrame): void {
    switch (f.type) {
      case 'hello':
        this.inflight.clear();
        this.subscribed.clear();
        break;
      case 'synced':
        void this.afterSync();
        break;
      case 'message': {
        const { type: _t, ...m } = f;
        this.onMessage(m);
        break;
      }
      case 'message_deleted':
        this.store.markDeleted(f.conv, f.seq);
        break;
      case 'reaction':
        this.store.react(f.conv, f.seq, f.user, f.emoji, f.on);
        break;
      case 'message_edited':
        this.store.markEdited(f.conv, f.seq, f.body, f.edit_version, f.edited_ts);
        break;
      case 'sent':
        this.inflight.delete(f.client_msg_id);
        if (this.outbox.get(f.client_msg_id)?.state === 'pending') {
          this.outbox.set(f.client_msg_id, 'sent');
          this.store.changed();
        }
        break;
      case 'receipt':
        this.store.receipt(f.conv, f.user, f.kind, f.seq);
        break;
      case 'presence':
        this.store.setPresence({ user: f.user, online: f.online, last_seen: f.last_seen });
        break;
      case 'typing':
        this.store.setTyping(f.conv, f.user);
        break;
      case 'conversation':
        this.onConversation(f.conversation);
        break;
      case 'error':
        this.onError(f.code, f.message, f.ref, f.retry_after_ms);
        break;
      case 'pong':
        break;
    }
  }

  private onMessage(m: Message): void {
    const c = this.store.convs.get(m.conv);
    if (!c) {
      // A conversation this page has not heard of: fetch it, keep the message.
      const waiting = this.orphans.get(m.conv);
      if (waiting) waiting.push(m);
      else {
        this.orphans.set(m.conv, [m]);
        void this.adopt(m.conv);
      }
      return;
    }
    this.take(c, [m], true);
  }

  /** Adds messages; `live` ones came over the socket and are acknowledged. */
  private take(c: ConvState, msgs: Message[], live: boolean): void {
    for (const m of msgs) {
      if (m.sender === this.store.me && this.outbox.remove(m.client_msg_id)) {
        this.inflight.delete(m.client_msg_id);
      }
    }
    const fresh = this.store.addMessages(c.id, msgs);
    if (!live) return;
    for (const m of msgs) {
      if (m.seq > c.deliveredSeen) c.deliveredSeen = m.seq;
      // Sent again after a reconnect: our acknowledgement was lost; repeat it.
      if (m.seq <= c.deliveredAcked) c.deliveredAcked = m.seq - 1;
    }
    for (const m of fresh) {
      const theirs = m.sender !== this.store.me;
      if (theirs) c.typing.delete(m.sender);
      // Counted already when the server's list included it.
      if (m.seq <= c.unreadUpTo) continue;
      c.unreadUpTo = m.seq;
      if (theirs && !this.viewing(c) && m.seq > c.readSent) c.unread += 1;
    }
    this.scheduleAcks();
  }

  private async adopt(id: string): Promise<void> {
    try {
      const conv = await this.api.conversation(id);
      const c = this.store.upsertConversation(conv);
      const msgs = this.orphans.get(id) ?? [];
      this.orphans.delete(id);
      this.take(c, msgs, true);
      this.subscribePresence();
    } catch {
      this.orphans.delete(id);
    }
  }

  private onConversation(conv: Conversation): void {
    if (!conv.members.includes(this.store.me)) {
      this.store.removeConversation(conv.id);
      if (this.store.open === conv.id) location.hash = '#/';
      return;
    }
    this.store.upsertConversation(conv);
    this.subscribePresence();
  }

  private onError(code: string, message: string, ref?: string, retryAfter?: number): void {
    if (!ref || !this.outbox.get(ref)) return;
    this.inflight.delete(ref);
    if (code === 'rate_limited' || code === 'overloaded') {
      setTimeout(() => this.flushOutbox(), retryAfter ?? 2000);
      return;
    }
    this.outbox.set(ref, 'failed', message);
    this.store.changed();
  }

  /** After the backlog: the list, receipts and presence may have moved while away. */
  private async afterSync(): Promise<void> {
    this.flushAcks();
    this.flushOutbox();
    this.subscribePresence();
    clearTimeout(this.reconcileTimer);
    this.reconcileTimer = setTimeout(() => void this.reconcileSent(), SENT_RECONCILE_MS);
    await this.refreshList();
    await this.prepareOpen();
  }

  // ---- acknowledgements ----

  private scheduleAcks(): void {
    if (this.ackTimer !== undefined) return;
    this.ackTimer = setTimeout(() => this.flushAcks(), ACK_DELAY_MS);
  }

  private flushAcks(): void {
    clearTimeout(this.ackTimer);
    this.ackTimer = undefined;
    for (const c of this.store.convs.values()) {
      if (c.deliveredSeen > c.deliveredAcked) {
        if (this.socket.send({ type: 'delivered', conv: c.id, seq: c.deliveredSeen })) {
          c.deliveredAcked = c.deliveredSeen;
        }
      }
    }
    this.markRead();
  }

  private viewing(c: ConvState): boolean {
    return this.store.open === c.id && document.visibilityState === 'visible';
  }

  /** Reads everything in the open conversation, if the page is visible. */
  markRead(): void {
    const c = this.openConv();
    if (!c || !this.viewing(c)) return;
    if (c.unread !== 0) {
      c.unread = 0;
      this.store.changed();
    }
    const seq = c.newestSeq();
    if (seq > c.readSent && this.socket.send({ type: 'read', conv: c.id, seq })) {
      c.readSent = seq;
      this.store.receipt(c.id, this.store.me, 'read', seq);
    }
  }

  // ---- sending ----

  private flushOutbox(): void {
    for (const m of this.outbox.all()) {
      if (m.state !== 'pending' || this.inflight.has(m.client_msg_id)) continue;
      const sent = this.socket.send({
        type: 'send',
        conv: m.conv,
        client_msg_id: m.client_msg_id,
        body: m.body,
        ...(m.attachments.length ? { attachments: m.attachments } : {}),
        ...(m.reply_to ? { reply_to: m.reply_to } : {}),
      });
      if (!sent) return;
      this.inflight.add(m.client_msg_id);
    }
  }

  /** `sent` came but the message did not: it was sequenced while away. */
  private async reconcileSent(): Promise<void> {
    const convs = new Set(this.outbox.all().filter((m) => m.state === 'sent').map((m) => m.conv));
    for (const id of convs) {
      const c = this.store.convs.get(id);
      if (!c) continue;
      try {
        const page = await this.api.messages(id);
        this.take(c, page.messages, false);
      } catch {
        // Offline again; the next sync tries again.
      }
    }
  }

  async send(conv: string, body: string, files: File[]): Promise<void> {
    // The others stop showing "typing" when the message lands; the next
    // keystroke starts it again at once.
    this.typingSent.delete(conv);
    const attachments: string[] = [];
    if (files.length) {
      this.uploading.set(conv, (this.uploading.get(conv) ?? 0) + files.length);
      this.store.changed();
      try {
        for (const f of files) {
          const type = f.type || 'application/octet-stream';
          const id = await this.api.upload(f, type);
          this.media.seed(id, f, type);
          attachments.push(id);
        }
      } catch (e) {
        this.tell(`Upload failed: ${e instanceof Error ? e.message : e}`);
        return;
      } finally {
        this.uploading.set(conv, (this.uploading.get(conv) ?? files.length) - files.length);
        this.store.changed();
      }
    }
    const answering = this.replying.get(conv);
    this.replying.delete(conv);
    const m: OutgoingMessage = {
      conv,
      client_msg_id: crypto.randomUUID(),
      body,
      attachments,
      ...(answering ? { reply_to: answering.seq } : {}),
      created: Date.now(),
      state: 'pending',
    };
    this.outbox.add(m);
    this.store.changed();
    this.flushOutbox();
  }

  retry(clientMsgId: string): void {
    this.outbox.set(clientMsgId, 'pending');
    this.store.changed();
    this.flushOutbox();
  }

  discard(clientMsgId: string): void {
    this.outbox.remove(clientMsgId);
    this.store.changed();
  }

  typing(conv: string): void {
    const now = Date.now();
    if (now - (this.typingSent.get(conv) ?? 0) < TYPING_EVERY_MS) return;
    if (this.socket.send({ type: 'typing', conv })) this.typingSent.set(conv, now);
  }

  /** The message the next send in `conv` answers (`null`: none). */
  replyTo(conv: string, m: Message | null): void {
    if (m) this.replying.set(conv, m);
    else this.replying.delete(conv);
    this.store.changed();
  }

  replyTarget(conv: string): Message | undefined {
    return this.replying.get(conv);
  }

  /** Adds or removes my reaction; the `reaction` frame shows it. */
  async react(conv: string, seq: number, emoji: string, on: boolean): Promise<void> {
    try {
      await this.api.react(conv, seq, emoji, on);
    } catch (e) {
      this.tell(`Could not react: ${e instanceof Error ? e.message : e}`);
    }
  }

  async editMessage(conv: string, seq: number, body: string): Promise<void> {
    try {
      const m = await this.api.editMessage(conv, seq, body);
      this.store.markEdited(conv, seq, m.body, m.edit_version ?? 0, m.edited_ts ?? m.ts);
    } catch (e) {
      this.tell(`Could not edit: ${e instanceof Error ? e.message : e}`);
    }
  }

  async deleteMessage(conv: string, seq: number): Promise<void> {
    try {
      await this.api.deleteMessage(conv, seq);
      this.store.markDeleted(conv, seq);
    } catch (e) {
      this.tell(`Could not delete: ${e instanceof Error ? e.message : e}`);
    }
  }

  // ---- conversations ----

  private openConv(): ConvState | undefined {
    return this.store.open ? this.store.convs.get(this.store.open) : undefined;
  }

  async refreshList(): Promise<void> {
    try {
      this.store.applyList(await this.api.conversations());
      this.subscribePresence();
      const c = this.openConv();
      if (c && !c.historyLoaded) void this.prepareOpen();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.onSignedOut('Please sign in again.');
    }
  }

  /** Shows a conversation (or none) and loads what it needs. */
  async open(id: string | null): Promise<void> {
    if (this.store.open === id) return;
    this.store.open = id;
    this.store.changed();
    await this.prepareOpen();
  }

  /** The open conversation's latest page and receipts; then it is read. */
  private async prepareOpen(): Promise<void> {
    const c = this.openConv();
    if (!c) return;
    this.markRead();
    if (!c.historyLoaded) await this.loadLatest(c);
    await this.refreshReceipts(c);
    this.markRead();
  }

  private loadLatest(c: ConvState): Promise<void> {
    let p = this.latest.get(c.id);
    if (!p) {
      p = this.fetchLatest(c).finally(() => this.latest.delete(c.id));
      this.latest.set(c.id, p);
    }
    return p;
  }

  private async fetchLatest(c: ConvState): Promise<void> {
    try {
      const page = await this.api.messages(c.id);
      const pageOldest = page.messages[0]?.seq ?? Infinity;
      this.take(c, page.messages, false);
      c.historyLoaded = true;
      const oldest = c.oldestSeq() ?? 1;
      c.hasOlder = oldest > 1 && (page.has_more || oldest < pageOldest);
      this.store.changed();
    } catch {
      // Offline: loaded after the next sync.
    }
  }

  /** The page of history below the oldest message shown. */
  async loadOlder(id: string): Promise<void> {
    const c = this.store.convs.get(id);
    if (!c || !c.hasOlder || c.loadingOlder || !c.historyLoaded) return;
    const before = c.oldestSeq();
    if (before === null || before <= 1) {
      c.hasOlder = false;
      return;
    }
    c.loadingOlder = true;
    this.store.changed();
    try {
      const page = await this.api.messages(id, before);
      this.take(c, page.messages, false);
      c.hasOlder = page.has_more && page.messages.length > 0 && page.messages[0].seq > 1;
    } catch {
      // Offline: scrolling tries again.
    } finally {
      c.loadingOlder = false;
      this.store.changed();
    }
  }

  private async refreshReceipts(c: ConvState): Promise<void> {
    try {
      this.store.setReceipts(c.id, await this.api.receipts(c.id));
    } catch {
      // Offline: refreshed after the next sync.
    }
  }

  private subscribePresence(): void {
    if (this.store.conn !== 'online') return;
    const users = new Set<string>();
    for (const c of this.store.convs.values()) {
      const peer = this.store.peer(c);
      if (peer && peer !== this.store.me && !this.subscribed.has(peer)) users.add(peer);
    }
    if (users.size === 0) return;
    const list = Array.from(users);
    if (this.socket.send({ type: 'subscribe_presence', users: list })) {
      for (const u of list) this.subscribed.add(u);
    }
  }

  async startDirect(user: string): Promise<string> {
    const conv = await this.api.createDirect(user);
    this.store.upsertConversation(conv);
    this.subscribePresence();
    return conv.id;
  }

  async startGroup(title: string, members: string[]): Promise<string> {
    const conv = await this.api.createGroup(title, members);
    this.store.upsertConversation(conv);
    return conv.id;
  }

  // ---- the rest ----

  tell(text: string): void {
    this.notice = text;
    this.store.changed();
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      this.notice = null;
      this.store.changed();
    }, 6000);
  }

  /** After repeated failed connects: is the server down, or the token refused? */
  private async checkToken(): Promise<void> {
    try {
      await this.api.conversations();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) this.onSignedOut('Please sign in again.');
    }
  }
}
