//! The write side: the sequencer's batches, last-seen.
//!
//! A batch is written in four steps, each a set of concurrent keyed writes:
//! 1. the stored offset of each conversation is read, and a batch from an
//!    older point of the log is refused;
//! 2. the attachment references of messages deleted for everyone are
//!    removed (before the message is rewritten, so a retry still finds the
//!    list they came from);
//! 3. messages, idempotency keys, retention's day index, attachment
//!    references and the member index are written;
//! 4. the conversation states are written: the commit point.
//!
//! Every write of step 2 to 4 carries its conversation's [`Stamp`]. The
//! rows of steps 3 and 4 that one statement writes go as unlogged batches
//! (`batches.rs`).

use crate::keys::{bucket, day, shard, to_db, Stamp};
use crate::{error, rows, CassandraStore};
use chat_domain::Message;
use chat_ports::{Result, SequencedBatch};
use futures::future::{BoxFuture, FutureExt};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Bytes a row costs beyond its text values, in a batch's estimate.
const ROW_OVERHEAD: usize = 64;

impl CassandraStore {
    pub(crate) async fn write_batch(&self, batch: &SequencedBatch) -> Result<()> {
        // The last state of each conversation in the batch wins.
        let mut states = BTreeMap::new();
        for c in &batch.conversations {
            states.insert(c.id.as_str(), c);
        }
        // Every value is checked before anything is written.
        let mut stamps: HashMap<&str, Stamp> = HashMap::new();
        let mut rows_of_states = Vec::with_capacity(states.len());
        for (id, c) in &states {
            let s = Stamp::of(c.applied_offset)?;
            stamps.insert(id, s);
            rows_of_states.push((
                s.upsert,
                rows::state_json(c)?,
                to_db("applied offset", c.applied_offset)?,
                to_db("last seq", c.last_seq)?,
                *id,
            ));
        }

        let stamp = |conv: &str| {
            stamps.get(conv).copied().ok_or_else(|| {
                error::refuse(format!(
                    "the batch writes to conversation {conv:?} without its state"
                ))
            })
        };
        for m in &batch.messages {
            to_db("seq", m.seq)?;
            stamp(&m.conv)?;
        }
        for (_, conv) in batch.joined.iter().chain(&batch.left) {
            stamp(conv)?;
        }
        let cursors = batch
            .cursors
            .iter()
            .map(crate::cursors::cursor_row)
            .collect::<Result<Vec<_>>>()?;
        // The last write to one key wins, as in the other engines.
        let mut messages: BTreeMap<(&str, u64), &Message> = BTreeMap::new();
        for m in &batch.messages {
            messages.insert((m.conv.as_str(), m.seq), m);
        }

        self.refuse_stale(&states).await?;
        self.drop_deleted_refs(&messages, &stamp).await?;

        let st = &self.st;
        let mut writes: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
        let mut days: BTreeMap<(i64, &str), i64> = BTreeMap::new();
        let mut message_rows = Vec::with_capacity(messages.len());
        let mut sent_rows = Vec::with_capacity(messages.len());
        for ((conv, _), m) in &messages {
            let s = stamp(conv)?;
            let seq = to_db("seq", m.seq)?;
            let keys = conv.len() + m.sender.len() + m.client_msg_id.len();
            let size = keys
                + m.msg_id.len()
                + m.sender_device.len()
                + m.body.len()
                + m.attachments.iter().map(|a| a.len() + 4).sum::<usize>()
                + m.reactions
                    .iter()
                    .map(|r| {
                        r.emoji.len() + 32 + r.users.iter().map(|u| u.len() + 3).sum::<usize>()
                    })
                    .sum::<usize>()
                + ROW_OVERHEAD;
            message_rows.push((
                size,
                (
                    *conv,
                    bucket(seq),
                    seq,
                    m.msg_id.as_str(),
                    m.sender.as_str(),
                    m.sender_device.as_str(),
                    m.client_msg_id.as_str(),
                    m.body.as_str(),
                    &m.attachments,
                    m.ts,
                    m.deleted,
                    to_db("edit_version", m.edit_version)?,
                    m.edited_ts,
                    m.reply_to
                        .as_ref()
                        .map(|r| to_db("reply_to", r.seq))
                        .transpose()?,
                    rows::reactions_json(m)?,
                    s.upsert,
                ),
            ));
            sent_rows.push((
                keys + ROW_OVERHEAD,
                (
                    *conv,
                    m.sender.as_str(),
                    m.client_msg_id.as_str(),
                    seq,
                    s.upsert,
                ),
            ));
            let ids: BTreeSet<&str> = m.attachments.iter().map(String::as_str).collect();
            for id in ids {
                writes.push(self.run(&st.put_ref, (id, *conv, seq, s.upsert)).boxed());
            }
            let max = days.entry((day(m.ts), conv)).or_insert(seq);
            *max = (*max).max(seq);
        }
        writes.extend(self.batched(&st.put_message, message_rows));
        writes.extend(self.batched(&st.put_sent, sent_rows));
        let day_set: BTreeSet<i64> = days.keys().map(|(d, _)| *d).collect();
        let day_rows = days
            .into_iter()
            .map(|((d, conv), max_seq)| {
                (
                    conv.len() + ROW_OVERHEAD,
                    (max_seq, max_seq, d, shard(conv), conv),
                )
            })
            .collect();
        writes.extend(self.batched(&st.put_message_day, day_rows));
        for d in day_set {
            writes.push(self.run(&st.put_message_day_index, (d,)).boxed());
        }
        for (user, conv) in &batch.left {
            let s = stamp(conv)?;
            writes.push(
                self.run(&st.leave, (s.delete, user.as_str(), conv.as_str()))
                    .boxed(),
            );
        }
        for (user, conv) in &batch.joined {
            let s = stamp(conv)?;
            writes.push(
                self.run(&st.join, (user.as_str(), conv.as_str(), s.upsert))
                    .boxed(),
            );
        }
        // Before the states: a cursor is never behind what it covers.
        for row in cursors {
            writes.push(self.run(&st.put_cursor, row).boxed());
        }
        self.join_writes(writes).await?;

        let commits = rows_of_states
            .into_iter()
            .map(|row| (row.1.len() + row.4.len() + ROW_OVERHEAD, row))
            .collect();
        self.join_writes(self.batched(&st.put_conversation, commits))
            .await
    }

    /// Refuses the batch if a conversation is stored from further in the
    /// log than the batch leaves it: a sequencer that lost its partition (a
    /// zombie) computed it from an older view.
    async fn refuse_stale(
        &self,
        states: &BTreeMap<&str, &chat_domain::ConversationState>,
    ) -> Result<()> {
        // A few conversations per read (`IN`), as the writes are batched.
        let ids: Vec<&str> = states.keys().copied().collect();
        let mut checks: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
        for some in ids.chunks(self.batch_rows.max(1)) {
            checks.push(
                async move {
                    let stored: Vec<(String, Option<i64>)> =
                        self.rows(&self.st.conversation_offsets, (some,)).await?;
                    for (id, offset) in stored {
                        let new = states.get(id.as_str()).map(|c| c.applied_offset);
                        let offset = offset.and_then(|o| u64::try_from(o).ok()).unwrap_or(0);
                        if new.is_some_and(|new| offset > new) {
                            // (Not refused for good: this process lost its
                            // partition, and retries until it is fenced.)
                            return Err(chat_ports::PortError::storage("store", format!(
                                "stale batch: conversation {id:?} was already written from further in the log"
                            )));
                        }
                    }
                    Ok(())
                }
                .boxed(),
            );
        }
        self.join_writes(checks).await
    }

    /// Removes the references of messages the batch deletes for everyone
    /// (the only way a message loses attachments): those of the stored
    /// message that the new one no longer carries.
    async fn drop_deleted_refs(
        &self,
        messages: &BTreeMap<(&str, u64), &Message>,
        stamp: &(dyn Fn(&str) -> Result<Stamp> + Sync),
    ) -> Result<()> {
        let mut drops: Vec<BoxFuture<'_, Result<()>>> = Vec::new();
        for ((conv, seq), m) in messages {
            if !m.deleted {
                continue;
            }
            let s = stamp(conv)?;
            let (conv, seq) = (*conv, to_db("seq", *seq)?);
            let keep: BTreeSet<String> = m.attachments.iter().cloned().collect();
            drops.push(
                async move {
                    let Some(stored) = self.stored_message(conv, seq).await? else {
                        return Ok(());
                    };
                    for id in stored.attachments.iter().filter(|id| !keep.contains(*id)) {
                        self.run(&self.st.drop_ref, (s.delete, id.as_str(), conv, seq))
                            .await?;
                    }
                    Ok(())
                }
                .boxed(),
            );
        }
        self.join_writes(drops).await
    }

    pub(crate) async fn write_last_seen(&self, user: &str, ts: i64) -> Result<()> {
        // Stamped with itself: of two disconnects racing, the later stays.
        self.run(&self.st.put_last_seen, (ts, ts, user)).await
    }
}
