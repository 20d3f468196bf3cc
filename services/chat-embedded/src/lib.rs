//! Embedded engines: the product on one box, with the invariants of the
//! distributed one.
//!
//! # Layout
//! - [`log`]: the event log on redb: topics, partitions, offsets, consumer
//!   groups; group commit with fsync before an append returns.
//! - [`store`]: the message and state store on redb.
//! - [`channels`]: in-process real-time channels (tokio broadcast).
//! - [`presence`]: in-process presence, persisting last-seen in the store.

pub mod channels;
pub mod log;
pub mod presence;
pub mod store;

pub use log::{EmbeddedLog, FsyncPolicy, LogOptions};

pub use channels::InProcessChannels;
pub use presence::InProcessPresence;
pub use store::EmbeddedStore;
