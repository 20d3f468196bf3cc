//! The store ports on [`PostgresStore`]: thin calls into `reads` and
//! `writes`.

use crate::PostgresStore;
use async_trait::async_trait;
use chat_domain::{ConversationState, MemberReceipts, Message};
use chat_ports::{
    ConversationStore, LastSeenStore, MessageStore, ReceiptStore, ReceiptUpdate, Result,
    SequencedBatch, SequencerStore,
};
use std::collections::HashMap;

#[async_trait]
impl ConversationStore for PostgresStore {
    async fn conversation(&self, id: &str) -> Result<Option<ConversationState>> {
        self.read_conversation(id).await
    }

    async fn conversations_of(&self, user: &str) -> Result<Vec<String>> {
        self.read_conversations_of(user).await
    }
}

#[async_trait]
impl MessageStore for PostgresStore {
    async fn message(&self, conv: &str, seq: u64) -> Result<Option<Message>> {
        self.read_message(conv, seq).await
    }

    async fn messages_after(&self, conv: &str, after: u64, limit: usize) -> Result<Vec<Message>> {
        self.read_messages_after(conv, after, limit).await
    }

    async fn messages_before(&self, conv: &str, before: u64, limit: usize) -> Result<Vec<Message>> {
        self.read_messages_before(conv, before, limit).await
    }

    async fn find_sent(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> Result<Option<Message>> {
        self.read_sent(conv, sender, client_msg_id).await
    }

    async fn count_from_others(&self, conv: &str, user: &str, after: u64) -> Result<u64> {
        self.read_count_from_others(conv, user, after).await
    }

    async fn expire(&self, cutoff_ms: i64) -> Result<u64> {
        self.write_expire(cutoff_ms).await
    }
}

#[async_trait]
impl SequencerStore for PostgresStore {
    async fn apply(&self, batch: SequencedBatch) -> Result<()> {
        self.write_batch(&batch).await
    }
}

#[async_trait]
impl ReceiptStore for PostgresStore {
    async fn advance(&self, updates: &[ReceiptUpdate]) -> Result<Vec<bool>> {
        self.write_receipts(updates).await
    }

    async fn device_delivered(&self, user: &str, device: &str) -> Result<HashMap<String, u64>> {
        self.read_device_delivered(user, device).await
    }

    async fn member_receipts(&self, conv: &str) -> Result<Vec<MemberReceipts>> {
        self.read_member_receipts(conv).await
    }

    async fn read_seq(&self, conv: &str, user: &str) -> Result<u64> {
        self.read_read_seq(conv, user).await
    }
}

#[async_trait]
impl LastSeenStore for PostgresStore {
    async fn set_last_seen(&self, user: &str, ts: i64) -> Result<()> {
        self.write_last_seen(user, ts).await
    }

    async fn last_seen(&self, user: &str) -> Result<Option<i64>> {
        self.read_last_seen(user).await
    }
}
