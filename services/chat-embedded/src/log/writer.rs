//! The log's single writer thread and its group commit.

use super::{format, FsyncPolicy, ENDS, OFFSETS, RECORDS, TOPICS};
use chat_ports::{OutRecord, PortError, Position, Result};
use redb::{Database, Durability, ReadableTable, WriteTransaction};
use std::collections::HashMap;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// Most requests folded into one transaction.
const MAX_GROUP: usize = 2048;

/// Work for the writer.
pub(crate) enum Request {
    Append {
        /// (partition, record)
        records: Vec<(u32, OutRecord)>,
        /// (topic, partition count), parallel to `records`.
        topics: Vec<(String, u32)>,
        reply: oneshot::Sender<Result<Vec<Position>>>,
    },
    Commit {
        group: String,
        positions: Vec<Position>,
        reply: oneshot::Sender<Result<()>>,
    },
    Expire {
        cutoff_ms: i64,
        /// Groups whose unread records stay (`LogOptions::retain_for`).
        retain_for: Arc<Vec<String>>,
        reply: oneshot::Sender<Result<u64>>,
    },
    /// Finish what is queued before this and stop.
    Stop,
}

enum Outcome {
    Appended(Vec<Position>),
    Committed,
    Expired(u64),
}

/// Starts the writer thread; it ends when every sender is dropped.
pub(crate) fn spawn(
    db: Arc<Database>,
    mut rx: mpsc::Receiver<Request>,
    appended: watch::Sender<u64>,
    mut next: HashMap<(String, u32), u64>,
    fsync: FsyncPolicy,
) -> Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("log-writer".into())
        .spawn(move || {
            let mut stopping = false;
            while !stopping {
                let Some(first) = rx.blocking_recv() else { break };
                let mut group = vec![first];
                while group.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(r) => group.push(r),
                        Err(_) => break,
                    }
                }
                if let Some(i) = group.iter().position(|r| matches!(r, Request::Stop)) {
                    stopping = true;
                    // Whatever came after the stop is refused by dropping it.
                    group.truncate(i);
                }
                let mut staged = HashMap::new();
                match write_group(&db, &group, &next, &mut staged, fsync) {
                    Ok(outcomes) => {
                        let any_append = outcomes
                            .iter()
                            .any(|o| matches!(o, Outcome::Appended(p) if !p.is_empty()));
                        next.extend(staged);
                        if any_append {
                            appended.send_modify(|g| *g += 1);
                        }
                        for (req, outcome) in group.into_iter().zip(outcomes) {
                            reply(req, Ok(outcome));
                        }
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "The event log failed to commit a group of writes.");
                        for req in group {
                            reply(req, Err(PortError::storage("event log", &e)));
                        }
                    }
                }
            }
        })
        .map_err(|e| PortError::storage("event log", e))
}

fn reply(req: Request, outcome: Result<Outcome>) {
    match (req, outcome) {
        (Request::Append { reply, .. }, Ok(Outcome::Appended(p))) => {
            let _ = reply.send(Ok(p));
        }
        (Request::Commit { reply, .. }, Ok(Outcome::Committed)) => {
            let _ = reply.send(Ok(()));
        }
        (Request::Expire { reply, .. }, Ok(Outcome::Expired(n))) => {
            let _ = reply.send(Ok(n));
        }
        (Request::Append { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        (Request::Commit { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        (Request::Expire { reply, .. }, Err(e)) => {
            let _ = reply.send(Err(e));
        }
        _ => unreachable!("outcomes follow their requests"),
    }
}

fn write_group(
    db: &Database,
    group: &[Request],
    next: &HashMap<(String, u32), u64>,
    staged: &mut HashMap<(String, u32), u64>,
    fsync: FsyncPolicy,
) -> Result<Vec<Outcome>, redb::Error> {
    let mut txn = db.begin_write()?;
    // Only appends are promised durable on return. Consumer offsets and
    // expiry ride along with the next fsync: a crash before it makes a
    // processor handle its last batches again, which every processor does
    // idempotently, or expiry run again. A group of those alone skips the
    // fsync, so a processor's commit never waits for the disk.
    let appends = group.iter().any(|r| matches!(r, Request::Append { .. }));
    txn.set_durability(match fsync {
        FsyncPolicy::Always if appends => Durability::Immediate,
        FsyncPolicy::Always | FsyncPolicy::Never => Durability::None,
    })
    .map_err(|e| redb::Error::from(redb::StorageError::Io(std::io::Error::other(e))))?;
    let mut outcomes = Vec::with_capacity(group.len());
    for req in group {
        outcomes.push(match req {
            Request::Append {
                records, topics, ..
            } => Outcome::Appended(append(&txn, records, topics, next, staged)?),
            Request::Commit {
                group, positions, ..
            } => {
                let mut t = txn.open_table(OFFSETS)?;
                for p in positions {
                    t.insert(
                        (group.as_str(), p.topic.as_str(), p.partition),
                        p.offset + 1,
                    )?;
                }
                Outcome::Committed
            }
            Request::Expire {
                cutoff_ms,
                retain_for,
                ..
            } => Outcome::Expired(expire(&txn, *cutoff_ms, retain_for)?),
            Request::Stop => unreachable!("stop requests are taken out of the group"),
        });
    }
    txn.commit()?;
    Ok(outcomes)
}

fn append(
    txn: &WriteTransaction,
    records: &[(u32, OutRecord)],
    topics: &[(String, u32)],
    next: &HashMap<(String, u32), u64>,
    staged: &mut HashMap<(String, u32), u64>,
) -> Result<Vec<Position>, redb::Error> {
    let mut table = txn.open_table(RECORDS)?;
    let mut topic_table = txn.open_table(TOPICS)?;
    let mut ends = txn.open_table(ENDS)?;
    let mut positions = Vec::with_capacity(records.len());
    for ((partition, record), (topic, count)) in records.iter().zip(topics) {
        if topic_table.get(topic.as_str())?.is_none() {
            topic_table.insert(topic.as_str(), *count)?;
        }
        let key = (topic.clone(), *partition);
        let offset = staged
            .get(&key)
            .or_else(|| next.get(&key))
            .copied()
            .unwrap_or(0);
        table.insert(
            (topic.as_str(), *partition, offset),
            format::encode(record).as_slice(),
        )?;
        ends.insert((topic.as_str(), *partition), offset + 1)?;
        staged.insert(key, offset + 1);
        positions.push(Position {
            topic: topic.clone(),
            partition: *partition,
            offset,
        });
    }
    Ok(positions)
}

/// Removes, from the head of every partition, the records older than the
/// cutoff that every group of `retain_for` has read.
fn expire(
    txn: &WriteTransaction,
    cutoff_ms: i64,
    retain_for: &[String],
) -> Result<u64, redb::Error> {
    // The lowest committed (next-to-read) offset of a retained group, by
    // partition.
    let mut floor: HashMap<(String, u32), u64> = HashMap::new();
    {
        let t = txn.open_table(OFFSETS)?;
        for row in t.iter()? {
            let (k, next) = row?;
            let (group, topic, partition) = k.value();
            if retain_for.iter().any(|g| g == group) {
                let e = floor
                    .entry((topic.to_string(), partition))
                    .or_insert(u64::MAX);
                *e = (*e).min(next.value());
            }
        }
    }
    let partitions: Vec<(String, u32)> = {
        let t = txn.open_table(TOPICS)?;
        let mut v = Vec::new();
        for row in t.iter()? {
            let (k, n) = row?;
            for p in 0..n.value() {
                v.push((k.value().to_string(), p));
            }
        }
        v
    };
    let mut table = txn.open_table(RECORDS)?;
    let mut removed = 0;
    for (topic, p) in partitions {
        let kept_from = floor.get(&(topic.clone(), p)).copied().unwrap_or(u64::MAX);
        let mut doomed = Vec::new();
        for row in table.range((topic.as_str(), p, 0)..=(topic.as_str(), p, u64::MAX))? {
            let (k, v) = row?;
            if k.value().2 >= kept_from {
                break;
            }
            match format::timestamp(v.value()) {
                Some(ts) if ts < cutoff_ms => doomed.push(k.value().2),
                _ => break,
            }
        }
        for offset in doomed {
            table.remove((topic.as_str(), p, offset))?;
            removed += 1;
        }
    }
    Ok(removed)
}
