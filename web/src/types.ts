// The shapes of PROTOCOL.md (../../../shared/PROTOCOL.md), as this client uses them.

export interface Conversation {
  id: string;
  kind: 'direct' | 'group';
  title: string | null;
  members: string[];
  admins: string[];
  created_at: number;
  last_seq: number;
}

export interface ListedConversation extends Conversation {
  unread: number;
  last_message: Message | null;
}

export interface Message {
  conv: string;
  seq: number;
  msg_id: string;
  sender: string;
  sender_device: string;
  client_msg_id: string;
  body: string;
  attachments: string[];
  ts: number;
  deleted: boolean;
  /** v1.1: 0 until edited. */
  edit_version?: number;
  edited_ts?: number | null;
  /** v1.1: the message of the same conversation this one answers. */
  reply_to?: Reply | null;
  /** v1.1: who reacted with what, most used first. */
  reactions?: Reaction[];
}

export interface Reaction {
  emoji: string;
  count: number;
  users: string[];
}

/** What a reply shows of the message it answers, as the server read it. */
export interface Reply {
  seq: number;
  sender: string;
  preview: string;
  deleted: boolean;
}

export interface MemberReceipt {
  user: string;
  delivered_seq: number;
  read_seq: number;
}

/** Who a privacy setting lets in (docs/protocol.md, "Privacy settings"). */
export type Audience = 'everyone' | 'contacts' | 'nobody';

export interface PrivacySettings {
  /** Who sees my online status and last seen. */
  presence: Audience;
  /** Who may add me to groups (everyone or contacts). */
  group_adds: Audience;
}

export interface Presence {
  user: string;
  online: boolean;
  last_seen: number | null;
}

export interface AttachmentTicket {
  id: string;
  upload_url: string;
  expires_at: number;
}

export interface AttachmentInfo {
  id: string;
  content_type: string;
  size: number;
  uploaded: boolean;
  thumbnail: boolean;
}

/** One hit of `GET /v1/search`: where the message is, and an excerpt of it. */
export interface SearchResult {
  conv: string;
  seq: number;
  sender: string;
  ts: number;
  /** Plain text, as people wrote it: shown as text, never as markup. */
  snippet: string;
}

/** A page of search hits, most relevant first. */
export interface SearchPage {
  results: SearchResult[];
  /** Where the next page starts; null on the last one. */
  next_cursor: string | null;
}

/** Frames the server sends over the WebSocket. */
export type ServerFrame =
  | { type: 'hello'; user: string; device: string; server_time: number }
  | { type: 'sent'; conv: string; client_msg_id: string; msg_id: string; ts: number }
  | ({ type: 'message' } & Message)
  | { type: 'message_deleted'; conv: string; seq: number }
  | { type: 'message_edited'; conv: string; seq: number; body: string; edit_version: number; edited_ts: number }
  | { type: 'reaction'; conv: string; seq: number; user: string; emoji: string; on: boolean }
  | { type: 'receipt'; conv: string; user: string; kind: 'delivered' | 'read'; seq: number }
  | ({ type: 'presence' } & Presence)
  | { type: 'typing'; conv: string; user: string }
  | { type: 'conversation'; conversation: Conversation }
  | { type: 'synced' }
  | { type: 'pong'; id?: unknown }
  | { type: 'error'; code: string; message: string; ref?: string; retry_after_ms?: number };

/** Frames this client sends. */
export type ClientFrame =
  | { type: 'send'; conv: string; client_msg_id: string; body: string; attachments?: string[]; reply_to?: number }
  | { type: 'delivered'; conv: string; seq: number }
  | { type: 'read'; conv: string; seq: number }
  | { type: 'typing'; conv: string }
  | { type: 'subscribe_presence'; users: string[] }
  | { type: 'sync'; after: Record<string, number> }
  | { type: 'ping'; id?: string | number };
