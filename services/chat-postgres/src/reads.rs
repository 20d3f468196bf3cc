//! The read queries. Each runs on one pooled connection with a cached
//! prepared statement, except those that join a list of keys with a table
//! ([`PostgresStore::rows_planned_now`]). Lists come in the order the
//! embedded engine gives: keys in byte order (`COLLATE "C"`), messages by
//! seq.

use crate::rows::{self, message_columns};
use crate::{error, PostgresStore};
use chat_domain::{ConversationState, MemberReceipts, Message};
use chat_ports::Result;
use std::collections::HashMap;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

impl PostgresStore {
    /// Runs one cached statement and returns its rows.
    pub(crate) async fn rows(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Row>> {
        let client = self.client().await?;
        let statement = client.prepare_cached(sql).await.map_err(error::db)?;
        client.query(&statement, params).await.map_err(error::db)
    }

    /// Runs one statement planned for its parameters and the tables as
    /// they are now (an unnamed statement: one more round trip). For the
    /// queries that join a list of keys with a table: a cached generic plan
    /// chosen while the table was small (a hash join over a full scan)
    /// would scan all of it on every call once it has grown, until the next
    /// ANALYZE (`tests/plans.rs`).
    pub(crate) async fn rows_planned_now(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>> {
        let client = self.client().await?;
        client.query(sql, params).await.map_err(error::db)
    }

    async fn messages(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Vec<Message>> {
        self.rows(sql, params)
            .await?
            .iter()
            .map(rows::message)
            .collect()
    }

    pub(crate) async fn read_conversation(&self, id: &str) -> Result<Option<ConversationState>> {
        let found = self
            .rows(
                "SELECT state::text FROM conversations WHERE id = $1",
                &[&id],
            )
            .await?;
        found.first().map(rows::conversation).transpose()
    }

    pub(crate) async fn read_conversations_of(&self, user: &str) -> Result<Vec<String>> {
        self.rows(
            "SELECT conv FROM user_conversations WHERE user_id = $1 ORDER BY conv COLLATE \"C\"",
            &[&user],
        )
        .await?
        .iter()
        .map(|row| rows::text(row, 0))
        .collect()
    }

    pub(crate) async fn read_message(&self, conv: &str, seq: u64) -> Result<Option<Message>> {
        let Ok(seq) = i64::try_from(seq) else {
            return Ok(None);
        };
        let mut found = self
            .messages(
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM messages WHERE conv = $1 AND seq = $2"
                ),
                &[&conv, &seq],
            )
            .await?;
        Ok(found.pop())
    }

    pub(crate) async fn read_messages_after(
        &self,
        conv: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Message>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let (after, limit) = (rows::bound(after), rows::limit(limit));
        self.messages(
            concat!(
                "SELECT ",
                message_columns!(),
                " FROM messages WHERE conv = $1 AND seq > $2 ORDER BY seq LIMIT $3"
            ),
            &[&conv, &after, &limit],
        )
        .await
    }

    pub(crate) async fn read_messages_before(
        &self,
        conv: &str,
        before: u64,
        limit: usize,
    ) -> Result<Vec<Message>> {
        if limit == 0 || before == 0 {
            return Ok(Vec::new());
        }
        // Inclusive, so that a `before` above i64::MAX still reaches a
        // message at i64::MAX.
        let (last, limit) = (rows::bound(before - 1), rows::limit(limit));
        self.messages(
            concat!(
                "SELECT * FROM (SELECT ",
                message_columns!(),
                " FROM messages WHERE conv = $1 AND seq <= $2 ORDER BY seq DESC LIMIT $3) AS page",
                " ORDER BY seq"
            ),
            &[&conv, &last, &limit],
        )
        .await
    }

    /// The states of `ids`, in their order, in one query.
    pub(crate) async fn read_conversation_states(
        &self,
        ids: &[&str],
    ) -> Result<Vec<Option<ConversationState>>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let asked: Vec<&str> = ids.to_vec();
        let found = self
            // One index probe per id, as in `read_sent_all`.
            .rows_planned_now(
                "SELECT c.id, c.state FROM unnest($1::text[]) AS k(id) \
                 CROSS JOIN LATERAL (SELECT id, state::text FROM conversations \
                 WHERE id = k.id LIMIT 1) AS c",
                &[&asked],
            )
            .await?;
        let mut by_id: HashMap<String, ConversationState> = HashMap::new();
        for row in &found {
            let id: String = rows::column(row, 0)?;
            let state: String = rows::column(row, 1)?;
            let state = serde_json::from_str(&state).map_err(error::corrupt)?;
            by_id.insert(id, state);
        }
        Ok(ids.iter().map(|id| by_id.get(*id).cloned()).collect())
    }

    /// [`Self::read_sent`] of each key, in their order, in one query.
    pub(crate) async fn read_sent_all(
        &self,
        keys: &[(&str, &str, &str)],
    ) -> Result<Vec<Option<Message>>> {
        // A key holding U+0000 is never stored (see `read_sent`).
        let asked: Vec<usize> = (0..keys.len())
            .filter(|i| !keys[*i].2.contains('\0'))
            .collect();
        if asked.is_empty() {
            return Ok(vec![None; keys.len()]);
        }
        let convs: Vec<&str> = asked.iter().map(|i| keys[*i].0).collect();
        let senders: Vec<&str> = asked.iter().map(|i| keys[*i].1).collect();
        let ids: Vec<&str> = asked.iter().map(|i| keys[*i].2).collect();
        let slots: Vec<i64> = asked.iter().map(|i| *i as i64).collect();
        let found = self
            .rows_planned_now(
                // One index probe per key (a LATERAL with LIMIT is never
                // turned into a hash join over the whole table).
                concat!(
                    "SELECT m.*, k.slot \
                     FROM unnest($1::text[], $2::text[], $3::text[], $4::int8[]) \
                     AS k(k_conv, k_sender, k_id, slot) \
                     CROSS JOIN LATERAL (SELECT ",
                    message_columns!(),
                    " FROM messages WHERE conv = k.k_conv AND sender = k.k_sender \
                     AND client_msg_id = k.k_id LIMIT 1) AS m"
                ),
                &[&convs, &senders, &ids, &slots],
            )
            .await?;
        let mut out = vec![None; keys.len()];
        for row in &found {
            let slot: i64 = rows::column(row, rows::MESSAGE_COLUMNS)?;
            let slot = usize::try_from(slot).map_err(|_| error::corrupt(format!("slot {slot}")))?;
            if let Some(place) = out.get_mut(slot) {
                *place = Some(rows::message(row)?);
            }
        }
        Ok(out)
    }

    pub(crate) async fn read_sent(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> Result<Option<Message>> {
        if client_msg_id.contains('\0') {
            // The text column cannot hold U+0000, so no stored send has
            // such a key (the rules refuse one; asking would fail).
            return Ok(None);
        }
        let mut found = self
            .messages(
                concat!(
                    "SELECT ",
                    message_columns!(),
                    " FROM messages WHERE conv = $1 AND sender = $2 AND client_msg_id = $3"
                ),
                &[&conv, &sender, &client_msg_id],
            )
            .await?;
        Ok(found.pop())
    }

    pub(crate) async fn read_count_from_others(
        &self,
        conv: &str,
        user: &str,
        after: u64,
    ) -> Result<u64> {
        let after = rows::bound(after);
        let found = self
            .rows(
                "SELECT count(*) FROM messages WHERE conv = $1 AND seq > $2 AND sender <> $3",
                &[&conv, &after, &user],
            )
            .await?;
        match found.first() {
            Some(row) => rows::seq(row, 0),
            None => Ok(0),
        }
    }

    pub(crate) async fn read_device_delivered(
        &self,
        user: &str,
        device: &str,
    ) -> Result<HashMap<String, u64>> {
        self.rows(
            "SELECT conv, seq FROM device_delivered WHERE user_id = $1 AND device = $2",
            &[&user, &device],
        )
        .await?
        .iter()
        .map(|row| Ok((rows::text(row, 0)?, rows::seq(row, 1)?)))
        .collect()
    }

    pub(crate) async fn read_member_receipts(&self, conv: &str) -> Result<Vec<MemberReceipts>> {
        self.rows(
            "SELECT user_id, delivered, read FROM user_receipts WHERE conv = $1 \
             ORDER BY user_id COLLATE \"C\"",
            &[&conv],
        )
        .await?
        .iter()
        .map(|row| {
            Ok(MemberReceipts {
                user: rows::text(row, 0)?.into(),
                delivered_seq: rows::seq(row, 1)?,
                read_seq: rows::seq(row, 2)?,
            })
        })
        .collect()
    }

    pub(crate) async fn read_read_seq(&self, conv: &str, user: &str) -> Result<u64> {
        let found = self
            .rows(
                "SELECT read FROM user_receipts WHERE conv = $1 AND user_id = $2",
                &[&conv, &user],
            )
            .await?;
        match found.first() {
            Some(row) => rows::seq(row, 0),
            None => Ok(0),
        }
    }

    pub(crate) async fn read_watermarks(&self, conv: &str, user: &str) -> Result<(u64, u64)> {
        let found = self
            .rows(
                "SELECT delivered, read FROM user_receipts WHERE conv = $1 AND user_id = $2",
                &[&conv, &user],
            )
            .await?;
        match found.first() {
            Some(row) => Ok((rows::seq(row, 0)?, rows::seq(row, 1)?)),
            None => Ok((0, 0)),
        }
    }

    pub(crate) async fn read_last_seen(&self, user: &str) -> Result<Option<i64>> {
        let found = self
            .rows("SELECT ts FROM last_seen WHERE user_id = $1", &[&user])
            .await?;
        found.first().map(|row| rows::int(row, 0)).transpose()
    }
}
