//! The write side of the embedded store: the sequencer's batches, receipts,
//! retention. Message writes keep the attachment references in step (see
//! `refs`).

use super::refs::RefIndex;
use super::*;
use async_trait::async_trait;
use chat_domain::{Message, ReceiptKind};
use chat_ports::{LogCursor, ReceiptUpdate, SequencedBatch, SequencerStore};
use redb::ReadableTable;

#[async_trait]
impl SequencerStore for EmbeddedStore {
    async fn apply(&self, batch: SequencedBatch) -> Result<()> {
        self.write(move |txn| apply(txn, &batch)).await
    }

    async fn cursors(&self) -> Result<Vec<LogCursor>> {
        let txn = self.read()?;
        let table = txn.open_table(CURSORS).map_err(err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let (partitions, base, last_offset, last_fingerprint) = v.value();
            out.push(LogCursor {
                partition: k.value(),
                partitions,
                base,
                last_offset,
                last_fingerprint,
            });
        }
        Ok(out)
    }
}

fn apply(txn: &WriteTransaction, batch: &SequencedBatch) -> Result<()> {
    {
        let mut convs = txn.open_table(CONVERSATIONS).map_err(err)?;
        for c in &batch.conversations {
            let stored = convs.get(c.id.as_str()).map_err(err)?.map(|v| {
                serde_json::from_slice::<chat_domain::ConversationState>(v.value())
                    .map(|s| s.applied_offset)
            });
            if let Some(Ok(applied)) = stored {
                if applied > c.applied_offset {
                    // Written from further in the log already: the whole
                    // transaction is dropped.
                    return Err(PortError::storage(
                        "store",
                        "stale batch: a conversation was already written from further in the log",
                    ));
                }
            }
            convs
                .insert(c.id.as_str(), encode(c).as_slice())
                .map_err(err)?;
        }
    }
    {
        let mut messages = txn.open_table(MESSAGES).map_err(err)?;
        let mut senders = txn.open_table(SENDERS).map_err(err)?;
        let mut sent = txn.open_table(SENT).map_err(err)?;
        let mut refs = RefIndex::open(txn)?;
        for m in &batch.messages {
            // A message written again at its (conv, seq) replaces the
            // references of the one stored there.
            let old = match messages.get((m.conv.as_str(), m.seq)).map_err(err)? {
                Some(v) => decode::<Message>(v.value())?.attachments,
                None => Vec::new(),
            };
            refs.replace(&m.conv, m.seq, &old, &m.attachments)?;
            messages
                .insert((m.conv.as_str(), m.seq), encode(m).as_slice())
                .map_err(err)?;
            senders
                .insert((m.conv.as_str(), m.seq), m.sender.as_str())
                .map_err(err)?;
            sent.insert(
                (m.conv.as_str(), m.sender.as_str(), m.client_msg_id.as_str()),
                m.seq,
            )
            .map_err(err)?;
        }
    }
    {
        let mut cursors = txn.open_table(CURSORS).map_err(err)?;
        for c in &batch.cursors {
            let value = (c.partitions, c.base, c.last_offset, c.last_fingerprint);
            cursors.insert(c.partition, value).map_err(err)?;
        }
    }
    let mut index = txn.open_table(USER_CONVS).map_err(err)?;
    for (user, conv) in &batch.left {
        index.remove((user.as_str(), conv.as_str())).map_err(err)?;
    }
    for (user, conv) in &batch.joined {
        index
            .insert((user.as_str(), conv.as_str()), ())
            .map_err(err)?;
    }
    Ok(())
}

/// Max-merges receipts; reports whether each moved its user's watermark.
pub(super) fn advance(txn: &WriteTransaction, updates: &[ReceiptUpdate]) -> Result<Vec<bool>> {
    let mut device = txn.open_table(DEVICE_DELIVERED).map_err(err)?;
    let mut user = txn.open_table(USER_RECEIPTS).map_err(err)?;
    let mut moved = Vec::with_capacity(updates.len());
    for u in updates {
        if u.kind == ReceiptKind::Delivered {
            let key = (u.user.as_str(), u.device.as_str(), u.conv.as_str());
            let current = device
                .get(key)
                .map_err(err)?
                .map(|v| v.value())
                .unwrap_or(0);
            if u.seq > current {
                device.insert(key, u.seq).map_err(err)?;
            }
        }
        let key = (u.conv.as_str(), u.user.as_str());
        let (delivered, read) = user
            .get(key)
            .map_err(err)?
            .map(|v| v.value())
            .unwrap_or((0, 0));
        let (next, advanced) = chat_ports::merge_receipt((delivered, read), u.kind, u.seq);
        if next != (delivered, read) {
            user.insert(key, next).map_err(err)?;
        }
        moved.push(advanced);
    }
    Ok(moved)
}

/// Removes every message older than the cutoff, with its indexes.
pub(super) fn expire(txn: &WriteTransaction, cutoff_ms: i64) -> Result<u64> {
    let convs: Vec<String> = {
        let t = txn.open_table(CONVERSATIONS).map_err(err)?;
        let mut v = Vec::new();
        for row in t.iter().map_err(err)? {
            v.push(row.map_err(err)?.0.value().to_string());
        }
        v
    };
    let mut messages = txn.open_table(MESSAGES).map_err(err)?;
    let mut senders = txn.open_table(SENDERS).map_err(err)?;
    let mut sent = txn.open_table(SENT).map_err(err)?;
    let mut refs = RefIndex::open(txn)?;
    let mut removed = 0;
    for conv in convs {
        let mut doomed: Vec<Message> = Vec::new();
        for row in messages
            .range((conv.as_str(), 0)..=(conv.as_str(), u64::MAX))
            .map_err(err)?
        {
            let (_, v) = row.map_err(err)?;
            let m: Message = decode(v.value())?;
            if m.ts >= cutoff_ms {
                break;
            }
            doomed.push(m);
        }
        for m in doomed {
            messages.remove((conv.as_str(), m.seq)).map_err(err)?;
            senders.remove((conv.as_str(), m.seq)).map_err(err)?;
            sent.remove((conv.as_str(), m.sender.as_str(), m.client_msg_id.as_str()))
                .map_err(err)?;
            refs.replace(&conv, m.seq, &m.attachments, &[])?;
            removed += 1;
        }
    }
    Ok(removed)
}
