//! The loop every processor runs: poll a batch, handle it, commit its
//! offsets only once its effects are durable; on failure handle the same
//! batch again after a pause, so nothing is skipped.

use async_trait::async_trait;
use chat_ports::log::last_positions;
use chat_ports::{EventLog, LogRecord};
use chat_telemetry::Metrics;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// Largest batch a processor handles at once.
const BATCH: usize = 512;

/// A stream processor.
#[async_trait]
pub trait Processor: Send + Sync + 'static {
    /// Its consumer group, and its name in logs.
    fn group(&self) -> &'static str;
    /// The topics it reads.
    fn topics(&self) -> &'static [&'static str];
    /// Applies a batch; returns once its effects are durable.
    async fn handle(&self, records: &[LogRecord]) -> crate::Result<()>;
}

/// Runs `processor` until `shutdown` fires.
pub async fn run(
    processor: Arc<dyn Processor>,
    log: Arc<dyn EventLog>,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
) -> crate::Result<()> {
    let group = processor.group();
    let mut consumer = log.consumer(group, processor.topics()).await?;
    tracing::info!(group, "The processor started.");
    while !shutdown.is_cancelled() {
        let batch = tokio::select! {
            _ = shutdown.cancelled() => break,
            b = consumer.poll(BATCH, Duration::from_millis(500)) => b,
        };
        let batch = match batch {
            Ok(b) if b.is_empty() => continue,
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(group, error = %e, "The processor could not poll the log; retrying.");
                pause(&shutdown).await;
                continue;
            }
        };
        let mut failures = 0u32;
        let started = Instant::now();
        loop {
            match processor.handle(&batch).await {
                Ok(()) => break,
                Err(e) => {
                    failures += 1;
                    metrics.processor_failure(group);
                    tracing::warn!(group, error = %e, failures, "The processor failed a batch; handling it again.");
                    if shutdown.is_cancelled() {
                        return Ok(());
                    }
                    pause(&shutdown).await;
                }
            }
        }
        let now = chat_domain::time::now_ms();
        let ages: Vec<Duration> = batch
            .iter()
            .map(|r| Duration::from_millis((now - r.timestamp).max(0) as u64))
            .collect();
        metrics.batch(group, batch.len() as u64, started.elapsed(), &ages);
        if let Err(e) = consumer.commit(&last_positions(&batch)).await {
            // Not fatal: the batch is handled again after a restart, and
            // handling is idempotent.
            tracing::warn!(group, error = %e, "The processor could not commit its offsets.");
        }
    }
    tracing::info!(group, "The processor stopped.");
    Ok(())
}

async fn pause(shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
    }
}
