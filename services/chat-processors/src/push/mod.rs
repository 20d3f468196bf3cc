//! Push notifications for offline devices, through an HTTP webhook to the
//! operator's push gateway.
//!
//! # Flow
//! 1. [`Push`] is a [`Processor`](crate::Processor) (group `push`, topic
//!    `chat.events`). For each `MessageSequenced` record (others are
//!    ignored) it notifies the message's recipients (the members at its seq,
//!    `joined_after < seq`, as the sequencer lists them) except the sender,
//!    on every device the device store knows for them. Each (user, device,
//!    conversation) gets a pending notification in an in-memory collapser:
//!    the first message opens a window of `collapse_window_ms`, the ones
//!    that follow within it raise its `count` and replace its latest seq,
//!    sender and text. A message older than `max_age_ms` is not pushed at
//!    all (a new consumer group starts at the oldest retained record; its
//!    devices sync on connect instead).
//! 2. `handle` reads the recipients' device lists, queues, and returns: it
//!    never waits on the webhook, so neither the log nor the other
//!    processors' groups are held up by a slow or dead push gateway.
//! 3. [`Push::run`], the flusher, takes notifications as their windows close
//!    and delivers at most `concurrency` at once. While every slot is busy
//!    due notifications stay in the collapser and go on collapsing. More
//!    than `max_pending` of them and new ones are dropped (counted).
//! 4. At due time, and again before every retry, the notification is
//!    skipped if the device holds a live connection (`online_devices`) or
//!    its delivered watermark in the conversation already covers the seq:
//!    a device that comes online before the push is due is not pushed.
//!    When presence or receipts cannot be read it is pushed anyway.
//! 5. Otherwise it is `POST`ed (`http://` or `https://`) as JSON, with `Authorization: Bearer
//!    <webhook_token>` when a token is set:
//!    `{"user","device","conv","seq","sender","count","preview"?}`. The
//!    preview is the latest body cut to `preview_chars` characters, or
//!    [`ATTACHMENT_PREVIEW`] for attachments without text; it is left out
//!    when the user turned previews off or muted the conversation (a muted
//!    conversation is still pushed, as `PushSettings` defines muting), when
//!    the message was deleted for everyone meanwhile, or when any of that
//!    cannot be read.
//! 6. Any non-2xx answer, timeout (`timeout_ms`) or connection error is
//!    retried after `backoff_ms`, doubling up to `backoff_max_ms`, for
//!    `attempts` requests in all. Then a `PushDeadLettered` record (no
//!    message text) goes to `chat.push.deadletter`, keyed by user.
//!
//! # Guarantee: best effort
//! The processor's offsets are committed once the batch's notifications
//! are *queued*, not sent. A crash or a shutdown loses what is still
//! waiting in a window, for a delivery slot, or between retries; a batch
//! read again after a crash before the commit may push some devices twice
//! (the delivered-watermark check stops most of those). That is the
//! intended trade: a push is a hint to wake a device, and the messages
//! themselves are durable in the log and the store and reach every device
//! on connect (invariant 6). Collapsing and the retry state live in one
//! process: with several push processors, each one collapses the
//! conversations of the partitions it owns, which is every message of a
//! conversation, so collapsing still holds (but across a rebalance, when
//! the old and the new owner may each push once).
//!
//! # Metrics
//! `chat_pushes_total{outcome}`, with the outcomes of [`outcome`]; no user
//! or conversation ids in labels.
//!
//! # Wiring
//! ```text
//! if config.push.enabled() {
//!     let push = Arc::new(Push::new(config.push.clone(), stores, presence, log.clone(), codec, metrics.clone())?);
//!     tokio::spawn(push.clone().run(shutdown.clone()));
//!     tokio::spawn(chat_processors::run(push, log, shutdown, metrics));
//! }
//! ```

mod collapser;
mod config;
mod deadletter;
mod delivery;
mod flusher;
mod notification;
pub mod outcome;
mod processor;
mod webhook;

pub use config::{ConfigError, PushConfig};
pub use notification::ATTACHMENT_PREVIEW;

use chat_events::Codec;
use chat_ports::{EventLog, Presence, Stores};
use chat_telemetry::Metrics;
use collapser::Collapser;
use std::sync::{Arc, Mutex};
use tokio::sync::Notify;
use webhook::Webhook;

/// The push processor and its flusher's state.
pub struct Push {
    config: PushConfig,
    stores: Stores,
    presence: Arc<dyn Presence>,
    log: Arc<dyn EventLog>,
    codec: Arc<Codec>,
    metrics: Arc<Metrics>,
    webhook: Webhook,
    queue: Mutex<Collapser>,
    /// Wakes the flusher when a window opens.
    wake: Notify,
}

impl Push {
    /// Checks `config` and builds the webhook client; fails when push is
    /// off (no `webhook_url`, see [`PushConfig::enabled`]) or misconfigured.
    pub fn new(
        config: PushConfig,
        stores: Stores,
        presence: Arc<dyn Presence>,
        log: Arc<dyn EventLog>,
        codec: Arc<Codec>,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ConfigError> {
        let webhook = Webhook::new(&config)?;
        let queue = Mutex::new(Collapser::new(config.window(), config.max_pending));
        Ok(Self {
            config,
            stores,
            presence,
            log,
            codec,
            metrics,
            webhook,
            queue,
            wake: Notify::new(),
        })
    }

    /// Notifications waiting for their window to close or for a slot.
    pub fn pending(&self) -> usize {
        self.queue.lock().expect("push queue lock").len()
    }
}
