//! The Kafka engine of the event-log port, through rdkafka (librdkafka
//! built from source).
//!
//! Producer: `acks=all`, idempotence on, Kafka's murmur2 partitioner (the
//! one the embedded log mimics, so a key lands in the same partition in both
//! engines); an append returns once the broker acknowledged every record.
//! Consumers: consumer groups with auto-commit off, `earliest` reset and
//! `read_uncommitted` isolation; processors commit after their effects are
//! durable, so a redelivery after a crash or rebalance is harmless. No
//! Kafka transactions are used (see DESIGN.md).
//!
//! # Layout
//! - [`options`]: connection and topic settings.
//! - [`admin`]: creating topics idempotently, from `kafka/topics.toml` or on
//!   first use.
//! - [`producer`]: appending records.
//! - [`consumer`]: consumer-group members.
//! - `read_at`: one record at an offset, outside any group.

pub mod admin;
pub mod consumer;
pub mod options;
pub mod producer;
mod read_at;

pub use options::KafkaOptions;

use async_trait::async_trait;
use chat_ports::{EventLog, LogConsumer, OutRecord, PortError, Position, Result};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

/// The Kafka event log; cheap to clone.
#[derive(Clone)]
pub struct KafkaLog {
    inner: Arc<Inner>,
}

struct Inner {
    options: KafkaOptions,
    producer: rdkafka::producer::FutureProducer,
    admin: admin::Admin,
    /// Topics known to exist (full names).
    known: Mutex<HashSet<String>>,
}

impl KafkaLog {
    /// Connects the producer and admin client; creates the declared topics.
    pub async fn connect(options: KafkaOptions) -> Result<Self> {
        let producer = producer::create(&options)?;
        let admin = admin::Admin::create(&options)?;
        let log = Self {
            inner: Arc::new(Inner {
                options,
                producer,
                admin,
                known: Mutex::new(HashSet::new()),
            }),
        };
        log.apply_declared_topics().await?;
        Ok(log)
    }

    /// Creates every topic of `kafka/topics.toml` that does not exist yet.
    pub async fn apply_declared_topics(&self) -> Result<Vec<String>> {
        let specs = chat_events::topics::declared();
        let mut created = Vec::new();
        for spec in specs {
            let name = self.full_name(&spec.name);
            if self
                .inner
                .admin
                .ensure(
                    &name,
                    spec.partitions as i32,
                    &self.inner.options,
                    Some(&spec),
                )
                .await?
            {
                created.push(name.clone());
            }
            self.inner.known.lock().expect("topics lock").insert(name);
        }
        Ok(created)
    }

    pub(crate) fn full_name(&self, topic: &str) -> String {
        format!("{}{}", self.inner.options.topic_prefix, topic)
    }

    pub(crate) fn options(&self) -> &KafkaOptions {
        &self.inner.options
    }

    async fn ensure_topic(&self, topic: &str) -> Result<()> {
        let name = self.full_name(topic);
        if self
            .inner
            .known
            .lock()
            .expect("topics lock")
            .contains(&name)
        {
            return Ok(());
        }
        let partitions = self.inner.options.partitions as i32;
        self.inner
            .admin
            .ensure(&name, partitions, &self.inner.options, None)
            .await?;
        self.inner.known.lock().expect("topics lock").insert(name);
        Ok(())
    }
}

#[async_trait]
impl EventLog for KafkaLog {
    async fn append(&self, records: Vec<OutRecord>) -> Result<Vec<Position>> {
        let mut topics: Vec<&str> = records.iter().map(|r| r.topic.as_str()).collect();
        topics.dedup();
        for t in topics {
            self.ensure_topic(t).await?;
        }
        producer::append(self, &self.inner.producer, records).await
    }

    async fn consumer(&self, group: &str, topics: &[&str]) -> Result<Box<dyn LogConsumer>> {
        for t in topics {
            self.ensure_topic(t).await?;
        }
        let consumer = consumer::KafkaConsumer::join(self.clone(), group, topics)?;
        Ok(Box::new(consumer))
    }

    async fn expire(&self, _cutoff_ms: i64) -> Result<u64> {
        // Kafka enforces retention itself (retention.ms on each topic).
        Ok(0)
    }

    async fn end_offsets(&self, topic: &str) -> Result<Vec<u64>> {
        self.ensure_topic(topic).await?;
        let name = self.full_name(topic);
        let producer = self.inner.producer.clone();
        let timeout = self.inner.options.request_timeout();
        tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer;
            let client = producer.client();
            let metadata = client
                .fetch_metadata(Some(&name), timeout)
                .map_err(|e| PortError::unavailable("event log", e))?;
            let topic = metadata
                .topics()
                .iter()
                .find(|t| t.name() == name)
                .ok_or_else(|| {
                    PortError::unavailable("event log", format!("no metadata for {name}"))
                })?;
            if let Some(e) = topic.error() {
                return Err(PortError::unavailable(
                    "event log",
                    format!("the metadata of {name} holds an error: {e:?}"),
                ));
            }
            let partitions = topic.partitions().len();
            if partitions == 0 {
                return Err(PortError::unavailable(
                    "event log",
                    format!("{name} has no partitions in the metadata"),
                ));
            }
            // A topic created moments ago may have no leader yet: asked
            // again until the request timeout.
            let deadline = std::time::Instant::now() + timeout;
            (0..partitions as i32)
                .map(|p| loop {
                    match client.fetch_watermarks(&name, p, timeout) {
                        // A partition whose records all expired keeps its
                        // high watermark but retains nothing to read.
                        Ok((low, high)) if low >= high => return Ok(0),
                        Ok((_, high)) => return Ok(u64::try_from(high).unwrap_or(0)),
                        Err(e) if std::time::Instant::now() >= deadline => {
                            return Err(PortError::unavailable("event log", e))
                        }
                        // (On a spawn_blocking thread, like the blocking
                        // metadata calls around it.)
                        #[allow(clippy::disallowed_methods)]
                        Err(_) => std::thread::sleep(std::time::Duration::from_millis(100)),
                    }
                })
                .collect()
        })
        .await
        .map_err(|e| PortError::unavailable("event log", e))?
    }

    async fn read_at(
        &self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<Option<chat_ports::LogRecord>> {
        self.ensure_topic(topic).await?;
        read_at::read_at(self, topic, partition, offset).await
    }

    async fn health(&self) -> Result<()> {
        let producer = self.inner.producer.clone();
        let timeout = self.inner.options.request_timeout();
        tokio::task::spawn_blocking(move || {
            use rdkafka::producer::Producer;
            producer
                .client()
                .fetch_metadata(None, timeout)
                .map(|_| ())
                .map_err(|e| PortError::unavailable("event log", e))
        })
        .await
        .map_err(|e| PortError::unavailable("event log", e))?
    }
}
