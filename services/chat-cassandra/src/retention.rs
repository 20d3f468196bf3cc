//! Retention: removes the messages older than a cutoff, without scanning
//! the messages table and without a tombstone per message row.
//!
//! Every batch records, per (day of the message's ts, conversation), the
//! highest seq written that day (`message_days`, sharded over
//! [`DAY_SHARDS`] partitions a day) and the day itself
//! (`message_day_index`). An expiry walks the days up to the cutoff's; for
//! each conversation of those days it reads (seq, ts) upward from the
//! conversation's floor and removes the longest run of messages older than
//! the cutoff (seqs follow time; a message whose ts is out of order waits
//! for the one before it). Message rows go as whole-bucket partition
//! deletes, or one range delete in the bucket where the run ends; the
//! idempotency keys and attachment references of the removed messages go
//! first, then the floor moves (reads start above it), then the rows are
//! dropped. Days wholly before the cutoff's day are removed from the index
//! once their conversations are done.

use crate::keys::{bucket, bucket_range, day, shard, Stamp, DAY_SHARDS};
use crate::CassandraStore;
use chat_ports::Result;
use futures::future::{BoxFuture, FutureExt};
use futures::stream::{self, StreamExt, TryStreamExt};

/// Conversations expired at once.
const CONCURRENCY: usize = 16;

/// What the scan of one conversation found.
type ExpiringRow = (
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    Option<Vec<String>>,
);

impl CassandraStore {
    pub(crate) async fn write_expire(&self, cutoff_ms: i64) -> Result<u64> {
        let cutoff_day = day(cutoff_ms);
        let days: Vec<(i64,)> = self
            .rows(&self.st.message_days_until, (cutoff_day,))
            .await?;
        let mut total = 0u64;
        for (d,) in days {
            for shard in 0..DAY_SHARDS {
                let convs: Vec<(String, Option<i64>)> =
                    self.rows(&self.st.day_conversations, (d, shard)).await?;
                let mut expiries: Vec<BoxFuture<'_, Result<u64>>> = Vec::new();
                for (conv, max_seq) in convs {
                    expiries.push(
                        async move {
                            self.expire_conversation(&conv, cutoff_ms, max_seq.unwrap_or(0))
                                .await
                        }
                        .boxed(),
                    );
                }
                total += stream::iter(expiries)
                    .buffer_unordered(CONCURRENCY)
                    .try_fold(0u64, |sum, n| async move { Ok(sum + n) })
                    .await?;
                if d < cutoff_day {
                    self.run(&self.st.drop_day_shard, (d, shard)).await?;
                }
            }
            if d < cutoff_day {
                self.run(&self.st.drop_day, (d,)).await?;
            }
        }
        Ok(total)
    }

    /// Removes the run of messages of `conv` above its floor, up to
    /// `upto`, older than `cutoff_ms`; returns how many.
    async fn expire_conversation(&self, conv: &str, cutoff_ms: i64, upto: i64) -> Result<u64> {
        let found: Option<(Option<i64>, Option<i64>)> = self.row(&self.st.floors, (conv,)).await?;
        let (floor, dropped) = found
            .map(|(f, d)| (f.unwrap_or(0), d.unwrap_or(0)))
            .unwrap_or((0, 0));
        let stamp = self.retention_stamp(conv).await?;
        if dropped < floor {
            // A run that stopped between moving the floor and dropping rows.
            self.drop_rows(conv, stamp, dropped, floor).await?;
        }
        if floor >= upto {
            return Ok(0);
        }
        let mut expired: Vec<ExpiringRow> = Vec::new();
        let mut from = floor;
        let mut new_floor = upto;
        let mut blocker_ts = None;
        'scan: while from < upto {
            let b = bucket(from + 1);
            let end = bucket_range(b).1.min(upto);
            let rows: Vec<ExpiringRow> = self.rows(&self.st.expiring, (conv, b, from, end)).await?;
            for row in rows {
                if row.1.unwrap_or(i64::MAX) >= cutoff_ms {
                    new_floor = row.0 - 1;
                    blocker_ts = row.1;
                    break 'scan;
                }
                expired.push(row);
            }
            from = end;
        }
        if let Some(ts) = blocker_ts {
            // The run stopped at a message newer than the cutoff (its ts out
            // of order with the seqs before it); the rest of what this
            // day's entry covers is indexed again under that message's day,
            // so it expires with it even if the conversation goes quiet.
            let d = day(ts);
            self.run(&self.st.put_message_day, (upto, upto, d, shard(conv), conv))
                .await?;
            self.run(&self.st.put_message_day_index, (d,)).await?;
        }
        if new_floor <= floor {
            return Ok(0);
        }
        let mut drops: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
        for (seq, _, sender, client_msg_id, attachments) in &expired {
            if let (Some(sender), Some(client_msg_id)) = (sender, client_msg_id) {
                drops.push(
                    self.run(
                        &self.st.drop_sent,
                        (stamp.upsert, conv, sender.as_str(), client_msg_id.as_str()),
                    )
                    .boxed(),
                );
            }
            for id in attachments.iter().flatten() {
                drops.push(
                    self.run(&self.st.drop_ref, (stamp.upsert, id.as_str(), conv, *seq))
                        .boxed(),
                );
            }
        }
        self.join_writes(drops).await?;
        // Stamped with itself: two sweeps that overlap leave the higher.
        self.run(&self.st.put_floor, (new_floor, new_floor, conv))
            .await?;
        self.drop_rows(conv, stamp, floor.max(dropped), new_floor)
            .await?;
        Ok(expired.len() as u64)
    }

    /// The stamp of retention's deletes in `conv`: the upsert stamp of its
    /// stored state (a delete wins a tie), so a delete shadows every row
    /// written so far (a zombie's rewrite of an expired message included)
    /// and nothing a later batch writes (a send that reuses an expired
    /// idempotency key).
    async fn retention_stamp(&self, conv: &str) -> Result<Stamp> {
        let stored: Option<(Option<i64>,)> =
            self.row(&self.st.conversation_offset, (conv,)).await?;
        let offset = stored.and_then(|(o,)| o).unwrap_or(0);
        Stamp::of(u64::try_from(offset).unwrap_or(0))
    }

    /// Drops the message rows of seqs in (`after`, `upto`]: whole buckets
    /// as partition deletes, the last one's part as a range delete.
    async fn drop_rows(&self, conv: &str, stamp: Stamp, after: i64, upto: i64) -> Result<()> {
        let mut drops: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
        for b in bucket(after + 1)..=bucket(upto) {
            if bucket_range(b).1 <= upto {
                drops.push(
                    self.run(&self.st.drop_bucket, (stamp.upsert, conv, b))
                        .boxed(),
                );
            } else {
                drops.push(
                    self.run(&self.st.drop_bucket_until, (stamp.upsert, conv, b, upto))
                        .boxed(),
                );
            }
        }
        self.join_writes(drops).await?;
        self.run(&self.st.put_dropped, (upto, upto, conv)).await
    }
}
