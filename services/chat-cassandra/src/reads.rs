//! The read queries of conversations and messages. Messages are read a
//! bucket at a time; the seq chain is dense above retention's floor and up
//! to the conversation's committed last seq, so a scan goes on to the next
//! bucket only when it read the current one to its end, and stops at that
//! last seq: a batch writes its rows concurrently and its state last (the
//! commit point), so rows above the state may have holes below them.

use crate::keys::{bound, bucket, bucket_range};
use crate::rows::{self, MessageRow};
use crate::CassandraStore;
use chat_domain::{ConversationState, Message};
use chat_ports::store::side_by_side;
use chat_ports::Result;
use futures::FutureExt;
use std::collections::HashMap;

impl CassandraStore {
    pub(crate) async fn read_conversation(&self, id: &str) -> Result<Option<ConversationState>> {
        let found: Option<(Option<String>,)> = self.row(&self.st.conversation, (id,)).await?;
        match found {
            Some((Some(state),)) => rows::conversation(&state).map(Some),
            _ => Ok(None),
        }
    }

    /// The states of `ids`, in their order: a few conversations per read
    /// (`IN`, as many as a write batch has rows), the reads side by side.
    pub(crate) async fn read_conversation_states(
        &self,
        ids: &[&str],
    ) -> Result<Vec<Option<ConversationState>>> {
        let reads: Vec<_> = ids
            .chunks(self.batch_rows.max(1))
            .map(|some| self.rows(&self.st.conversation_states, (some,)).boxed())
            .collect();
        let chunks: Vec<Vec<(String, Option<String>)>> = side_by_side(reads).await?;
        let mut found: HashMap<String, ConversationState> = HashMap::new();
        for (id, state) in chunks.into_iter().flatten() {
            if let Some(state) = state {
                found.insert(id, rows::conversation(&state)?);
            }
        }
        Ok(ids.iter().map(|id| found.get(*id).cloned()).collect())
    }

    /// [`Self::read_sent`] of each key, side by side.
    pub(crate) async fn read_sent_all(
        &self,
        keys: &[(&str, &str, &str)],
    ) -> Result<Vec<Option<Message>>> {
        let reads: Vec<_> = keys
            .iter()
            .map(|(conv, sender, key)| self.read_sent(conv, sender, key))
            .collect();
        side_by_side(reads).await
    }

    pub(crate) async fn read_conversations_of(&self, user: &str) -> Result<Vec<String>> {
        let found: Vec<(String,)> = self.rows(&self.st.conversations_of, (user,)).await?;
        Ok(found.into_iter().map(|(c,)| c).collect())
    }

    /// The message at (conv, seq), if stored.
    pub(crate) async fn stored_message(&self, conv: &str, seq: i64) -> Result<Option<Message>> {
        let found: Option<MessageRow> =
            self.row(&self.st.message, (conv, bucket(seq), seq)).await?;
        found.map(|row| rows::message(conv, row)).transpose()
    }

    pub(crate) async fn read_message(&self, conv: &str, seq: u64) -> Result<Option<Message>> {
        match i64::try_from(seq) {
            Ok(seq) => self.stored_message(conv, seq).await,
            Err(_) => Ok(None),
        }
    }

    /// The highest seq retention removed from `conv` (0: none).
    pub(crate) async fn floor(&self, conv: &str) -> Result<i64> {
        let found: Option<(Option<i64>,)> = self.row(&self.st.floor, (conv,)).await?;
        Ok(found.and_then(|(s,)| s).unwrap_or(0))
    }

    /// The last seq of `conv`'s committed state (0: none).
    async fn committed_last_seq(&self, conv: &str) -> Result<i64> {
        let found: Option<(Option<i64>,)> =
            self.row(&self.st.conversation_last_seq, (conv,)).await?;
        Ok(found.and_then(|(s,)| s).unwrap_or(0))
    }

    /// The seqs a scan above `after` reads, as (from, upto]: from
    /// retention's floor when that is higher (rows below it may still be
    /// waiting to be dropped, and whole buckets below it are gone), up to
    /// the committed last seq, read before any row: the rows of a batch
    /// still being written land in any order before its state, so above
    /// the state a later seq may be there while an earlier one is not.
    async fn scan_range(&self, conv: &str, after: u64) -> Result<(i64, i64)> {
        let (floor, last) = futures::try_join!(self.floor(conv), self.committed_last_seq(conv))?;
        Ok((floor.max(bound(after)), last))
    }

    pub(crate) async fn read_messages_after(
        &self,
        conv: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<Message>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let (mut from, upto) = self.scan_range(conv, after).await?;
        while out.len() < limit && from < upto {
            let b = bucket(from + 1);
            let want = i32::try_from(limit - out.len()).unwrap_or(i32::MAX);
            let found: Vec<MessageRow> = self
                .rows(&self.st.messages_after, (conv, b, from, upto, want))
                .await?;
            let read = found.len();
            for row in found {
                out.push(rows::message(conv, row)?);
            }
            let last = out.last().map(|m| m.seq as i64).unwrap_or(from);
            if read == 0 || last < bucket_range(b).1 {
                break;
            }
            from = last;
        }
        Ok(out)
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
        let last_seq: Option<(Option<i64>,)> =
            self.row(&self.st.conversation_last_seq, (conv,)).await?;
        let Some(last_seq) = last_seq.and_then(|(s,)| s) else {
            return Ok(Vec::new());
        };
        let mut upto = bound(before - 1).min(last_seq);
        let mut out: Vec<Message> = Vec::new();
        while out.len() < limit && upto > 0 {
            let b = bucket(upto);
            let want = i32::try_from(limit - out.len()).unwrap_or(i32::MAX);
            let found: Vec<MessageRow> = self
                .rows(&self.st.messages_before, (conv, b, upto, want))
                .await?;
            let read = found.len();
            for row in found {
                out.push(rows::message(conv, row)?);
            }
            let lowest = out.last().map(|m| m.seq as i64).unwrap_or(upto);
            if read == 0 || lowest > bucket_range(b).0.max(1) {
                break;
            }
            upto = lowest - 1;
        }
        out.reverse();
        Ok(out)
    }

    pub(crate) async fn read_sent(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> Result<Option<Message>> {
        let found: Option<(Option<i64>,)> = self
            .row(&self.st.sent, (conv, sender, client_msg_id))
            .await?;
        let Some(seq) = found.and_then(|(s,)| s) else {
            return Ok(None);
        };
        // A key whose message retention removed is gone with it.
        let message = self.stored_message(conv, seq).await?;
        Ok(message.filter(|m| m.sender == sender && m.client_msg_id == client_msg_id))
    }

    pub(crate) async fn read_count_from_others(
        &self,
        conv: &str,
        user: &str,
        after: u64,
    ) -> Result<u64> {
        let (mut from, upto) = self.scan_range(conv, after).await?;
        let mut count = 0u64;
        while from < upto {
            let b = bucket(from + 1);
            let found: Vec<(i64, String)> = self
                .rows(&self.st.senders_after, (conv, b, from, upto))
                .await?;
            let Some(last) = found.iter().map(|(s, _)| *s).max() else {
                break;
            };
            count += found.iter().filter(|(_, s)| s != user).count() as u64;
            if last < bucket_range(b).1 {
                break;
            }
            from = last;
        }
        Ok(count)
    }

    pub(crate) async fn read_last_seen(&self, user: &str) -> Result<Option<i64>> {
        let found: Option<(Option<i64>,)> = self.row(&self.st.last_seen, (user,)).await?;
        Ok(found.and_then(|(t,)| t))
    }
}
