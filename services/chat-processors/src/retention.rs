//! Retention: every sweep removes messages, and log records, older than the
//! retention period.

use chat_ports::{EventLog, MessageStore};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Sweeps until `shutdown` fires: first at once, then every `every`.
pub async fn run(
    messages: Arc<dyn MessageStore>,
    log: Arc<dyn EventLog>,
    retention: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        let cutoff = chat_domain::time::now_ms() - retention.as_millis() as i64;
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
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
