// Sends that the server has not sequenced yet. Each is kept in localStorage
// (per user and device) from the moment it is typed until its message comes
// back with a seq, so it survives a disconnect and a reload; re-sending it is
// safe because the server dedupes on client_msg_id.

export type OutState = 'pending' | 'sent' | 'failed';

export interface OutgoingMessage {
  conv: string;
  client_msg_id: string;
  body: string;
  attachments: string[];
  /** The seq of the message it answers. */
  reply_to?: number;
  created: number;
  state: OutState;
  /** Why the server refused it, when `failed`. */
  error?: string;
}

export class Outbox {
  private items: OutgoingMessage[];

  constructor(private readonly key: string) {
    this.items = this.load();
  }

  private load(): OutgoingMessage[] {
    try {
      const raw = JSON.parse(localStorage.getItem(this.key) ?? '[]');
      return Array.isArray(raw) ? raw : [];
    } catch {
      return [];
    }
  }

  private save(): void {
    if (this.items.length === 0) localStorage.removeItem(this.key);
    else localStorage.setItem(this.key, JSON.stringify(this.items));
  }

  all(): readonly OutgoingMessage[] {
    return this.items;
  }

  of(conv: string): OutgoingMessage[] {
    return this.items.filter((m) => m.conv === conv);
  }

  get(id: string): OutgoingMessage | undefined {
    return this.items.find((m) => m.client_msg_id === id);
  }

  add(m: OutgoingMessage): void {
    this.items.push(m);
    this.save();
  }

  set(id: string, state: OutState, error?: string): boolean {
    const m = this.get(id);
    if (!m || (m.state === state && m.error === error)) return false;
    m.state = state;
    m.error = error;
    this.save();
    return true;
  }

  /** The message came back sequenced (or was dropped): forget it. */
  remove(id: string): boolean {
    const before = this.items.length;
    this.items = this.items.filter((m) => m.client_msg_id !== id);
    if (this.items.length === before) return false;
    this.save();
    return true;
  }
}
