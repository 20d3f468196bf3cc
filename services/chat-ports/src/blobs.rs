//! Blob storage for attachment bytes. Clients upload and download through
//! signed, expiring URLs; the chat servers only sign them (the local engine
//! also serves them).

use crate::Result;
use async_trait::async_trait;

/// Where attachment bytes live.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// A URL to which a client `PUT`s the bytes of `key` (at most `max_size`
    /// bytes, with `content_type`), valid until `expires_at` (ms).
    async fn upload_url(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        expires_at: i64,
    ) -> Result<String>;
    /// A URL from which a client `GET`s the bytes of `key`, valid until
    /// `expires_at` (ms).
    async fn download_url(&self, key: &str, expires_at: i64) -> Result<String>;
    /// The size of the stored bytes, or `None` when nothing is stored.
    async fn size(&self, key: &str) -> Result<Option<u64>>;
    /// The stored bytes, or `None`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores bytes (the servers' own writes, such as thumbnails).
    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()>;
    /// Removes the bytes; removing what is absent is not an error.
    async fn delete(&self, key: &str) -> Result<()>;
    /// Freezes the bytes of `key` as stored now: whatever a client writes
    /// to its upload URL afterwards, what is read of `key` stays these
    /// bytes (a send seals the attachments it carries), and answers how
    /// many they are. Sealing again changes nothing; sealing what is
    /// absent is [`Sealed::Absent`]. The default does nothing, for engines
    /// whose upload URLs never replace stored bytes (the local engine
    /// refuses a write to a key that has bytes).
    async fn seal(&self, _key: &str) -> Result<Sealed> {
        Ok(Sealed::NotNeeded)
    }
}

/// What a seal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sealed {
    /// The engine never replaces stored bytes: nothing to freeze, nor to
    /// check again.
    NotNeeded,
    /// Frozen (now or before), with this many bytes.
    Bytes(u64),
    /// Nothing is stored under the key.
    Absent,
}
