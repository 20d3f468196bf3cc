//! The write side: the sequencer's batches (with their messages'
//! attachment references, `refs`), retention, last-seen.
//!
//! A batch is one transaction; rows go in with one `unnest` statement per
//! table, in key order, so that two transactions that touch the same rows
//! take their locks in the same order.

use crate::rows::{self, to_db};
use crate::{error, refs, PostgresStore};
use chat_domain::{ConversationState, Message};
use chat_ports::{LogCursor, PortError, Result, SequencedBatch};
use std::collections::BTreeMap;
use tokio_postgres::types::ToSql;

const UPSERT_CONVERSATIONS: &str = "\
INSERT INTO conversations (id, state)
SELECT id, state::json FROM unnest($1::text[], $2::text[]) AS t(id, state)
ON CONFLICT (id) DO UPDATE SET state = EXCLUDED.state
WHERE (conversations.state->>'applied_offset')::numeric
   <= (EXCLUDED.state->>'applied_offset')::numeric";

const UPSERT_MESSAGES: &str = "\
INSERT INTO messages
    (conv, seq, msg_id, sender, sender_device, client_msg_id, body, attachments, ts, deleted,
     edit_version, edited_ts, reply_to, reactions)
SELECT conv, seq, msg_id, sender, sender_device, client_msg_id, body, attachments::json, ts, deleted,
    edit_version, edited_ts, reply_to, reactions
FROM unnest($1::text[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::bytea[], $8::text[], $9::int8[], $10::bool[], $11::int8[], $12::int8[], $13::int8[],
            $14::text[])
    AS t(conv, seq, msg_id, sender, sender_device, client_msg_id, body, attachments, ts, deleted,
         edit_version, edited_ts, reply_to, reactions)
ON CONFLICT (conv, seq) DO UPDATE SET
    msg_id = EXCLUDED.msg_id,
    sender = EXCLUDED.sender,
    sender_device = EXCLUDED.sender_device,
    client_msg_id = EXCLUDED.client_msg_id,
    body = EXCLUDED.body,
    attachments = EXCLUDED.attachments,
    ts = EXCLUDED.ts,
    deleted = EXCLUDED.deleted,
    edit_version = EXCLUDED.edit_version,
    edited_ts = EXCLUDED.edited_ts,
    reply_to = EXCLUDED.reply_to,
    reactions = EXCLUDED.reactions";

const DELETE_MEMBERS: &str = "\
DELETE FROM user_conversations AS u
USING unnest($1::text[], $2::text[]) AS t(user_id, conv)
WHERE u.user_id = t.user_id AND u.conv = t.conv";

const INSERT_MEMBERS: &str = "\
INSERT INTO user_conversations (user_id, conv)
SELECT user_id, conv FROM unnest($1::text[], $2::text[]) AS t(user_id, conv)
ON CONFLICT DO NOTHING";

/// Positions only grow: a zombie's older cursor does not replace a newer one.
const UPSERT_CURSORS: &str = "\
INSERT INTO sequencer_cursors (partition, partitions, base, last_offset, last_fingerprint)
SELECT * FROM unnest($1::int4[], $2::int4[], $3::int8[], $4::int8[], $5::int8[])
ON CONFLICT (partition) DO UPDATE SET
    partitions = EXCLUDED.partitions, base = EXCLUDED.base,
    last_offset = EXCLUDED.last_offset, last_fingerprint = EXCLUDED.last_fingerprint
WHERE sequencer_cursors.base + sequencer_cursors.last_offset
   <= EXCLUDED.base + EXCLUDED.last_offset";

/// (user, conv) pairs as two columns.
fn pair_columns(pairs: &[(String, String)]) -> (Vec<&str>, Vec<&str>) {
    pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).unzip()
}

/// The message columns of `UPSERT_MESSAGES`.
#[derive(Default)]
struct MessageColumns<'a> {
    conv: Vec<&'a str>,
    seq: Vec<i64>,
    msg_id: Vec<&'a str>,
    sender: Vec<&'a str>,
    sender_device: Vec<&'a str>,
    client_msg_id: Vec<&'a str>,
    body: Vec<&'a [u8]>,
    attachments: Vec<String>,
    ts: Vec<i64>,
    deleted: Vec<bool>,
    edit_version: Vec<i64>,
    edited_ts: Vec<Option<i64>>,
    reply_to: Vec<Option<i64>>,
    reactions: Vec<Option<String>>,
}

impl<'a> MessageColumns<'a> {
    fn push(&mut self, m: &'a Message) -> Result<()> {
        self.conv.push(&m.conv);
        self.seq.push(to_db("seq", m.seq)?);
        self.msg_id.push(&m.msg_id);
        self.sender.push(&m.sender);
        self.sender_device.push(&m.sender_device);
        self.client_msg_id.push(&m.client_msg_id);
        self.body.push(m.body.as_bytes());
        self.attachments
            .push(rows::attachments_json(&m.attachments)?);
        self.ts.push(m.ts);
        self.deleted.push(m.deleted);
        self.edit_version
            .push(to_db("edit_version", m.edit_version)?);
        self.edited_ts.push(m.edited_ts);
        self.reply_to.push(
            m.reply_to
                .as_ref()
                .map(|r| to_db("reply_to", r.seq))
                .transpose()?,
        );
        self.reactions.push(rows::reactions_json(m)?);
        Ok(())
    }
}

impl PostgresStore {
    /// Runs one cached statement and returns how many rows it changed.
    pub(crate) async fn change(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(error::db)?;
        client.execute(&statement, params).await.map_err(error::db)
    }

    /// Writes the batch in one transaction. As with the embedded engine's
    /// one insert after another, the last of two writes to one key wins, and
    /// `left` is removed from the member index before `joined` is added.
    pub(crate) async fn write_batch(&self, batch: &SequencedBatch) -> Result<()> {
        let conversations: BTreeMap<&str, &ConversationState> = batch
            .conversations
            .iter()
            .map(|c| (c.id.as_str(), c))
            .collect();
        let messages: BTreeMap<(&str, u64), &Message> = batch
            .messages
            .iter()
            .map(|m| ((m.conv.as_str(), m.seq), m))
            .collect();

        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(error::db)?;
        if !conversations.is_empty() {
            let ids: Vec<&str> = conversations.keys().copied().collect();
            let states = conversations
                .values()
                .map(|c| rows::state_json(c))
                .collect::<Result<Vec<String>>>()?;
            let statement = tx
                .prepare_cached(UPSERT_CONVERSATIONS)
                .await
                .map_err(error::db)?;
            let written = tx
                .execute(&statement, &[&ids, &states])
                .await
                .map_err(error::db)?;
            if written < ids.len() as u64 {
                // A sequencer that lost its partition (a zombie) wrote an
                // older view of the log; nothing of this batch is kept, and
                // the retry reads the newer state.
                return Err(chat_ports::PortError::storage(
                    "store",
                    "stale batch: a conversation was already written from further in the log",
                ));
            }
        }
        if !messages.is_empty() {
            let mut c = MessageColumns::default();
            for m in messages.values() {
                c.push(m)?;
            }
            let statement = tx
                .prepare_cached(UPSERT_MESSAGES)
                .await
                .map_err(error::db)?;
            tx.execute(
                &statement,
                &[
                    &c.conv,
                    &c.seq,
                    &c.msg_id,
                    &c.sender,
                    &c.sender_device,
                    &c.client_msg_id,
                    &c.body,
                    &c.attachments,
                    &c.ts,
                    &c.deleted,
                    &c.edit_version,
                    &c.edited_ts,
                    &c.reply_to,
                    &c.reactions,
                ],
            )
            .await
            .map_err(error::db)?;
        }
        refs::replace(&tx, &messages).await?;
        for (sql, pairs) in [
            (DELETE_MEMBERS, &batch.left),
            (INSERT_MEMBERS, &batch.joined),
        ] {
            if pairs.is_empty() {
                continue;
            }
            let (users, convs) = pair_columns(pairs);
            // Planned now, not cached (the delete joins a list of keys with
            // the index): see `PostgresStore::rows_planned_now`.
            tx.execute(sql, &[&users, &convs])
                .await
                .map_err(error::db)?;
        }
        write_cursors(&tx, &batch.cursors).await?;
        tx.commit().await.map_err(error::db)
    }

    pub(crate) async fn read_cursors(&self) -> Result<Vec<LogCursor>> {
        let found = self
            .rows(
                "SELECT partition, partitions, base, last_offset, last_fingerprint \
                 FROM sequencer_cursors ORDER BY partition",
                &[],
            )
            .await?;
        found
            .iter()
            .map(|row| {
                let small = |i: usize| -> Result<u32> {
                    let v: i32 = rows::column(row, i)?;
                    u32::try_from(v).map_err(|_| error::corrupt(format!("cursor column {i}: {v}")))
                };
                Ok(LogCursor {
                    partition: small(0)?,
                    partitions: small(1)?,
                    base: rows::from_db("base", rows::int(row, 2)?)?,
                    last_offset: rows::from_db("offset", rows::int(row, 3)?)?,
                    last_fingerprint: rows::from_db("fingerprint", rows::int(row, 4)?)?,
                })
            })
            .collect()
    }

    /// Deletes every message older than `cutoff_ms`; their idempotency keys
    /// are columns of their rows and go with them, and their attachment
    /// references go by the foreign key's `ON DELETE CASCADE`.
    pub(crate) async fn write_expire(&self, cutoff_ms: i64) -> Result<u64> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached("DELETE FROM messages WHERE ts < $1")
            .await
            .map_err(error::db)?;
        client
            .execute(&statement, &[&cutoff_ms])
            .await
            .map_err(error::db)
    }

    pub(crate) async fn write_last_seen(&self, user: &str, ts: i64) -> Result<()> {
        let client = self.client().await?;
        let statement = client
            .prepare_cached(
                "INSERT INTO last_seen (user_id, ts) VALUES ($1, $2) \
                 ON CONFLICT (user_id) DO UPDATE SET ts = EXCLUDED.ts",
            )
            .await
            .map_err(error::db)?;
        client
            .execute(&statement, &[&user, &ts])
            .await
            .map_err(error::db)?;
        Ok(())
    }
}

/// The columns of `UPSERT_CURSORS`.
#[derive(Default)]
struct CursorColumns {
    partition: Vec<i32>,
    partitions: Vec<i32>,
    base: Vec<i64>,
    last_offset: Vec<i64>,
    last_fingerprint: Vec<i64>,
}

impl CursorColumns {
    fn push(&mut self, c: &LogCursor) -> Result<()> {
        let int = |what: &str, v: u32| {
            i32::try_from(v).map_err(|_| PortError::refused("store", format!("{what} {v}")))
        };
        self.partition.push(int("partition", c.partition)?);
        self.partitions.push(int("partition count", c.partitions)?);
        self.base.push(to_db("base", c.base)?);
        self.last_offset.push(to_db("offset", c.last_offset)?);
        self.last_fingerprint
            .push(to_db("fingerprint", c.last_fingerprint)?);
        Ok(())
    }
}

async fn write_cursors(
    tx: &deadpool_postgres::Transaction<'_>,
    cursors: &[LogCursor],
) -> Result<()> {
    if cursors.is_empty() {
        return Ok(());
    }
    let mut c = CursorColumns::default();
    for cursor in cursors {
        c.push(cursor)?;
    }
    let statement = tx.prepare_cached(UPSERT_CURSORS).await.map_err(error::db)?;
    tx.execute(
        &statement,
        &[
            &c.partition,
            &c.partitions,
            &c.base,
            &c.last_offset,
            &c.last_fingerprint,
        ],
    )
    .await
    .map_err(error::db)?;
    Ok(())
}
