//! The reference index's side of a sequencer batch: inside the batch's
//! transaction, after its messages are written, each written message's
//! references are replaced by one per id in its `attachments` (none for a
//! message deleted for everyone). A stale batch is refused before this
//! runs, and its transaction rolls back, so none of its references are kept.

use crate::error;
use crate::rows::to_db;
use chat_domain::Message;
use chat_ports::Result;
use deadpool_postgres::Transaction;
use std::collections::{BTreeMap, BTreeSet};

const DELETE_REFS: &str = "\
DELETE FROM attachment_refs AS r
USING unnest($1::text[], $2::int8[]) AS t(conv, seq)
WHERE r.conv = t.conv AND r.seq = t.seq";

const INSERT_REFS: &str = "\
INSERT INTO attachment_refs (attachment, conv, seq)
SELECT attachment, conv, seq
FROM unnest($1::bytea[], $2::text[], $3::int8[]) AS t(attachment, conv, seq)
ON CONFLICT DO NOTHING";

/// Replaces the references of `messages` (the batch's, one per key) with
/// those their attachment lists name.
pub(crate) async fn replace(
    tx: &Transaction<'_>,
    messages: &BTreeMap<(&str, u64), &Message>,
) -> Result<()> {
    if messages.is_empty() {
        return Ok(());
    }
    let mut convs = Vec::with_capacity(messages.len());
    let mut seqs = Vec::with_capacity(messages.len());
    // In key order (attachment, conv, seq), without repeats.
    let mut refs: BTreeSet<(&[u8], &str, i64)> = BTreeSet::new();
    for ((conv, seq), m) in messages {
        let seq = to_db("seq", *seq)?;
        convs.push(*conv);
        seqs.push(seq);
        for id in &m.attachments {
            refs.insert((id.as_bytes(), conv, seq));
        }
    }
    // Planned now, not cached: see `PostgresStore::rows_planned_now`.
    tx.execute(DELETE_REFS, &[&convs, &seqs])
        .await
        .map_err(error::db)?;
    if refs.is_empty() {
        return Ok(());
    }
    let mut ids = Vec::with_capacity(refs.len());
    let mut ref_convs = Vec::with_capacity(refs.len());
    let mut ref_seqs = Vec::with_capacity(refs.len());
    for (id, conv, seq) in refs {
        ids.push(id);
        ref_convs.push(conv);
        ref_seqs.push(seq);
    }
    let statement = tx.prepare_cached(INSERT_REFS).await.map_err(error::db)?;
    tx.execute(&statement, &[&ids, &ref_convs, &ref_seqs])
        .await
        .map_err(error::db)?;
    Ok(())
}
