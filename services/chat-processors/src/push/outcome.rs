//! The `outcome` labels of `chat_pushes_total`.

/// The webhook accepted the notification (a 2xx answer).
pub const SENT: &str = "sent";
/// The device held a live connection when the notification fell due (or
/// before a retry): it gets the message over that connection.
pub const SKIPPED_ONLINE: &str = "skipped_online";
/// The device had already reported the announced message delivered.
pub const SKIPPED_DELIVERED: &str = "skipped_delivered";
/// A request failed and is made again after a pause.
pub const RETRIED: &str = "retried";
/// Every attempt failed; the notification went to the dead-letter topic.
pub const DEAD_LETTERED: &str = "dead_lettered";
/// Every attempt failed and the dead-letter record could not be appended.
pub const LOST: &str = "lost";
/// The collapser was full; the notification was never queued.
pub const DROPPED: &str = "dropped";
/// A message older than `max_age_ms` when read; counted once per message,
/// not per device.
pub const STALE: &str = "stale";
