// The HTTP half of the protocol: every call carries the bearer token and
// turns an error body ({"error":{"code","message"}}) into an ApiError.

import type {
  AttachmentInfo,
  AttachmentTicket,
  Conversation,
  ListedConversation,
  MemberReceipt,
  Message,
  Presence,
  PrivacySettings,
  SearchPage,
} from './types';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function failure(r: Response): Promise<ApiError> {
  let code = 'http_' + r.status;
  let message = r.statusText || code;
  try {
    const body = await r.json();
    if (body?.error) {
      code = body.error.code ?? code;
      message = body.error.message ?? message;
    }
  } catch {
    // Not a JSON error body; keep the status.
  }
  return new ApiError(r.status, code, message);
}

/** Dev login: `POST /v1/dev/token`. */
export async function devLogin(user: string, device: string): Promise<string> {
  const r = await fetch('/v1/dev/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user, device }),
  });
  if (!r.ok) throw await failure(r);
  return (await r.json()).token;
}

export interface Page {
  messages: Message[];
  has_more: boolean;
}

export interface SearchOptions {
  /** Only this conversation. */
  conv?: string;
  limit?: number;
  /** The `next_cursor` of the page before. */
  cursor?: string;
}

export class Api {
  constructor(private readonly token: string) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const r = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!r.ok) throw await failure(r);
    if (r.status === 204) return undefined as T;
    return (await r.json()) as T;
  }

  async conversations(): Promise<ListedConversation[]> {
    return (await this.call<{ conversations: ListedConversation[] }>('GET', '/v1/conversations'))
      .conversations;
  }

  conversation(id: string): Promise<Conversation> {
    return this.call('GET', `/v1/conversations/${encodeURIComponent(id)}`);
  }

  createDirect(user: string): Promise<Conversation> {
    return this.call('POST', '/v1/conversations', { kind: 'direct', members: [user] });
  }

  createGroup(title: string, members: string[]): Promise<Conversation> {
    return this.call('POST', '/v1/conversations', { kind: 'group', title, members });
  }

  /** The latest page when `before` is undefined, else the page below it. */
  messages(conv: string, before?: number, limit = 50): Promise<Page> {
    const q = new URLSearchParams({ limit: String(limit) });
    if (before !== undefined) q.set('before', String(before));
    return this.call('GET', `/v1/conversations/${encodeURIComponent(conv)}/messages?${q}`);
  }

  editMessage(conv: string, seq: number, body: string): Promise<Message> {
    return this.call('PATCH', `/v1/conversations/${encodeURIComponent(conv)}/messages/${seq}`, { body });
  }

  /** Adds (`on`) or removes my reaction with `emoji`. */
  react(conv: string, seq: number, emoji: string, on: boolean): Promise<void> {
    const path = `/v1/conversations/${encodeURIComponent(conv)}/messages/${seq}/reactions/${encodeURIComponent(emoji)}`;
    return this.call(on ? 'PUT' : 'DELETE', path);
  }

  deleteMessage(conv: string, seq: number): Promise<void> {
    return this.call('DELETE', `/v1/conversations/${encodeURIComponent(conv)}/messages/${seq}`);
  }

  async receipts(conv: string): Promise<MemberReceipt[]> {
    return (
      await this.call<{ members: MemberReceipt[] }>(
        'GET',
        `/v1/conversations/${encodeURIComponent(conv)}/receipts`,
      )
    ).members;
  }

  async presence(users: string[]): Promise<Presence[]> {
    const q = encodeURIComponent(users.join(','));
    return (await this.call<{ presence: Presence[] }>('GET', `/v1/presence?users=${q}`)).presence;
  }

  privacy(): Promise<PrivacySettings> {
    return this.call('GET', '/v1/privacy');
  }

  /** Changes the settings given; answers all of them as they are now. */
  setPrivacy(settings: Partial<PrivacySettings>): Promise<PrivacySettings> {
    return this.call('PUT', '/v1/privacy', settings);
  }

  /** Messages I can see that match `q` (not empty), most relevant first. */
  search(q: string, opts: SearchOptions = {}): Promise<SearchPage> {
    const p = new URLSearchParams({ q });
    if (opts.conv !== undefined) p.set('conv', opts.conv);
    if (opts.limit !== undefined) p.set('limit', String(opts.limit));
    if (opts.cursor !== undefined) p.set('cursor', opts.cursor);
    return this.call('GET', `/v1/search?${p}`);
  }

  /** Asks for an upload URL, then puts the bytes there. */
  async upload(file: Blob, contentType: string): Promise<string> {
    const ticket = await this.call<AttachmentTicket>('POST', '/v1/attachments', {
      content_type: contentType,
      size: file.size,
    });
    const r = await fetch(ticket.upload_url, {
      method: 'PUT',
      headers: { 'content-type': contentType },
      body: file,
    });
    if (!r.ok) throw await failure(r);
    return ticket.id;
  }

  attachmentInfo(id: string): Promise<AttachmentInfo> {
    return this.call('GET', `/v1/attachments/${encodeURIComponent(id)}/info`);
  }

  /** The bytes of an attachment (or its thumbnail), through the redirect. */
  async attachmentBlob(id: string, thumbnail: boolean): Promise<Blob> {
    const path = `/v1/attachments/${encodeURIComponent(id)}${thumbnail ? '/thumbnail' : ''}`;
    const r = await fetch(path, { headers: { authorization: `Bearer ${this.token}` } });
    if (!r.ok) throw await failure(r);
    return r.blob();
  }
}
