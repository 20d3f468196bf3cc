//! Replay: a processor reads the log from its earliest retained record
//! under a fresh consumer group and applies everything up to the end each
//! partition had when the replay started (its high watermark). Processing
//! is deterministic, so the store it writes equals the live one for the
//! same log.

use crate::{Processor, Result};
use chat_ports::log::last_positions;
use chat_ports::{EventLog, PortError};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long a reader waits for a record it knows is there before it gives
/// up: joining a group on a broker takes seconds (the assignment).
pub const FIRST_RECORD_WAIT: Duration = Duration::from_secs(30);

/// Where a reader of some topics stands against their ends.
#[derive(Debug, Default)]
pub struct Progress {
    /// (topic, partition) -> the offset to reach (exclusive), for the
    /// partitions that hold records.
    remaining: BTreeMap<(String, u32), u64>,
}

impl Progress {
    /// The ends of `topics` now.
    pub async fn of(log: &dyn EventLog, topics: &[&str]) -> chat_ports::Result<Self> {
        let mut remaining = BTreeMap::new();
        for topic in topics {
            for (partition, end) in log.end_offsets(topic).await?.into_iter().enumerate() {
                if end > 0 {
                    remaining.insert((topic.to_string(), partition as u32), end);
                }
            }
        }
        Ok(Self { remaining })
    }

    /// Notes that everything up to `offset` of (topic, partition) is read.
    pub fn read(&mut self, topic: &str, partition: u32, offset: u64) {
        let key = (topic.to_string(), partition);
        if self
            .remaining
            .get(&key)
            .is_some_and(|end| offset + 1 >= *end)
        {
            self.remaining.remove(&key);
        }
    }

    /// Whether every partition is read to its end.
    pub fn done(&self) -> bool {
        self.remaining.is_empty()
    }
}

/// What one processor's replay handled, and how long it took.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Replayed {
    /// Records handled.
    pub records: u64,
    /// From the first record received to the last one handled: the
    /// replay's own speed, without the wait for the consumer group's
    /// assignment before it.
    pub reading: Duration,
}

impl Replayed {
    /// Records handled per second of [`Replayed::reading`].
    pub fn per_sec(&self) -> f64 {
        let secs = self.reading.as_secs_f64();
        if secs > 0.0 {
            self.records as f64 / secs
        } else {
            0.0
        }
    }
}

/// Runs `processor` under the group `<its group>-<suffix>` until it has
/// handled every record its topics held when it started. Fails when no
/// record comes for `stall` (or [`FIRST_RECORD_WAIT`] before the first)
/// while some are still to read.
pub async fn replay(
    processor: Arc<dyn Processor>,
    log: Arc<dyn EventLog>,
    suffix: &str,
    stall: Duration,
) -> Result<Replayed> {
    let group = format!("{}-{suffix}", processor.group());
    let mut progress = Progress::of(log.as_ref(), processor.topics()).await?;
    if progress.done() {
        return Ok(Replayed::default());
    }
    let mut consumer = log.consumer(&group, processor.topics()).await?;
    let mut handled = 0u64;
    let mut first: Option<std::time::Instant> = None;
    let mut quiet = Duration::ZERO;
    let step = Duration::from_millis(250).min(stall);
    while !progress.done() {
        let limit = if handled == 0 {
            FIRST_RECORD_WAIT.max(stall)
        } else {
            stall
        };
        if quiet >= limit {
            return Err(PortError::unavailable(
                "event log",
                format!("no record came for {quiet:?} with some still to replay"),
            )
            .into());
        }
        let batch = consumer.poll(512, step).await?;
        if batch.is_empty() {
            quiet += step;
            continue;
        }
        quiet = Duration::ZERO;
        first.get_or_insert_with(std::time::Instant::now);
        processor.handle(&batch).await?;
        consumer.commit(&last_positions(&batch)).await?;
        handled += batch.len() as u64;
        for r in &batch {
            progress.read(&r.topic, r.partition, r.offset);
        }
    }
    Ok(Replayed {
        records: handled,
        reading: first.map(|t| t.elapsed()).unwrap_or_default(),
    })
}
