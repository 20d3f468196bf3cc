//! Which incarnation of the commands log a batch comes from, and the
//! positions its records take (DESIGN invariant 9: a processor never
//! trusts an offset from another incarnation of the log).
//!
//! The store counts in positions (`LogCursor`: position = base + offset),
//! and the sequencer treats a command below its conversation's stored
//! position as a replay. Offsets alone would go wrong when the log starts
//! again below what the store holds: a recreated topic, a log file restored
//! from a backup. Each batch writes, per partition, the offset and
//! fingerprint of its last record. The next batch that reaches back to or
//! below that offset (a redelivery, or another log) checks that the log
//! still holds that record there. If it does not, the log is another
//! incarnation: its records get a base that puts the first of them above
//! every position the old one reached, so they are decided anew, never
//! mistaken for replays, and on Cassandra never written below old rows.
//! Records of the old incarnation that are in the new one too (a restored
//! file) are decided again: sends are found by their idempotency keys, but
//! a membership change decided again on the later state can differ (a
//! member removed and added again joins at the current seq). A log is
//! taken for another only when it answers, twice, that it holds nothing or
//! something else at that offset: a read that fails is retried, never
//! taken for an answer.
//!
//! The cursors a sequencer wrote are remembered while it keeps its
//! partitions ([`Known`]): a batch that starts right after the last record
//! this sequencer applied from a partition continues that cursor, and the
//! store is not read back. A redelivery, a reset of the consumer's
//! position, or a reassignment (after which another member may have
//! written cursors of its own) reads the store again.
//!
//! A changed partition count is refused: keys move between partitions, so
//! a conversation's commands would be read in two orders. The sequencer
//! stops with the reason until an operator acts (docs/operations.md).

use crate::{Error, Result};
use chat_events::topics::COMMANDS;
use chat_ports::{EventLog, LogCursor, LogRecord, SequencerStore};
use std::collections::BTreeMap;

/// The cursors this sequencer last wrote, per partition, while the log
/// keeps the partition assigned to it.
#[derive(Default)]
pub(crate) struct Known(std::sync::Mutex<BTreeMap<u32, LogCursor>>);

impl Known {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u32, LogCursor>> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Remembers the cursors a batch wrote to the store.
    pub(crate) fn remember(&self, cursors: &[LogCursor]) {
        let mut known = self.lock();
        for c in cursors {
            known.insert(c.partition, c.clone());
        }
    }

    /// Forgets everything: the partitions were reassigned.
    pub(crate) fn forget(&self) {
        self.lock().clear();
    }

    /// The cursors the batch continues, if it continues, in every one of
    /// its partitions, one this sequencer wrote: its first record there
    /// comes right after the last one applied.
    fn continued(
        &self,
        first: &BTreeMap<u32, &LogRecord>,
        partitions: u32,
    ) -> Option<BTreeMap<u32, LogCursor>> {
        let known = self.lock();
        first
            .iter()
            .map(|(&partition, r)| {
                let c = known.get(&partition)?;
                (c.partitions == partitions && r.offset == c.last_offset + 1)
                    .then(|| (partition, c.clone()))
            })
            .collect()
    }
}

/// Per partition of a batch, the cursor its records continue.
pub(crate) struct Positions {
    cursors: BTreeMap<u32, LogCursor>,
}

impl Positions {
    /// Checks the log of each partition of `records` against its stored
    /// cursor (or the one `known` remembers, where the batch continues
    /// it); `partitions` is the topic's partition count now.
    pub(crate) async fn of(
        records: &[LogRecord],
        partitions: u32,
        known: &Known,
        store: &dyn SequencerStore,
        log: &dyn EventLog,
    ) -> Result<Self> {
        let mut first: BTreeMap<u32, &LogRecord> = BTreeMap::new();
        for r in records {
            first.entry(r.partition).or_insert(r);
        }
        if let Some(cursors) = known.continued(&first, partitions) {
            return Ok(Self { cursors });
        }
        let stored = store.cursors().await?;
        if let Some(other) = stored.iter().find(|c| c.partitions != partitions) {
            return Err(Error::LogShape(format!(
                "the commands topic has {partitions} partitions and the store was sequenced \
                 from {}: conversations would move between partitions and be read in two \
                 orders (see docs/operations.md, \"Log incarnations\")",
                other.partitions
            )));
        }
        let mut cursors = BTreeMap::new();
        for (&partition, start) in &first {
            let base = match stored.iter().find(|c| c.partition == partition) {
                None => 0,
                Some(stored) => base_for(stored, start, records, log).await?,
            };
            cursors.insert(
                partition,
                LogCursor {
                    partition,
                    partitions,
                    base,
                    last_offset: 0,
                    last_fingerprint: 0,
                },
            );
        }
        Ok(Self { cursors })
    }

    /// The position of a record of the batch.
    pub(crate) fn position(&self, r: &LogRecord) -> u64 {
        self.cursors
            .get(&r.partition)
            .map_or(r.offset, |c| c.position(r.offset))
    }

    /// The cursors the batch leaves, one per partition: at its last record.
    pub(crate) fn after(mut self, records: &[LogRecord]) -> Vec<LogCursor> {
        for r in records {
            if let Some(c) = self.cursors.get_mut(&r.partition) {
                if r.offset >= c.last_offset {
                    c.last_offset = r.offset;
                    c.last_fingerprint = r.fingerprint();
                }
            }
        }
        self.cursors.into_values().collect()
    }
}

/// The base of the partition's records, from the first one of the batch.
async fn base_for(
    stored: &LogCursor,
    start: &LogRecord,
    records: &[LogRecord],
    log: &dyn EventLog,
) -> Result<u64> {
    if start.offset > stored.last_offset {
        // Past everything the store has from this partition: whichever log
        // this is, its positions are above the stored ones.
        return Ok(stored.base);
    }
    let in_batch = records
        .iter()
        .find(|r| r.partition == stored.partition && r.offset == stored.last_offset);
    let read = || async {
        let found = log
            .read_at(COMMANDS, stored.partition, stored.last_offset)
            .await?;
        Ok::<_, crate::Error>(found.map(|r| r.fingerprint()))
    };
    let there = match in_batch {
        Some(r) => Some(r.fingerprint()),
        None => read().await?,
    };
    if there == Some(stored.last_fingerprint) {
        return Ok(stored.base);
    }
    if in_batch.is_none() {
        // Asked again after a moment: a broker just restarted may answer
        // with bounds it has not finished loading.
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if read().await? == Some(stored.last_fingerprint) {
            return Ok(stored.base);
        }
    }
    // Another log: its first record here goes one above the last position
    // the store reached.
    let base = stored.base + stored.last_offset + 1 - start.offset;
    tracing::warn!(
        partition = stored.partition,
        offset = stored.last_offset,
        base,
        "The commands log does not hold the record the store was last written from: \
         a new incarnation of the log (recreated topic or restored file). Its records \
         are sequenced anew above every stored position."
    );
    Ok(base)
}
