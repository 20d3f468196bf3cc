//! The store ports on [`CassandraStore`]: thin calls into `reads`,
//! `writes`, `retention`, `receipts`, `attachments` and `devices`.

use crate::CassandraStore;
use async_trait::async_trait;
use chat_domain::{ConversationState, MemberReceipts, Message};
use chat_ports::{
    Attachment, AttachmentStore, ConversationStore, DeviceStore, LastSeenStore, MessageStore,
    PushSettings, ReceiptStore, ReceiptUpdate, Result, SequencedBatch, SequencerStore,
};
use std::collections::HashMap;

#[async_trait]
impl ConversationStore for CassandraStore {
    async fn conversation(&self, id: &str) -> Result<Option<ConversationState>> {
        self.read_conversation(id).await
    }

    async fn conversations_of(&self, user: &str) -> Result<Vec<String>> {
        self.read_conversations_of(user).await
    }
}

#[async_trait]
impl MessageStore for CassandraStore {
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
impl SequencerStore for CassandraStore {
    async fn apply(&self, batch: SequencedBatch) -> Result<()> {
        self.write_batch(&batch).await
    }
}

#[async_trait]
impl ReceiptStore for CassandraStore {
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
impl LastSeenStore for CassandraStore {
    async fn set_last_seen(&self, user: &str, ts: i64) -> Result<()> {
        self.write_last_seen(user, ts).await
    }

    async fn last_seen(&self, user: &str) -> Result<Option<i64>> {
        self.read_last_seen(user).await
    }
}

#[async_trait]
impl AttachmentStore for CassandraStore {
    async fn put_attachment(&self, attachment: &Attachment) -> Result<()> {
        self.write_attachment(attachment).await
    }

    async fn attachment(&self, id: &str) -> Result<Option<Attachment>> {
        self.read_attachment(id).await
    }

    async fn set_uploaded(&self, id: &str, size: u64) -> Result<()> {
        self.write_uploaded(id, size).await
    }

    async fn set_thumbnail(&self, id: &str, content_type: &str) -> Result<()> {
        self.write_thumbnail(id, content_type).await
    }

    async fn attachment_refs(&self, id: &str) -> Result<Vec<(String, u64)>> {
        self.read_attachment_refs(id).await
    }

    async fn unreferenced_attachments(
        &self,
        created_before: i64,
        limit: usize,
    ) -> Result<Vec<String>> {
        self.read_unreferenced(created_before, limit).await
    }

    async fn delete_attachment(&self, id: &str) -> Result<()> {
        self.delete_attachment_record(id).await
    }
}

#[async_trait]
impl DeviceStore for CassandraStore {
    async fn register_device(&self, user: &str, device: &str, ts: i64) -> Result<()> {
        self.write_device(user, device, ts).await
    }

    async fn devices(&self, user: &str) -> Result<Vec<String>> {
        self.read_devices(user).await
    }

    async fn set_previews(&self, user: &str, on: bool) -> Result<()> {
        self.write_previews(user, on).await
    }

    async fn set_muted(&self, user: &str, conv: &str, muted: bool) -> Result<()> {
        self.write_muted(user, conv, muted).await
    }

    async fn push_settings(&self, user: &str) -> Result<PushSettings> {
        self.read_push_settings(user).await
    }
}
