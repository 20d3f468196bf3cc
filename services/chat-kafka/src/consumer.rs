//! A consumer-group member: rdkafka's stream consumer with manual commits.

use crate::KafkaLog;
use async_trait::async_trait;
use chat_ports::{LogConsumer, LogRecord, PortError, Position, Result};
use rdkafka::consumer::{
    BaseConsumer, CommitMode, Consumer, ConsumerContext, Rebalance, StreamConsumer,
};
use rdkafka::error::KafkaResult;
use rdkafka::message::{BorrowedMessage, Headers, Message};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Logs rebalances and counts them (the member's generation: processors
/// forget what they remember of partitions when it moves), and logs
/// commits that failed.
pub(crate) struct Context {
    group: String,
    generation: Arc<AtomicU64>,
}

impl ClientContext for Context {}

impl ConsumerContext for Context {
    fn pre_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Rebalance::Revoke(tpl) = rebalance {
            tracing::info!(group = %self.group, partitions = tpl.count(), "Kafka revoked partitions from this member.");
        }
    }

    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Rebalance::Assign(tpl) = rebalance {
            tracing::info!(group = %self.group, partitions = tpl.count(), "Kafka assigned partitions to this member.");
        }
    }

    fn commit_callback(&self, result: KafkaResult<()>, _offsets: &TopicPartitionList) {
        if let Err(e) = result {
            // Not fatal: the records are read again after a restart or a
            // rebalance, and handling is idempotent.
            tracing::warn!(group = %self.group, error = %e, "Kafka did not take this member's offsets.");
        }
    }
}

pub struct KafkaConsumer {
    log: KafkaLog,
    consumer: StreamConsumer<Context>,
    generation: Arc<AtomicU64>,
}

impl KafkaConsumer {
    pub(crate) fn join(log: KafkaLog, group: &str, topics: &[&str]) -> Result<Self> {
        let full_group = log.full_name(group);
        let mut c = log.options().client_config();
        c.set("group.id", &full_group)
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .set("isolation.level", "read_uncommitted")
            .set("enable.partition.eof", "false")
            .set("session.timeout.ms", "6000")
            .set("heartbeat.interval.ms", "1000")
            // Kafka answers a fetch as soon as a record arrives (the
            // broker holds it in purgatory until then), so this bounds only
            // how often an idle partition is asked again.
            .set("fetch.wait.max.ms", "500");
        let generation = Arc::new(AtomicU64::new(0));
        let consumer: StreamConsumer<Context> = c
            .create_with_context(Context {
                group: full_group.clone(),
                generation: generation.clone(),
            })
            .map_err(|e| PortError::unavailable("event log", e))?;
        let names: Vec<String> = topics.iter().map(|t| log.full_name(t)).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        consumer
            .subscribe(&refs)
            .map_err(|e| PortError::unavailable("event log", e))?;
        Ok(Self {
            log,
            consumer,
            generation,
        })
    }

    fn convert(&self, m: &BorrowedMessage<'_>) -> LogRecord {
        record_of(&self.log.options().topic_prefix, m)
    }
}

/// A message as a log record, its topic named without `prefix`.
pub(crate) fn record_of(prefix: &str, m: &BorrowedMessage<'_>) -> LogRecord {
    let topic = m.topic().strip_prefix(prefix).unwrap_or(m.topic());
    let headers = m
        .headers()
        .map(|h| {
            h.iter()
                .map(|h| (h.key.to_string(), h.value.unwrap_or_default().to_vec()))
                .collect()
        })
        .unwrap_or_default();
    LogRecord {
        topic: topic.to_string(),
        partition: m.partition() as u32,
        offset: m.offset() as u64,
        key: m
            .key()
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .unwrap_or_default(),
        payload: m.payload().unwrap_or_default().to_vec(),
        headers,
        timestamp: m.timestamp().to_millis().unwrap_or(0),
    }
}

#[async_trait]
impl LogConsumer for KafkaConsumer {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<LogRecord>> {
        let mut out = Vec::new();
        match tokio::time::timeout(wait, self.consumer.recv()).await {
            Err(_) => return Ok(out),
            Ok(Err(e)) => return Err(PortError::unavailable("event log", e)),
            Ok(Ok(m)) => out.push(self.convert(&m)),
        }
        while out.len() < max {
            match tokio::time::timeout(Duration::from_millis(2), self.consumer.recv()).await {
                Ok(Ok(m)) => out.push(self.convert(&m)),
                _ => break,
            }
        }
        Ok(out)
    }

    async fn commit(&mut self, positions: &[Position]) -> Result<()> {
        let mut tpl = TopicPartitionList::new();
        for p in positions {
            tpl.add_partition_offset(
                &self.log.full_name(&p.topic),
                p.partition as i32,
                Offset::Offset(p.offset as i64 + 1),
            )
            .map_err(|e| PortError::storage("event log", e))?;
        }
        // Sent in the background, in order, so the processor's next batch
        // does not wait a broker round trip; a commit that fails is logged
        // (`Context::commit_callback`), and closing the consumer waits for
        // those in flight.
        self.consumer
            .commit(&tpl, CommitMode::Async)
            .map_err(|e| PortError::unavailable("event log", e))
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}
