//! The read side of the embedded store.

use super::*;
use async_trait::async_trait;
use chat_domain::{ConversationState, MemberReceipts, Message};
use chat_ports::{ConversationStore, LastSeenStore, MessageStore, ReceiptStore};
use redb::{ReadTransaction, ReadableDatabase};
use std::collections::HashMap;

impl EmbeddedStore {
    /// A read transaction on the current committed state.
    pub(super) fn read(&self) -> Result<ReadTransaction> {
        self.db().begin_read().map_err(err)
    }

    fn messages_in(
        &self,
        conv: &str,
        range: std::ops::RangeInclusive<u64>,
        limit: usize,
        newest_first: bool,
    ) -> Result<Vec<Message>> {
        let txn = self.read()?;
        let table = txn.open_table(MESSAGES).map_err(err)?;
        let (lo, hi) = range.into_inner();
        let rows = table.range((conv, lo)..=(conv, hi)).map_err(err)?;
        let rows: Box<dyn Iterator<Item = _>> = if newest_first {
            Box::new(rows.rev())
        } else {
            Box::new(rows)
        };
        let mut out = Vec::new();
        for row in rows {
            let (_, v) = row.map_err(err)?;
            out.push(decode::<Message>(v.value())?);
            if out.len() >= limit {
                break;
            }
        }
        if newest_first {
            out.reverse();
        }
        Ok(out)
    }
}

#[async_trait]
impl ConversationStore for EmbeddedStore {
    async fn conversation(&self, id: &str) -> Result<Option<ConversationState>> {
        let txn = self.read()?;
        let table = txn.open_table(CONVERSATIONS).map_err(err)?;
        match table.get(id).map_err(err)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    async fn conversations_of(&self, user: &str) -> Result<Vec<String>> {
        let txn = self.read()?;
        let table = txn.open_table(USER_CONVS).map_err(err)?;
        let mut out = Vec::new();
        for row in table.range((user, "")..).map_err(err)? {
            let (k, _) = row.map_err(err)?;
            let (u, conv) = k.value();
            if u != user {
                break;
            }
            out.push(conv.to_string());
        }
        Ok(out)
    }
}

#[async_trait]
impl MessageStore for EmbeddedStore {
    async fn message(&self, conv: &str, seq: u64) -> Result<Option<Message>> {
        let txn = self.read()?;
        let table = txn.open_table(MESSAGES).map_err(err)?;
        match table.get((conv, seq)).map_err(err)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    async fn messages_after(&self, conv: &str, after: u64, limit: usize) -> Result<Vec<Message>> {
        if limit == 0 || after == u64::MAX {
            return Ok(Vec::new());
        }
        self.messages_in(conv, after + 1..=u64::MAX, limit, false)
    }

    async fn messages_before(&self, conv: &str, before: u64, limit: usize) -> Result<Vec<Message>> {
        if limit == 0 || before == 0 {
            return Ok(Vec::new());
        }
        self.messages_in(conv, 0..=before - 1, limit, true)
    }

    async fn find_sent(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> Result<Option<Message>> {
        let seq = {
            let txn = self.read()?;
            let table = txn.open_table(SENT).map_err(err)?;
            let found = table.get((conv, sender, client_msg_id)).map_err(err)?;
            found.map(|v| v.value())
        };
        match seq {
            Some(seq) => self.message(conv, seq).await,
            None => Ok(None),
        }
    }

    async fn count_from_others(&self, conv: &str, user: &str, after: u64) -> Result<u64> {
        if after == u64::MAX {
            return Ok(0);
        }
        let txn = self.read()?;
        let table = txn.open_table(SENDERS).map_err(err)?;
        let mut n = 0;
        for row in table
            .range((conv, after + 1)..=(conv, u64::MAX))
            .map_err(err)?
        {
            let (_, sender) = row.map_err(err)?;
            if sender.value() != user {
                n += 1;
            }
        }
        Ok(n)
    }

    async fn expire(&self, cutoff_ms: i64) -> Result<u64> {
        self.write(move |txn| super::writes::expire(txn, cutoff_ms))
            .await
    }
}

#[async_trait]
impl ReceiptStore for EmbeddedStore {
    async fn advance(&self, updates: &[chat_ports::ReceiptUpdate]) -> Result<Vec<bool>> {
        let updates = updates.to_vec();
        self.write(move |txn| super::writes::advance(txn, &updates))
            .await
    }

    async fn device_delivered(&self, user: &str, device: &str) -> Result<HashMap<String, u64>> {
        let txn = self.read()?;
        let table = txn.open_table(DEVICE_DELIVERED).map_err(err)?;
        let mut out = HashMap::new();
        for row in table.range((user, device, "")..).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let (u, d, conv) = k.value();
            if u != user || d != device {
                break;
            }
            out.insert(conv.to_string(), v.value());
        }
        Ok(out)
    }

    async fn member_receipts(&self, conv: &str) -> Result<Vec<MemberReceipts>> {
        let txn = self.read()?;
        let table = txn.open_table(USER_RECEIPTS).map_err(err)?;
        let mut out = Vec::new();
        for row in table.range((conv, "")..).map_err(err)? {
            let (k, v) = row.map_err(err)?;
            let (c, user) = k.value();
            if c != conv {
                break;
            }
            let (delivered_seq, read_seq) = v.value();
            out.push(MemberReceipts {
                user: user.into(),
                delivered_seq,
                read_seq,
            });
        }
        Ok(out)
    }

    async fn read_seq(&self, conv: &str, user: &str) -> Result<u64> {
        let txn = self.read()?;
        let table = txn.open_table(USER_RECEIPTS).map_err(err)?;
        let found = table.get((conv, user)).map_err(err)?;
        Ok(found.map(|v| v.value().1).unwrap_or(0))
    }

    async fn watermarks(&self, conv: &str, user: &str) -> Result<(u64, u64)> {
        let txn = self.read()?;
        let table = txn.open_table(USER_RECEIPTS).map_err(err)?;
        let found = table.get((conv, user)).map_err(err)?;
        Ok(found.map(|v| v.value()).unwrap_or((0, 0)))
    }
}

#[async_trait]
impl LastSeenStore for EmbeddedStore {
    async fn set_last_seen(&self, user: &str, ts: i64) -> Result<()> {
        let user = user.to_string();
        self.write_lazily(move |txn| {
            let mut t = txn.open_table(LAST_SEEN).map_err(err)?;
            t.insert(user.as_str(), ts).map_err(err)?;
            Ok(())
        })
        .await
    }

    async fn last_seen(&self, user: &str) -> Result<Option<i64>> {
        let txn = self.read()?;
        let table = txn.open_table(LAST_SEEN).map_err(err)?;
        let found = table.get(user).map_err(err)?;
        Ok(found.map(|v| v.value()))
    }
}
