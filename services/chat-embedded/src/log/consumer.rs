//! A consumer-group member of the embedded log.
//!
//! One process holds the embedded log, so a group has one member and it owns
//! every partition of its topics. Its fetch positions start at the group's
//! committed offsets and move on with each poll; commits are durable writes
//! through the writer thread.

use super::{format, writer, EmbeddedLog, OFFSETS, RECORDS};
use async_trait::async_trait;
use chat_ports::{LogConsumer, LogRecord, PortError, Position, Result};
use redb::{Database, ReadableDatabase};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub struct EmbeddedConsumer {
    log: EmbeddedLog,
    db: Arc<Database>,
    group: String,
    /// (topic, partition) pairs assigned to this member.
    assigned: Vec<(String, u32)>,
    /// Next offset to fetch per assigned partition.
    positions: HashMap<(String, u32), u64>,
    appended: watch::Receiver<u64>,
    /// Where the next fetch starts, so no partition starves the others.
    cursor: usize,
}

impl EmbeddedConsumer {
    pub(crate) fn new(
        log: EmbeddedLog,
        db: Arc<Database>,
        group: String,
        topics: Vec<(String, u32)>,
        appended: watch::Receiver<u64>,
    ) -> Result<Self> {
        let err = |e: &dyn std::fmt::Display| PortError::storage("event log", e);
        let assigned: Vec<(String, u32)> = topics
            .iter()
            .flat_map(|(t, n)| (0..*n).map(move |p| (t.clone(), p)))
            .collect();
        let txn = db.begin_read().map_err(|e| err(&e))?;
        let offsets = txn.open_table(OFFSETS).map_err(|e| err(&e))?;
        let mut positions = HashMap::new();
        for (t, p) in &assigned {
            let committed = offsets
                .get((group.as_str(), t.as_str(), *p))
                .map_err(|e| err(&e))?
                .map(|v| v.value())
                .unwrap_or(0);
            positions.insert((t.clone(), *p), committed);
        }
        Ok(Self {
            log,
            db,
            group,
            assigned,
            positions,
            appended,
            cursor: 0,
        })
    }

    fn fetch(&mut self, max: usize) -> Result<Vec<LogRecord>> {
        let err = |e: &dyn std::fmt::Display| PortError::storage("event log", e);
        let txn = self.db.begin_read().map_err(|e| err(&e))?;
        let table = txn.open_table(RECORDS).map_err(|e| err(&e))?;
        let mut out = Vec::new();
        let n = self.assigned.len();
        for i in 0..n {
            if out.len() >= max {
                break;
            }
            let (topic, p) = &self.assigned[(self.cursor + i) % n];
            let pos = self
                .positions
                .get_mut(&(topic.clone(), *p))
                .expect("assigned");
            for row in table
                .range((topic.as_str(), *p, *pos)..=(topic.as_str(), *p, u64::MAX))
                .map_err(|e| err(&e))?
            {
                if out.len() >= max {
                    break;
                }
                let (k, v) = row.map_err(|e| err(&e))?;
                let offset = k.value().2;
                out.push(format::decode(topic, *p, offset, v.value())?);
                *pos = offset + 1;
            }
        }
        self.cursor = (self.cursor + 1) % n.max(1);
        Ok(out)
    }
}

#[async_trait]
impl LogConsumer for EmbeddedConsumer {
    async fn poll(&mut self, max: usize, wait: Duration) -> Result<Vec<LogRecord>> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            self.appended.borrow_and_update();
            let records = self.fetch(max.max(1))?;
            if !records.is_empty() {
                return Ok(records);
            }
            match tokio::time::timeout_at(deadline, self.appended.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => {
                    return Err(PortError::unavailable("event log", "the writer stopped"))
                }
                Err(_) => return Ok(Vec::new()),
            }
        }
    }

    async fn commit(&mut self, positions: &[Position]) -> Result<()> {
        if positions.is_empty() {
            return Ok(());
        }
        let group = self.group.clone();
        let positions = positions.to_vec();
        self.log
            .request(
                |reply| writer::Request::Commit {
                    group,
                    positions,
                    reply,
                },
                false,
            )
            .await
    }
}
