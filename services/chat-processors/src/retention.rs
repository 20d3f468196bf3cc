//! Retention: every sweep removes messages, log records and search index
//! entries older than the retention period.
//!
//! It cuts by the wall clock, but never by one that ran ahead of the time
//! that really passed (the monotonic clock) since the first sweep of this
//! process: a wall clock stepped forward (a bad NTP server, an operator's
//! typo) would otherwise age every message at once. A clock stepped back
//! only keeps messages longer. The embedded log also never removes a
//! command the sequencer or receipts have not read (`LogOptions::retain_for`).

use chat_ports::{EventLog, MessageStore, SearchIndex};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// The time retention cuts by.
#[derive(Debug, Clone, Copy)]
pub struct RetentionClock {
    /// The wall clock (ms) and the monotonic clock at the first sweep.
    wall: i64,
    at: Instant,
}

impl RetentionClock {
    pub fn new(wall_ms: i64, at: Instant) -> Self {
        Self { wall: wall_ms, at }
    }

    /// Now, as retention trusts it: the wall clock `wall_ms` read at `at`,
    /// or less when it is ahead of the time that passed since the start.
    pub fn now(&self, wall_ms: i64, at: Instant) -> i64 {
        let passed = at.saturating_duration_since(self.at).as_millis() as i64;
        let bound = self.wall.saturating_add(passed);
        if wall_ms > bound + 60_000 {
            tracing::warn!(
                ahead_ms = wall_ms - bound,
                "The wall clock ran ahead of the time that passed; retention keeps to the latter."
            );
        }
        wall_ms.min(bound)
    }
}

/// Sweeps until `shutdown` fires: first at once, then every `every`.
pub async fn run(
    messages: Arc<dyn MessageStore>,
    log: Arc<dyn EventLog>,
    search: Option<Arc<dyn SearchIndex>>,
    retention: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    let clock = RetentionClock::new(chat_domain::time::now_ms(), Instant::now());
    loop {
        let now = clock.now(chat_domain::time::now_ms(), Instant::now());
        let cutoff = now - retention.as_millis() as i64;
        match messages.expire(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "Retention removed expired messages."),
            Err(e) => tracing::warn!(error = %e, "Retention could not sweep the store."),
        }
        match log.expire(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "Retention removed expired log records."),
            Err(e) => tracing::warn!(error = %e, "Retention could not sweep the log."),
        }
        if let Some(search) = &search {
            match search.expire(cutoff).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(
                    removed = n,
                    "Retention removed expired messages from the search index."
                ),
                Err(e) => tracing::warn!(error = %e, "Retention could not sweep the search index."),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_that_jumps_ahead_does_not_age_messages() {
        let start = Instant::now();
        let clock = RetentionClock::new(1_000_000, start);
        let later = start + Duration::from_secs(60);
        // A minute passed and the wall clock says so: trusted.
        assert_eq!(clock.now(1_060_000, later), 1_060_000);
        // The wall clock stepped a year ahead: a minute passed all the same.
        let year = 365 * 24 * 3_600_000;
        assert_eq!(clock.now(1_060_000 + year, later), 1_060_000);
        // Stepped back: messages are kept longer.
        assert_eq!(clock.now(900_000, later), 900_000);
    }
}
