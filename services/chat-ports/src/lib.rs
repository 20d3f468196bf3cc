//! Ports: what the domain needs from the outside, as small traits, one per
//! aggregate, each held as `Arc<dyn Trait>`. Engines (embedded, and later
//! Kafka, Redis, PostgreSQL) implement them; processors and gateways only
//! see these traits.
//!
//! # Layout
//! - [`error`]: the one error type every port returns.
//! - [`log`]: the event log: topics, partitions, offsets, consumer groups.
//! - [`store`]: conversations, messages, receipts, last-seen.
//! - [`receipts`]: the receipts' max-merge every store engine calls.
//! - [`attachments`]: attachment records and the messages that carry them.
//! - [`devices`]: users' devices and push settings.
//! - [`blobs`]: attachment bytes behind signed URLs.
//! - [`channels`]: best-effort real-time channels per user.
//! - [`presence`]: who is online (soft state).
//! - [`search`]: the full-text index of messages, and the terms every
//!   engine indexes.
//! - `store_macro`: [`store_ports_from_methods!`], the port impls of an
//!   engine whose inherent methods follow its names.
//! - [`conformance`]: the conformance suites every engine runs (store,
//!   log, channels, presence).

pub mod attachments;
pub mod blobs;
pub mod channels;
pub mod conformance;
pub mod devices;
pub mod error;
pub mod log;
pub mod presence;
pub mod receipts;
pub mod replies;
pub mod search;
pub mod store;
mod store_macro;

#[doc(hidden)]
pub use async_trait::async_trait as __async_trait;
#[doc(hidden)]
pub use chat_domain as __domain;

pub use attachments::{Attachment, AttachmentStore};
pub use blobs::{BlobStore, Sealed};
pub use channels::{Channels, RealtimeEvent, RecvError, Subscription};
pub use devices::{Audience, DeviceStore, PrivacySettings, PushSettings};
pub use error::{PortError, Result};
pub use log::{EventLog, LogConsumer, LogRecord, OutRecord, Position};
pub use presence::{LiveConnections, Presence};
pub use receipts::{delivered_by_device, merge_receipt, merge_receipts};
pub use search::SearchIndex;
pub use store::{
    ConversationStore, LastSeenStore, LogCursor, MessageStore, ReceiptStore, ReceiptUpdate,
    SequencedBatch, SequencerStore, Stores, UsageStore,
};
