//! The event log port: Kafka's model of topics split into partitions, each an
//! append-only sequence of records with offsets, read by consumer groups that
//! commit how far they got.

use crate::Result;
use async_trait::async_trait;
use std::time::Duration;

/// A record to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutRecord {
    pub topic: String,
    /// Decides the partition (Kafka's murmur2 partitioner).
    pub key: String,
    pub payload: Vec<u8>,
    /// Record headers (trace context and the like).
    pub headers: Vec<(String, Vec<u8>)>,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
}

/// A record read back, with its place in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub key: String,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
    pub timestamp: i64,
}

/// The record header carrying W3C trace context (`00-<trace>-<span>-01`)
/// from the gateway through every processor.
pub const TRACEPARENT: &str = "traceparent";

impl LogRecord {
    /// The value of header `name`, if the record has it.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_slice())
    }

    /// The trace context of the record, as text.
    pub fn traceparent(&self) -> Option<String> {
        self.header(TRACEPARENT)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// A fingerprint of what the record says (key and payload): the same
    /// record read again has the same one; a different record at the same
    /// offset (another incarnation of the log) almost surely does not.
    pub fn fingerprint(&self) -> u64 {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update((self.key.len() as u64).to_be_bytes());
        h.update(self.key.as_bytes());
        h.update(&self.payload);
        let digest = h.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&digest[..8]);
        // Kept below 2^63, so engines store it in a signed bigint as is.
        u64::from_be_bytes(first) >> 1
    }

    pub fn position(&self) -> Position {
        Position {
            topic: self.topic.clone(),
            partition: self.partition,
            offset: self.offset,
        }
    }
}

/// Where a record sits: topic, partition, offset.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Position {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
}

/// The log itself.
#[async_trait]
pub trait EventLog: Send + Sync + 'static {
    /// Appends the records, each to the partition of its key, and returns
    /// their positions in the same order once every one of them is durable
    /// (embedded: fsynced; Kafka: acknowledged by all in-sync replicas).
    async fn append(&self, records: Vec<OutRecord>) -> Result<Vec<Position>>;

    /// Joins the consumer group `group` for `topics`. Reading starts after
    /// the group's committed offsets, or at the earliest retained record.
    async fn consumer(&self, group: &str, topics: &[&str]) -> Result<Box<dyn LogConsumer>>;

    /// Drops records older than `cutoff_ms` where the engine does not
    /// enforce retention itself; returns how many went.
    async fn expire(&self, cutoff_ms: i64) -> Result<u64>;

    /// Fails when the log cannot take appends.
    async fn health(&self) -> Result<()>;

    /// The end of each partition of `topic`, by partition number: one past
    /// its last retained record (Kafka's high watermark), or 0 when it
    /// retains none (never written, or everything expired). A reader that
    /// has handled every retained offset below these has read everything
    /// that was in the topic when it asked.
    async fn end_offsets(&self, topic: &str) -> Result<Vec<u64>>;

    /// The record at `offset` of a partition, or None when the partition
    /// holds no record there (expired, or past its end). Not for reading in
    /// bulk: the sequencer uses it to recognise the log it last wrote from.
    async fn read_at(&self, topic: &str, partition: u32, offset: u64) -> Result<Option<LogRecord>>;
}

/// One member of a consumer group.
#[async_trait]
pub trait LogConsumer: Send {
    /// Up to `max` records from the partitions assigned to this member, in
    /// offset order per partition, waiting at most `wait` for the first one.
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<LogRecord>>;

    /// Records that the group has processed everything up to and including
    /// these positions. Commit only after the effects are durable. A
    /// commit need not be durable when it returns (the embedded log makes it
    /// so with its next append): after a crash a group may get records again
    /// that it had committed, so handling must be idempotent.
    async fn commit(&mut self, positions: &[Position]) -> Result<()>;

    /// A number that changes whenever the log reassigns this member's
    /// partitions (a group rebalance), by the time the first record of the
    /// new assignment is polled. A member that is never reassigned (the
    /// embedded log's, which owns every partition) keeps 0.
    fn generation(&self) -> u64 {
        0
    }
}

/// The highest position per (topic, partition) of a batch: what to commit.
pub fn last_positions(records: &[LogRecord]) -> Vec<Position> {
    let mut out: Vec<Position> = Vec::new();
    for r in records {
        match out
            .iter_mut()
            .find(|p| p.topic == r.topic && p.partition == r.partition)
        {
            Some(p) => p.offset = p.offset.max(r.offset),
            None => out.push(r.position()),
        }
    }
    out
}
