//! Stream processors: each one is a consumer group on the log that derives
//! state or events from what it reads, deterministically, so reading a record
//! twice has the effect of reading it once.
//!
//! # Layout
//! - [`runner`]: the loop every processor shares (poll, handle, commit,
//!   retry, shut down); `dead_letter`: records that can never be applied
//!   set aside on `chat.deadletter`.
//! - [`sequencer`]: commands → seq, message store, membership; publishes the
//!   sequenced events.
//! - [`receipts`]: receipt commands → watermarks; publishes advances.
//! - [`fanout`]: events → per-user real-time channels.
//! - [`push`]: events → notifications for offline devices, through the
//!   operator's push gateway (a webhook), collapsed and retried.
//! - [`media`]: thumbnails of the images that sequenced messages carry.
//! - [`search`]: events → the search index.
//! - [`blob_gc`]: removes attachments no stored message carries.
//! - [`retention`]: removes what is older than the retention period.
//! - [`replay`]: runs processors over the whole log until it is idle, to
//!   rebuild a store.

pub mod blob_gc;
mod dead_letter;
pub mod fanout;
mod incarnation;
pub mod media;
mod prefetch;
pub mod push;
pub mod receipts;
pub mod replay;
pub mod retention;
pub mod runner;
pub mod search;
pub mod sequencer;

pub use runner::{run, Processor};

/// The consumer groups of the processors.
pub mod groups {
    pub const SEQUENCER: &str = "sequencer";
    pub const RECEIPTS: &str = "receipts";
    pub const FANOUT: &str = "fanout";
    pub const PUSH: &str = "push";
    pub const MEDIA: &str = "media";
    pub const SEARCH: &str = "search";
    /// The groups whose unread records an embedded log keeps
    /// (`LogOptions::retain_for`): the commands' readers, which always run,
    /// and whose loss would lose acknowledged commands. (The events'
    /// readers are repaired from the store or derive what can be lost; and
    /// a push processor turned off would hold expiry back for ever.)
    pub const RETAINED: &[&str] = &[SEQUENCER, RECEIPTS];
}

/// What a processor can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Port(#[from] chat_ports::PortError),
    #[error(transparent)]
    Codec(#[from] chat_events::Error),
    /// The log is not one the processor can go on from (a changed
    /// partition count): retried, so it goes on once an operator acted.
    #[error("{0}")]
    LogShape(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Whether the records can never be applied, however often they are
    /// handled again: a value the store refuses for good, or a record that
    /// does not decode with any schema of its name. Everything else (a
    /// store or broker down, overloaded or failing, a stale batch, a
    /// record of a newer schema that an upgraded processor will read) is
    /// retried and never skipped: a failure of the store is not the
    /// record's fault, and setting records aside for it would empty the
    /// partition into the dead-letter topic.
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Port(chat_ports::PortError::Refused { .. }) => true,
            Error::Port(
                chat_ports::PortError::Unavailable { .. }
                | chat_ports::PortError::Overloaded(_)
                | chat_ports::PortError::Storage { .. }
                | chat_ports::PortError::Corrupt { .. },
            ) => false,
            Error::Codec(chat_events::Error::UnknownFingerprint(_)) | Error::LogShape(_) => false,
            Error::Codec(_) => true,
        }
    }
}

/// Encodes derived records for the events topic, keyed by conversation,
/// each with the trace context of the command it came from.
pub(crate) fn event_records(
    codec: &chat_events::Codec,
    records: &[chat_domain::Event],
    traces: &[Option<String>],
) -> Result<Vec<chat_ports::OutRecord>> {
    let ts = chat_domain::time::now_ms();
    records
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let headers = match traces.get(i) {
                Some(Some(t)) => vec![(
                    chat_ports::log::TRACEPARENT.to_string(),
                    t.as_bytes().to_vec(),
                )],
                _ => Vec::new(),
            };
            Ok(chat_ports::OutRecord {
                topic: chat_events::topics::EVENTS.to_string(),
                key: r.key().to_string(),
                payload: codec.encode_event(r)?,
                headers,
                timestamp: ts,
            })
        })
        .collect()
}
