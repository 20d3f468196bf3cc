//! Embedded engines: the product on one box, with the invariants of the
//! distributed one.
//!
//! # Layout
//! - [`log`]: the event log on redb: topics, partitions, offsets, consumer
//!   groups; group commit with fsync before an append returns.
//! - [`store`]: the message and state store on redb.
//! - [`channels`]: in-process real-time channels (tokio broadcast).
//! - [`presence`]: in-process presence, persisting last-seen in the store.
//! - [`search`]: the full-text index of messages on tantivy.

pub mod channels;
pub mod log;
pub mod presence;
pub mod search;
pub mod store;

pub use log::{EmbeddedLog, FsyncPolicy, LogOptions};

pub use channels::InProcessChannels;
pub use presence::InProcessPresence;
pub use search::TantivyIndex;
pub use store::EmbeddedStore;
