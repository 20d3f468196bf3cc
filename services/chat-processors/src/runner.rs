//! The loop every processor runs: poll a batch, handle it, commit its
//! offsets only once its effects are durable. On a transient failure the
//! same batch is handled again after a backoff, so nothing is skipped; a
//! batch that keeps failing otherwise is handled record by record, and a
//! record that can never be applied is set aside on the dead-letter topic
//! (`dead_letter.rs`) so its partition moves on.

use crate::dead_letter::{Isolation, PERMANENT_TRIES};
use async_trait::async_trait;
use chat_ports::log::last_positions;
use chat_ports::{EventLog, LogConsumer, LogRecord, OutRecord, Position};
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

    /// Whether [`Processor::start`] may leave effects in flight. The runner
    /// then commits a batch's offsets only after the next `start` or a
    /// [`Processor::settle`] returned.
    fn pipelined(&self) -> bool {
        false
    }

    /// Applies a batch, possibly leaving the last of its effects in flight
    /// while the next batch is read; first makes those of the batch
    /// before durable (as `settle` does).
    async fn start(&self, records: &[LogRecord]) -> crate::Result<()> {
        self.handle(records).await
    }

    /// Returns once everything `start` left in flight is durable.
    async fn settle(&self) -> crate::Result<()> {
        Ok(())
    }

    /// The log reassigned this member's partitions (a rebalance): what the
    /// processor remembers of them may since have been changed by another
    /// member, and must be read again.
    fn reassigned(&self) {}

    /// Records to append with the dead letter of `record`, which this
    /// processor could never apply (`reason`): the sequencer tells the
    /// sender of a send it set aside, as for a send the rules refuse.
    fn set_aside(&self, _record: &LogRecord, _reason: &str) -> Vec<OutRecord> {
        Vec::new()
    }
}

/// Runs `processor` until `shutdown` fires.
pub async fn run(
    processor: Arc<dyn Processor>,
    log: Arc<dyn EventLog>,
    shutdown: CancellationToken,
    metrics: Arc<Metrics>,
) -> crate::Result<()> {
    let group = processor.group();
    let codec = chat_events::Codec::new();
    let mut consumer = log.consumer(group, processor.topics()).await?;
    tracing::info!(group, "The processor started.");
    // Offsets of a batch whose effects may still be in flight (pipelined
    // processors): committed once the next `start` or `settle` returns.
    let mut unsettled: Option<Vec<Position>> = None;
    let mut generation = consumer.generation();
    while !shutdown.is_cancelled() {
        // With a batch in flight, look for the next one without waiting:
        // if there is none, settle and commit now rather than later.
        let wait = if unsettled.is_some() {
            Duration::ZERO
        } else {
            Duration::from_millis(500)
        };
        let batch = tokio::select! {
            _ = shutdown.cancelled() => break,
            b = consumer.poll(BATCH, wait) => b,
        };
        let batch = match batch {
            Ok(b) if b.is_empty() => {
                if let Some(positions) = unsettled.take() {
                    if let Err(e) = processor.settle().await {
                        metrics.processor_failure(group);
                        tracing::warn!(group, error = %e, "The processor could not finish a batch; trying again.");
                        unsettled = Some(positions);
                        pause(&shutdown).await;
                        continue;
                    }
                    commit(consumer.as_mut(), group, &positions).await;
                }
                continue;
            }
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(group, error = %e, "The processor could not poll the log; retrying.");
                pause(&shutdown).await;
                continue;
            }
        };
        if consumer.generation() != generation {
            generation = consumer.generation();
            processor.reassigned();
        }
        let mut failures = 0u32;
        let started = Instant::now();
        loop {
            let e = match processor.start(&batch).await {
                Ok(()) => break,
                Err(e) => e,
            };
            failures += 1;
            metrics.processor_failure(group);
            if shutdown.is_cancelled() {
                return Ok(());
            }
            if e.is_permanent() && failures >= PERMANENT_TRIES {
                tracing::warn!(group, error = %e, failures, "The processor keeps failing a batch; handling it record by record.");
                let isolation = Isolation {
                    processor: processor.as_ref(),
                    log: log.as_ref(),
                    codec: &codec,
                    metrics: &metrics,
                    shutdown: &shutdown,
                };
                if !isolation.run(&batch).await {
                    return Ok(());
                }
                break;
            }
            tracing::warn!(group, error = %e, failures, "The processor failed a batch; handling it again.");
            backoff(failures, &shutdown).await;
        }
        let now = chat_domain::time::now_ms();
        let ages: Vec<Duration> = batch
            .iter()
            .map(|r| Duration::from_millis((now - r.timestamp).max(0) as u64))
            .collect();
        metrics.batch(group, batch.len() as u64, started.elapsed(), &ages);
        // `start` settled the batch before this one.
        if let Some(positions) = unsettled.take() {
            commit(consumer.as_mut(), group, &positions).await;
        }
        if processor.pipelined() {
            unsettled = Some(last_positions(&batch));
        } else {
            commit(consumer.as_mut(), group, &last_positions(&batch)).await;
        }
    }
    if let Some(positions) = unsettled {
        // Shutting down: what is in flight finishes, or is handled again
        // after the restart.
        if processor.settle().await.is_ok() {
            commit(consumer.as_mut(), group, &positions).await;
        }
    }
    tracing::info!(group, "The processor stopped.");
    Ok(())
}

async fn commit(consumer: &mut dyn LogConsumer, group: &str, positions: &[Position]) {
    if let Err(e) = consumer.commit(positions).await {
        // Not fatal: the batch is handled again after a restart, and
        // handling is idempotent.
        tracing::warn!(group, error = %e, "The processor could not commit its offsets.");
    }
}

async fn pause(shutdown: &CancellationToken) {
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
    }
}

/// Waits before try `failures + 1`: 200 ms doubling to at most 5 s, with up
/// to a quarter of it added at random, so processors that failed together
/// do not retry together; a shutdown ends the wait.
pub(crate) async fn backoff(failures: u32, shutdown: &CancellationToken) {
    let base = Duration::from_millis(200)
        .saturating_mul(1 << failures.saturating_sub(1).min(5))
        .min(Duration::from_secs(5));
    let jitter = base.mul_f64(random_fraction() / 4.0);
    tokio::select! {
        _ = shutdown.cancelled() => {}
        _ = tokio::time::sleep(base + jitter) => {}
    }
}

/// A number in [0, 1) from the process's random hasher keys.
fn random_fraction() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(chat_domain::time::now_ms() as u64);
    (h.finish() >> 11) as f64 / (1u64 << 53) as f64
}
