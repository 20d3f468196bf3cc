//! One macro that implements every store port on an engine type by calling
//! its inherent methods, so that an engine whose methods follow the names
//! below (as the PostgreSQL and Cassandra engines do) needs no hand-written
//! layer of trait methods that only forward.

/// Implements `ConversationStore`, `MessageStore`, `SequencerStore`,
/// `ReceiptStore`, `LastSeenStore`, `AttachmentStore` and `DeviceStore` on
/// `$engine` by calling its inherent async methods of the same arguments:
/// `read_conversation`, `read_conversations_of`, `read_message`,
/// `read_messages_after`, `read_messages_before`, `read_sent`,
/// `read_conversation_states`, `read_sent_all`,
/// `read_count_from_others`, `write_expire`, `write_batch`, `read_cursors`,
/// `write_receipts`, `read_device_delivered`, `read_member_receipts`,
/// `read_read_seq`, `read_watermarks`, `write_last_seen`, `read_last_seen`, `write_attachment`,
/// `read_attachment`, `write_uploaded`, `write_thumbnail`,
/// `read_attachment_refs`, `read_unreferenced`, `delete_attachment_record`,
/// `write_device`, `read_device_seen`, `read_devices`, `write_previews`, `write_muted`,
/// `read_push_settings`.
#[macro_export]
macro_rules! store_ports_from_methods {
    ($engine:ty) => {
        #[$crate::__async_trait]
        impl $crate::ConversationStore for $engine {
            async fn conversation(
                &self,
                id: &str,
            ) -> $crate::Result<Option<$crate::__domain::ConversationState>> {
                self.read_conversation(id).await
            }

            async fn conversations_of(&self, user: &str) -> $crate::Result<Vec<String>> {
                self.read_conversations_of(user).await
            }

            async fn conversation_states(
                &self,
                ids: &[&str],
            ) -> $crate::Result<Vec<Option<$crate::__domain::ConversationState>>> {
                self.read_conversation_states(ids).await
            }
        }

        #[$crate::__async_trait]
        impl $crate::MessageStore for $engine {
            async fn message(
                &self,
                conv: &str,
                seq: u64,
            ) -> $crate::Result<Option<$crate::__domain::Message>> {
                self.read_message(conv, seq).await
            }

            async fn messages_after(
                &self,
                conv: &str,
                after: u64,
                limit: usize,
            ) -> $crate::Result<Vec<$crate::__domain::Message>> {
                self.read_messages_after(conv, after, limit).await
            }

            async fn messages_before(
                &self,
                conv: &str,
                before: u64,
                limit: usize,
            ) -> $crate::Result<Vec<$crate::__domain::Message>> {
                self.read_messages_before(conv, before, limit).await
            }

            async fn find_sent(
                &self,
                conv: &str,
                sender: &str,
                client_msg_id: &str,
            ) -> $crate::Result<Option<$crate::__domain::Message>> {
                self.read_sent(conv, sender, client_msg_id).await
            }

            async fn find_sent_all(
                &self,
                keys: &[(&str, &str, &str)],
            ) -> $crate::Result<Vec<Option<$crate::__domain::Message>>> {
                self.read_sent_all(keys).await
            }

            async fn count_from_others(
                &self,
                conv: &str,
                user: &str,
                after: u64,
            ) -> $crate::Result<u64> {
                self.read_count_from_others(conv, user, after).await
            }

            async fn expire(&self, cutoff_ms: i64) -> $crate::Result<u64> {
                self.write_expire(cutoff_ms).await
            }
        }

        #[$crate::__async_trait]
        impl $crate::SequencerStore for $engine {
            async fn apply(&self, batch: $crate::SequencedBatch) -> $crate::Result<()> {
                self.write_batch(&batch).await
            }

            async fn cursors(&self) -> $crate::Result<Vec<$crate::LogCursor>> {
                self.read_cursors().await
            }
        }

        #[$crate::__async_trait]
        impl $crate::ReceiptStore for $engine {
            async fn advance(
                &self,
                updates: &[$crate::ReceiptUpdate],
            ) -> $crate::Result<Vec<bool>> {
                self.write_receipts(updates).await
            }

            async fn device_delivered(
                &self,
                user: &str,
                device: &str,
            ) -> $crate::Result<::std::collections::HashMap<String, u64>> {
                self.read_device_delivered(user, device).await
            }

            async fn member_receipts(
                &self,
                conv: &str,
            ) -> $crate::Result<Vec<$crate::__domain::MemberReceipts>> {
                self.read_member_receipts(conv).await
            }

            async fn read_seq(&self, conv: &str, user: &str) -> $crate::Result<u64> {
                self.read_read_seq(conv, user).await
            }

            async fn watermarks(&self, conv: &str, user: &str) -> $crate::Result<(u64, u64)> {
                self.read_watermarks(conv, user).await
            }
        }

        #[$crate::__async_trait]
        impl $crate::LastSeenStore for $engine {
            async fn set_last_seen(&self, user: &str, ts: i64) -> $crate::Result<()> {
                self.write_last_seen(user, ts).await
            }

            async fn last_seen(&self, user: &str) -> $crate::Result<Option<i64>> {
                self.read_last_seen(user).await
            }
        }

        #[$crate::__async_trait]
        impl $crate::AttachmentStore for $engine {
            async fn put_attachment(&self, attachment: &$crate::Attachment) -> $crate::Result<()> {
                self.write_attachment(attachment).await
            }

            async fn attachment(&self, id: &str) -> $crate::Result<Option<$crate::Attachment>> {
                self.read_attachment(id).await
            }

            async fn set_uploaded(&self, id: &str, size: u64) -> $crate::Result<()> {
                self.write_uploaded(id, size).await
            }

            async fn set_thumbnail(&self, id: &str, content_type: &str) -> $crate::Result<()> {
                self.write_thumbnail(id, content_type).await
            }

            async fn attachment_refs(&self, id: &str) -> $crate::Result<Vec<(String, u64)>> {
                self.read_attachment_refs(id).await
            }

            async fn unreferenced_attachments(
                &self,
                created_before: i64,
                limit: usize,
            ) -> $crate::Result<Vec<String>> {
                self.read_unreferenced(created_before, limit).await
            }

            async fn delete_attachment(&self, id: &str) -> $crate::Result<()> {
                self.delete_attachment_record(id).await
            }
        }

        #[$crate::__async_trait]
        impl $crate::DeviceStore for $engine {
            async fn register_device(
                &self,
                user: &str,
                device: &str,
                ts: i64,
            ) -> $crate::Result<()> {
                self.write_device(user, device, ts).await
            }

            async fn device_seen(&self, user: &str, device: &str) -> $crate::Result<Option<i64>> {
                self.read_device_seen(user, device).await
            }

            async fn devices(&self, user: &str) -> $crate::Result<Vec<String>> {
                self.read_devices(user).await
            }

            async fn set_previews(&self, user: &str, on: bool) -> $crate::Result<()> {
                self.write_previews(user, on).await
            }

            async fn set_muted(&self, user: &str, conv: &str, muted: bool) -> $crate::Result<()> {
                self.write_muted(user, conv, muted).await
            }

            async fn push_settings(&self, user: &str) -> $crate::Result<$crate::PushSettings> {
                self.read_push_settings(user).await
            }

            async fn set_privacy(
                &self,
                user: &str,
                settings: $crate::PrivacySettings,
            ) -> $crate::Result<()> {
                self.write_privacy(user, settings).await
            }

            async fn privacy(&self, user: &str) -> $crate::Result<$crate::PrivacySettings> {
                self.read_privacy(user).await
            }
        }

        #[$crate::__async_trait]
        impl $crate::UsageStore for $engine {
            async fn add_usage(&self, user: &str, day: i64, bytes: i64) -> $crate::Result<i64> {
                self.write_usage(user, day, bytes).await
            }

            async fn forget_usage_before(&self, user: &str, day: i64) -> $crate::Result<()> {
                self.drop_usage_before(user, day).await
            }
        }
    };
}
