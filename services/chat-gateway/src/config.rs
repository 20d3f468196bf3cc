//! The gateway's settings.

use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Settings of the gateway role; every field has a compiled-in default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewayConfig {
    /// HS256 secret for tokens, at least 16 bytes. Unset (empty): a
    /// one-box server makes one on first start and keeps it in its data
    /// folder; a gateway of a fleet refuses to start.
    pub jwt_secret: String,
    /// The key of the local blob engine's signed URLs, at least 16 bytes;
    /// its own, so that the token secret cannot forge blob URLs (never
    /// derived from it). Unset: made and kept by a one-box server like
    /// `jwt_secret`; a fleet gateway refuses to start.
    pub blob_url_secret: String,
    /// Lifetime of minted tokens, seconds.
    pub token_ttl_secs: u64,
    /// `POST /v1/dev/token` mints tokens without a password. Unset: on for
    /// `serve` on the embedded log, off otherwise (PROTOCOL.md).
    pub dev_login: Option<bool>,
    /// The bearer token `GET /metrics` asks of every scraper. Unset
    /// (empty): `/metrics` answers loopback peers only (a reverse proxy on
    /// the same host makes every request loopback: set a token then).
    pub metrics_token: String,
    /// Largest message body, bytes (`too_large` past it).
    pub max_body_bytes: usize,
    /// Largest WebSocket frame or HTTP body, bytes; a bigger frame closes
    /// the connection with 1009. Always above `max_body_bytes`.
    pub max_frame_bytes: usize,
    /// Largest group, members.
    pub group_cap: usize,
    /// How long after its send a message may be edited, seconds (a rule:
    /// gateways and sequencers must have the same).
    pub edit_window_secs: u64,
    /// Sends per second per device, sustained.
    pub send_rate_per_sec: u32,
    /// Sends a device may burst above the rate.
    pub send_burst: u32,
    /// Frames queued for one connection before it counts as too slow and is
    /// disconnected.
    pub outbound_queue: usize,
    /// Bytes of frames queued for one connection before it counts as too
    /// slow: a frame can be six times its body once JSON escapes it, so a
    /// count of frames alone does not bound memory.
    pub outbound_queue_bytes: usize,
    /// Server ping period, milliseconds.
    pub ping_interval_ms: u64,
    /// A connection silent for this long is closed, milliseconds.
    pub idle_timeout_ms: u64,
    /// Browser origins allowed to open the WebSocket. Empty: only pages
    /// served from the gateway's own host. Requests without Origin (native
    /// clients) are always allowed.
    pub allowed_origins: Vec<String>,
    /// How long a request waits for its change to be applied, milliseconds.
    pub apply_timeout_ms: u64,
    /// Users one connection may watch for presence.
    pub max_presence_subscriptions: usize,
    /// Conversations with more members than this are published once on a
    /// conversation channel that members' gateways subscribe to, instead of
    /// once per member (read by the fan-out processor too).
    pub conversation_channel_above: usize,
    /// Read and write buffer of each WebSocket, bytes. Frames larger than
    /// this are read in several steps; most chat frames are far smaller, and
    /// every open connection holds these buffers (the library's default,
    /// 128 KiB each, would cost more memory than the rest of a session).
    pub ws_buffer_bytes: usize,
    /// The most a WebSocket may hold written but not yet taken by the
    /// client, bytes: a client that stops reading (while its pings, each
    /// answered by a pong, keep the connection alive) is cut off past it.
    /// It must hold the largest frame the server writes (a message of
    /// `max_frame_bytes`, escaped).
    pub ws_max_write_buffer_bytes: usize,
    /// Attachment uploads and downloads.
    pub attachments: AttachmentLimits,
    /// What one client may ask of the server besides sends.
    pub client_limits: ClientLimits,
}

/// Rates and caps that keep one user (with as many devices as it likes:
/// device ids are free) from making the server do much for little: each
/// frame below costs the client a few bytes and the server a fan-out, a
/// backlog or a watch.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientLimits {
    /// `typing` frames per user and conversation: one per this many ms,
    /// after a burst; the rest are dropped (typing is best effort).
    pub typing_every_ms: u64,
    pub typing_burst: u32,
    /// `sync` frames per device: one per this many ms, after a burst; the
    /// rest wait their turn (each sync sends a backlog).
    pub sync_every_ms: u64,
    pub sync_burst: u32,
    /// `subscribe_presence` frames per device, likewise (they wait).
    pub presence_every_ms: u64,
    pub presence_burst: u32,
    /// `delivered` and `read` per device (both transports): one per this
    /// many ms, after a burst. Past it a WebSocket's are merged, the
    /// highest seq per conversation and kind kept and handled when there
    /// is room (nothing lost: they are watermarks); HTTP's are
    /// `rate_limited`.
    pub receipts_every_ms: u64,
    pub receipt_burst: u32,
    /// Sends per user across all its devices, per second and burst (the
    /// per-device limit is `send_rate_per_sec`).
    pub user_sends_per_sec: u32,
    pub user_send_burst: u32,
    /// Conversations a user creates: one per this many ms, after a burst;
    /// past it `rate_limited` with `retry_after_ms`. Asking again for a
    /// direct conversation that exists is free.
    pub conversations_every_ms: u64,
    pub conversation_burst: u32,
    /// Members a user adds to groups, each one counted, the members named
    /// at a group's creation included: one per this many ms, after a
    /// burst. More at once than the burst never fits (`bad_request`): keep
    /// it at least the group cap, so that one full group always does.
    pub member_adds_every_ms: u64,
    pub member_add_burst: u32,
    /// Searches of one user (`GET /v1/search`: an index query and up to
    /// 100 store reads each): one per this many ms, after a burst; past it
    /// `rate_limited` with `retry_after_ms`.
    pub searches_every_ms: u64,
    pub search_burst: u32,
    /// Open WebSocket connections per user, and per device of a user, on
    /// one gateway; past them an upgrade is answered 429 `rate_limited`
    /// with `retry_after_ms`. A browser's tabs share one device id, and a
    /// dead connection keeps its place until the idle timeout: the
    /// per-device cap leaves room for both.
    pub max_connections_per_user: usize,
    pub max_connections_per_device: usize,
    /// Open WebSocket connections per user across every gateway that
    /// shares its presence (a fleet on Redis), counted there at each
    /// upgrade; past it 429 `rate_limited`. 0: no fleet-wide cap.
    pub max_fleet_connections_per_user: usize,
    /// Bytes a user may store per UTC day, over the whole fleet: the
    /// bodies of its sends and edits, and the declared sizes of the
    /// attachments it uploads; past it `rate_limited` with the wait until
    /// 00:00 UTC. With the retention period it bounds what one user makes
    /// the stores hold. 0: no quota.
    pub daily_bytes: u64,
}

impl Default for ClientLimits {
    fn default() -> Self {
        Self {
            typing_every_ms: 1_000,
            typing_burst: 3,
            sync_every_ms: 1_000,
            sync_burst: 5,
            presence_every_ms: 1_000,
            presence_burst: 5,
            receipts_every_ms: 100,
            receipt_burst: 100,
            user_sends_per_sec: 50,
            user_send_burst: 100,
            conversations_every_ms: 3_000,
            conversation_burst: 20,
            member_adds_every_ms: 1_000,
            member_add_burst: 512,
            searches_every_ms: 200,
            search_burst: 20,
            max_connections_per_user: 32,
            max_connections_per_device: 8,
            max_fleet_connections_per_user: 64,
            daily_bytes: 1024 * 1024 * 1024,
        }
    }
}

/// Settings of the attachment API (PROTOCOL.md, "Attachments").
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttachmentLimits {
    /// Largest attachment, bytes (`too_large` past it).
    pub max_bytes: u64,
    /// How long signed upload and download URLs stay valid, seconds.
    pub url_ttl_secs: u64,
    /// An attachment no message carries is removed this long after its
    /// upload URL was issued, seconds. A send must name it within half of
    /// this, so that a send in flight never races the collector.
    pub unsent_grace_secs: u64,
    /// The base of the URLs the gateway signs for the local blob engine,
    /// e.g. `https://chat.example.com`. Unset: the scheme and `Host` of the
    /// request that asked for the URL.
    pub public_url: Option<String>,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024 * 1024,
            url_ttl_secs: 15 * 60,
            unsent_grace_secs: 24 * 3600,
            public_url: None,
        }
    }
}

impl AttachmentLimits {
    pub fn url_ttl(&self) -> Duration {
        Duration::from_secs(self.url_ttl_secs.max(1))
    }

    pub fn unsent_grace(&self) -> Duration {
        Duration::from_secs(self.unsent_grace_secs.max(1))
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            jwt_secret: String::new(),
            blob_url_secret: String::new(),
            token_ttl_secs: 7 * 24 * 3600,
            dev_login: None,
            metrics_token: String::new(),
            max_body_bytes: 64 * 1024,
            max_frame_bytes: 1024 * 1024,
            group_cap: 256,
            edit_window_secs: 15 * 60,
            send_rate_per_sec: 20,
            send_burst: 40,
            outbound_queue: 1024,
            outbound_queue_bytes: 4 * 1024 * 1024,
            ping_interval_ms: 15_000,
            idle_timeout_ms: 45_000,
            allowed_origins: Vec::new(),
            apply_timeout_ms: 5_000,
            max_presence_subscriptions: 1000,
            conversation_channel_above: 32,
            client_limits: ClientLimits::default(),
            ws_buffer_bytes: 4096,
            ws_max_write_buffer_bytes: 8 * 1024 * 1024,
            attachments: AttachmentLimits::default(),
        }
    }
}

impl GatewayConfig {
    pub fn ping_interval(&self) -> Duration {
        Duration::from_millis(self.ping_interval_ms.max(10))
    }

    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(self.idle_timeout_ms.max(20))
    }

    pub fn apply_timeout(&self) -> Duration {
        Duration::from_millis(self.apply_timeout_ms)
    }

    /// The limits the rules enforce, for gateways and sequencers alike.
    pub fn limits(&self) -> chat_domain::rules::Limits {
        chat_domain::rules::Limits {
            group_cap: self.group_cap,
            edit_window_ms: i64::try_from(self.edit_window_secs.saturating_mul(1000))
                .unwrap_or(i64::MAX),
        }
    }
}
