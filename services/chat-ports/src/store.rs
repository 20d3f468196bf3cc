//! The store ports: the state the processors derive from the log and the
//! gateways read. One trait per aggregate; an engine usually implements all
//! of them on one type, and [`Stores`] bundles them.

use crate::{AttachmentStore, DeviceStore, Result};
use async_trait::async_trait;
use chat_domain::{ConversationState, MemberReceipts, Message, ReceiptKind};
use std::collections::HashMap;
use std::sync::Arc;

/// Conversations and who is in them.
#[async_trait]
pub trait ConversationStore: Send + Sync + 'static {
    /// The conversation, if it exists.
    async fn conversation(&self, id: &str) -> Result<Option<ConversationState>>;
    /// Ids of the conversations `user` is a member of.
    async fn conversations_of(&self, user: &str) -> Result<Vec<String>>;
    /// The states of `ids`, in their order (`None`: no such
    /// conversation): what the sequencer reads for a batch. An engine that
    /// can read many in one request does; this default asks
    /// [`ConversationStore::conversation`] for each, [`LOOKUPS_IN_FLIGHT`]
    /// at once.
    async fn conversation_states(&self, ids: &[&str]) -> Result<Vec<Option<ConversationState>>> {
        let reads: Vec<_> = ids.iter().map(|id| self.conversation(id)).collect();
        side_by_side(reads).await
    }
}

/// Runs `reads`, [`LOOKUPS_IN_FLIGHT`] at once, and returns their answers
/// in order: the default of the many-key reads, for engines to call too.
pub async fn side_by_side<F, T>(reads: Vec<F>) -> Result<Vec<T>>
where
    F: std::future::Future<Output = Result<T>>,
{
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(reads)
        .buffered(LOOKUPS_IN_FLIGHT)
        .try_collect()
        .await
}

/// Lookups in flight at once in the ports' default many-key reads.
pub const LOOKUPS_IN_FLIGHT: usize = 32;

/// Messages, by (conversation, seq).
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// One message.
    async fn message(&self, conv: &str, seq: u64) -> Result<Option<Message>>;
    /// Up to `limit` messages with seq above `after`, ascending.
    async fn messages_after(&self, conv: &str, after: u64, limit: usize) -> Result<Vec<Message>>;
    /// The `limit` highest messages with seq below `before`, ascending.
    async fn messages_before(&self, conv: &str, before: u64, limit: usize) -> Result<Vec<Message>>;
    /// The message an earlier send with this idempotency key created.
    async fn find_sent(
        &self,
        conv: &str,
        sender: &str,
        client_msg_id: &str,
    ) -> Result<Option<Message>>;
    /// [`MessageStore::find_sent`] of each (conversation, sender, client
    /// message id), in their order: what the sequencer reads for a batch's
    /// sends. An engine that can read many in one request does; this
    /// default asks for each, [`LOOKUPS_IN_FLIGHT`] at once.
    async fn find_sent_all(&self, keys: &[(&str, &str, &str)]) -> Result<Vec<Option<Message>>> {
        let reads: Vec<_> = keys
            .iter()
            .map(|(conv, sender, key)| self.find_sent(conv, sender, key))
            .collect();
        side_by_side(reads).await
    }
    /// How many messages from users other than `user` have seq above `after`.
    async fn count_from_others(&self, conv: &str, user: &str, after: u64) -> Result<u64>;
    /// Removes messages (and their idempotency keys) older than `cutoff_ms`;
    /// returns how many went.
    async fn expire(&self, cutoff_ms: i64) -> Result<u64>;
}

/// What the sequencer writes for one batch of commands, applied atomically.
/// Every write is keyed (conversation id, (conversation, seq), idempotency
/// key), so applying the same batch twice leaves the same state.
///
/// Every message and member change comes with the state of its
/// conversation (the sequencer saves the state of each conversation a
/// command touched, with its new `applied_offset`): an engine that fences
/// by log position (Cassandra) refuses a batch that lacks it. Two different
/// batches of one conversation have different `applied_offset`s (each
/// comes from further in the log); writing the same batch again is the
/// only way to repeat one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SequencedBatch {
    /// New state of each conversation the batch touched.
    pub conversations: Vec<ConversationState>,
    /// Messages to put at their (conv, seq), with their idempotency keys.
    pub messages: Vec<Message>,
    /// (user, conversation) pairs to add to the member index.
    pub joined: Vec<(String, String)>,
    /// (user, conversation) pairs to remove from the member index.
    pub left: Vec<(String, String)>,
    /// Where the batch leaves the sequencer in each partition it read.
    pub cursors: Vec<LogCursor>,
}

/// The sequencer's place in one partition of the commands topic, written
/// with every batch that read from it. It names the log the positions in
/// the store came from: the offset and fingerprint of the last record
/// applied, which another incarnation of the log (a recreated topic, a
/// restored file) does not hold at that offset.
///
/// Stored conversation states count in positions, not offsets: position =
/// `base` + offset. The first incarnation has base 0; a new one gets a base
/// that puts its first record above every position stored before, so
/// positions only grow and a write from the new log is never mistaken for
/// a replay, nor (on Cassandra) written below an old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogCursor {
    pub partition: u32,
    /// The partition count of the topic when written.
    pub partitions: u32,
    pub base: u64,
    /// Offset of the last record applied, and its `LogRecord::fingerprint`.
    pub last_offset: u64,
    pub last_fingerprint: u64,
}

impl LogCursor {
    /// The position of `offset` in this incarnation.
    pub fn position(&self, offset: u64) -> u64 {
        self.base + offset
    }
}

/// The sequencer's write side.
#[async_trait]
pub trait SequencerStore: Send + Sync + 'static {
    /// Applies the batch atomically and durably.
    async fn apply(&self, batch: SequencedBatch) -> Result<()>;
    /// The cursors last written, one per partition that has one, in
    /// partition order.
    async fn cursors(&self) -> Result<Vec<LogCursor>>;
}

/// A watermark a device reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptUpdate {
    pub conv: String,
    pub user: String,
    pub device: String,
    pub kind: ReceiptKind,
    pub seq: u64,
}

/// Delivered and read watermarks; they only move forward.
#[async_trait]
pub trait ReceiptStore: Send + Sync + 'static {
    /// Max-merges the updates atomically; for each, whether the user-level
    /// watermark moved (device-level delivered watermarks move silently).
    async fn advance(&self, updates: &[ReceiptUpdate]) -> Result<Vec<bool>>;
    /// The delivered watermark of each conversation for one device.
    async fn device_delivered(&self, user: &str, device: &str) -> Result<HashMap<String, u64>>;
    /// Per member of `conv` that has any receipt: delivered and read seqs.
    async fn member_receipts(&self, conv: &str) -> Result<Vec<MemberReceipts>>;
    /// The read watermark of `user` in `conv`.
    async fn read_seq(&self, conv: &str, user: &str) -> Result<u64>;
    /// The (delivered, read) watermarks of `user` in `conv`, (0, 0) when it
    /// has none.
    async fn watermarks(&self, conv: &str, user: &str) -> Result<(u64, u64)>;
}

/// Last-seen times, persisted when a user's last connection closes.
#[async_trait]
pub trait LastSeenStore: Send + Sync + 'static {
    async fn set_last_seen(&self, user: &str, ts: i64) -> Result<()>;
    async fn last_seen(&self, user: &str) -> Result<Option<i64>>;
}

/// The bytes each user stored per UTC day (message bodies, attachments),
/// against which its daily quota is counted.
#[async_trait]
pub trait UsageStore: Send + Sync + 'static {
    /// Adds `bytes` (negative: gives some back) to `user`'s count of `day`
    /// (days since the Unix epoch, UTC) and answers the count after; adding
    /// 0 reads it.
    async fn add_usage(&self, user: &str, day: i64, bytes: i64) -> Result<i64>;

    /// Forgets `user`'s counts of the days before `day`. Quotas read only
    /// today's count, so a user keeps a row or two, not one for every day
    /// it ever stored something.
    async fn forget_usage_before(&self, user: &str, day: i64) -> Result<()>;
}

/// Every store port, as the gateway and processors hold them.
#[derive(Clone)]
pub struct Stores {
    pub conversations: Arc<dyn ConversationStore>,
    pub messages: Arc<dyn MessageStore>,
    pub sequencer: Arc<dyn SequencerStore>,
    pub receipts: Arc<dyn ReceiptStore>,
    pub last_seen: Arc<dyn LastSeenStore>,
    pub attachments: Arc<dyn AttachmentStore>,
    pub devices: Arc<dyn DeviceStore>,
    pub usage: Arc<dyn UsageStore>,
}

impl Stores {
    /// Bundles an engine that implements every store port.
    pub fn from_engine<E>(engine: Arc<E>) -> Self
    where
        E: ConversationStore
            + MessageStore
            + SequencerStore
            + ReceiptStore
            + LastSeenStore
            + AttachmentStore
            + DeviceStore
            + UsageStore,
    {
        Self {
            conversations: engine.clone(),
            messages: engine.clone(),
            sequencer: engine.clone(),
            receipts: engine.clone(),
            last_seen: engine.clone(),
            attachments: engine.clone(),
            devices: engine.clone(),
            usage: engine,
        }
    }
}
