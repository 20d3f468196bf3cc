//! The embedded event log.
//!
//! One redb database (`log.redb`) holds every topic. A record lives at the
//! key (topic, partition, offset); consumer groups' committed offsets live at
//! (group, topic, partition). Keys go to partitions with Kafka's murmur2
//! partitioner, so a record lands where a Kafka producer would put it, and the
//! bytes stored are the Avro single-object bytes a Kafka topic would carry.
//!
//! All writes go through one writer thread ([`writer`]) that gathers every
//! request waiting and commits them in one transaction: with
//! [`FsyncPolicy::Always`] each such group is fsynced before any of its
//! appends is answered, so an acknowledged append survives `kill -9` and the
//! fsync cost is shared by everything that arrived meanwhile.

mod consumer;
mod format;
mod writer;

use async_trait::async_trait;
use chat_ports::{EventLog, LogConsumer, LogRecord, OutRecord, PortError, Position, Result};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

pub use consumer::EmbeddedConsumer;

pub(crate) const RECORDS: TableDefinition<'_, (&str, u32, u64), &[u8]> =
    TableDefinition::new("records");
pub(crate) const OFFSETS: TableDefinition<'_, (&str, &str, u32), u64> =
    TableDefinition::new("offsets");
pub(crate) const TOPICS: TableDefinition<'_, &str, u32> = TableDefinition::new("topics");
/// The next offset of each partition, kept even when retention empties it.
pub(crate) const ENDS: TableDefinition<'_, (&str, u32), u64> = TableDefinition::new("ends");

/// When the log forces its writes to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FsyncPolicy {
    /// Every group commit is fsynced before its appends are answered (the
    /// default; acknowledged sends survive a crash of the process or host).
    Always,
    /// Nothing is fsynced by the log: a process crash loses nothing the OS
    /// already has, a host crash loses recent appends. For benchmarks.
    Never,
}

/// How the log is set up.
#[derive(Debug, Clone)]
pub struct LogOptions {
    /// Partitions of a topic created on first use.
    pub partitions: u32,
    pub fsync: FsyncPolicy,
    /// Appends waiting for the writer beyond this are refused as overload.
    pub queue_capacity: usize,
    /// Consumer groups whose unread records expiry never removes: a record
    /// at or after the lowest offset any of them committed on its
    /// partition stays, however old (a lagging sequencer, a clock that
    /// jumped ahead). A group that never committed on a partition holds
    /// nothing back there.
    pub retain_for: Vec<String>,
}

impl Default for LogOptions {
    fn default() -> Self {
        Self {
            partitions: 8,
            fsync: FsyncPolicy::Always,
            queue_capacity: 16_384,
            retain_for: Vec::new(),
        }
    }
}

/// The embedded log; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedLog {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    requests: mpsc::Sender<writer::Request>,
    /// Bumped after every commit that appended records.
    appended: watch::Receiver<u64>,
    /// Partition count per topic, fixed at creation.
    topics: std::sync::RwLock<HashMap<String, u32>>,
    default_partitions: u32,
    retain_for: Arc<Vec<String>>,
    thread: std::sync::Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// The most memory redb caches the log's pages in (its default is 1 GiB):
/// readers mostly read the recent tail, which this holds.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

impl EmbeddedLog {
    /// Opens (or creates) the log at `path` and starts its writer thread.
    pub fn open(path: &Path, options: LogOptions) -> Result<Self> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| PortError::storage("event log", e))?;
        let db = Arc::new(db);
        let (topics, next_offsets) = load_state(&db)?;
        let (tx, rx) = mpsc::channel(options.queue_capacity.max(1));
        let (appended_tx, appended) = watch::channel(0);
        let thread = writer::spawn(db.clone(), rx, appended_tx, next_offsets, options.fsync)?;
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                requests: tx,
                appended,
                topics: std::sync::RwLock::new(topics),
                default_partitions: options.partitions.max(1),
                retain_for: Arc::new(options.retain_for),
                thread: std::sync::Mutex::new(Some(thread)),
            }),
        })
    }

    /// Finishes the queued writes and stops the writer, so the file can be
    /// opened again once every handle and consumer is dropped.
    pub async fn close(&self) {
        let _ = self.inner.requests.send(writer::Request::Stop).await;
        let thread = self.inner.thread.lock().expect("thread lock").take();
        if let Some(t) = thread {
            let _ = tokio::task::spawn_blocking(move || t.join()).await;
        }
    }

    /// Partitions of `topic`, creating it with the default count if new.
    pub fn partitions(&self, topic: &str) -> u32 {
        if let Some(n) = self.inner.topics.read().expect("topics lock").get(topic) {
            return *n;
        }
        let mut topics = self.inner.topics.write().expect("topics lock");
        *topics
            .entry(topic.to_string())
            .or_insert(self.inner.default_partitions)
    }

    /// The next offset of each partition of `topic` (its end).
    pub fn end_offsets(&self, topic: &str) -> Result<Vec<u64>> {
        let n = self.partitions(topic);
        let txn = self
            .inner
            .db
            .begin_read()
            .map_err(|e| PortError::storage("event log", e))?;
        let table = match txn.open_table(RECORDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(vec![0; n as usize]),
            Err(e) => return Err(PortError::storage("event log", e)),
        };
        (0..n)
            .map(|p| {
                let last = table
                    .range((topic, p, 0)..=(topic, p, u64::MAX))
                    .map_err(|e| PortError::storage("event log", e))?
                    .next_back()
                    .transpose()
                    .map_err(|e| PortError::storage("event log", e))?;
                Ok(last.map(|(k, _)| k.value().2 + 1).unwrap_or(0))
            })
            .collect()
    }

    pub(crate) async fn request<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> writer::Request,
        refuse_when_full: bool,
    ) -> Result<T> {
        let (tx, rx) = oneshot::channel();
        let req = make(tx);
        if refuse_when_full {
            self.inner.requests.try_send(req).map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => PortError::Overloaded("event log"),
                mpsc::error::TrySendError::Closed(_) => {
                    PortError::unavailable("event log", "the writer stopped")
                }
            })?;
        } else {
            self.inner
                .requests
                .send(req)
                .await
                .map_err(|_| PortError::unavailable("event log", "the writer stopped"))?;
        }
        rx.await
            .map_err(|_| PortError::unavailable("event log", "the writer stopped"))?
    }
}

#[async_trait]
impl EventLog for EmbeddedLog {
    async fn append(&self, records: Vec<OutRecord>) -> Result<Vec<Position>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let placed: Vec<(u32, OutRecord)> = records
            .into_iter()
            .map(|r| {
                let n = self.partitions(&r.topic);
                (chat_events::topics::partition_for(&r.key, n), r)
            })
            .collect();
        let partitions: Vec<(String, u32)> = {
            let topics = self.inner.topics.read().expect("topics lock");
            placed
                .iter()
                .map(|(_, r)| (r.topic.clone(), topics[&r.topic]))
                .collect()
        };
        self.request(
            |reply| writer::Request::Append {
                records: placed,
                topics: partitions,
                reply,
            },
            true,
        )
        .await
    }

    async fn consumer(&self, group: &str, topics: &[&str]) -> Result<Box<dyn LogConsumer>> {
        let parts: Vec<(String, u32)> = topics
            .iter()
            .map(|t| (t.to_string(), self.partitions(t)))
            .collect();
        let consumer = EmbeddedConsumer::new(
            self.clone(),
            self.inner.db.clone(),
            group.to_string(),
            parts,
            self.inner.appended.clone(),
        )?;
        Ok(Box::new(consumer))
    }

    async fn expire(&self, cutoff_ms: i64) -> Result<u64> {
        let retain_for = self.inner.retain_for.clone();
        self.request(
            |reply| writer::Request::Expire {
                cutoff_ms,
                retain_for,
                reply,
            },
            false,
        )
        .await
    }

    async fn health(&self) -> Result<()> {
        if self.inner.requests.is_closed() {
            return Err(PortError::unavailable("event log", "the writer stopped"));
        }
        Ok(())
    }

    async fn end_offsets(&self, topic: &str) -> Result<Vec<u64>> {
        EmbeddedLog::end_offsets(self, topic)
    }

    async fn read_at(&self, topic: &str, partition: u32, offset: u64) -> Result<Option<LogRecord>> {
        let err = |e: &dyn std::fmt::Display| PortError::storage("event log", e);
        let txn = self.inner.db.begin_read().map_err(|e| err(&e))?;
        let table = match txn.open_table(RECORDS) {
            Ok(t) => t,
            Err(redb::TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(err(&e)),
        };
        match table.get((topic, partition, offset)).map_err(|e| err(&e))? {
            Some(v) => Ok(Some(format::decode(topic, partition, offset, v.value())?)),
            None => Ok(None),
        }
    }
}

/// Topics with their partition counts, and the next offset of every
/// partition that has had records.
/// Partition counts by topic, and next offsets by (topic, partition).
type LogState = (HashMap<String, u32>, HashMap<(String, u32), u64>);

fn load_state(db: &Database) -> Result<LogState> {
    let err = |e: &dyn std::fmt::Display| PortError::storage("event log", e);
    let txn = db.begin_write().map_err(|e| err(&e))?;
    {
        txn.open_table(RECORDS).map_err(|e| err(&e))?;
        txn.open_table(OFFSETS).map_err(|e| err(&e))?;
        txn.open_table(TOPICS).map_err(|e| err(&e))?;
        txn.open_table(ENDS).map_err(|e| err(&e))?;
    }
    txn.commit().map_err(|e| err(&e))?;
    let txn = db.begin_read().map_err(|e| err(&e))?;
    let mut topics = HashMap::new();
    for row in txn
        .open_table(TOPICS)
        .map_err(|e| err(&e))?
        .iter()
        .map_err(|e| err(&e))?
    {
        let (k, v) = row.map_err(|e| err(&e))?;
        topics.insert(k.value().to_string(), v.value());
    }
    let mut next = HashMap::new();
    for row in txn
        .open_table(ENDS)
        .map_err(|e| err(&e))?
        .iter()
        .map_err(|e| err(&e))?
    {
        let (k, v) = row.map_err(|e| err(&e))?;
        let (topic, p) = k.value();
        next.insert((topic.to_string(), p), v.value());
    }
    Ok((topics, next))
}

#[cfg(test)]
mod tests;
