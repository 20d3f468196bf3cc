//! The server clock: milliseconds since the Unix epoch, as the protocol wants.

use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, server clock.
pub fn now_ms() -> i64 {
    // The one place the server reads the wall clock.
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now();
    now.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
