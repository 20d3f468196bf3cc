//! Attachments: the record of each uploaded blob, and the index of the
//! messages that carry it.

use crate::Result;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// The blob key of an attachment's thumbnail, stored beside the original
/// (whose key is the attachment id).
pub fn thumbnail_key(id: &str) -> String {
    format!("{id}.thumb")
}

/// The record of one attachment: who uploaded it and what it claims to be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    pub id: String,
    /// The user who asked for the upload URL; only this user may send it.
    pub owner: String,
    pub content_type: String,
    /// The size declared when the upload URL was issued; the stored bytes may
    /// not be larger.
    pub size: u64,
    pub created_at: i64,
    /// The size of the stored bytes, once an upload was confirmed.
    pub uploaded_size: Option<u64>,
    /// The content type of the thumbnail stored beside the blob, if any.
    pub thumbnail: Option<String>,
}

/// Attachment records, and which stored messages carry each attachment.
///
/// The index of references is maintained by the engine itself: every message
/// the [`SequencerStore`](crate::SequencerStore) writes adds a reference
/// (attachment, conversation, seq) per id in its `attachments`; a message
/// written again at the same (conversation, seq) replaces its references (a
/// message deleted for everyone carries none); [`MessageStore::expire`]
/// (crate::MessageStore::expire) removes the references of the messages it
/// removes.
#[async_trait]
pub trait AttachmentStore: Send + Sync + 'static {
    /// Records a new attachment; writing the same record again changes
    /// nothing.
    async fn put_attachment(&self, attachment: &Attachment) -> Result<()>;
    /// The record, if it exists.
    async fn attachment(&self, id: &str) -> Result<Option<Attachment>>;
    /// Records the size of the uploaded bytes. Unknown ids are ignored.
    async fn set_uploaded(&self, id: &str, size: u64) -> Result<()>;
    /// Records that a thumbnail of this content type is stored. Unknown ids
    /// are ignored.
    async fn set_thumbnail(&self, id: &str, content_type: &str) -> Result<()>;
    /// (conversation, seq) of every stored message that carries `id`,
    /// ascending.
    async fn attachment_refs(&self, id: &str) -> Result<Vec<(String, u64)>>;
    /// Up to `limit` ids of attachments created before `created_before` that
    /// no stored message carries: the ones the collector may remove.
    async fn unreferenced_attachments(
        &self,
        created_before: i64,
        limit: usize,
    ) -> Result<Vec<String>>;
    /// Removes the record (not the bytes). Unknown ids are ignored.
    async fn delete_attachment(&self, id: &str) -> Result<()>;
}
