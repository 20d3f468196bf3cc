//! The embedded store on redb (`store.redb`).
//!
//! Tables, all keyed so that re-applying a write leaves the same state:
//! - `conversations`: id → JSON [`ConversationState`]
//! - `messages`: (conv, seq) → JSON [`Message`]
//! - `senders`: (conv, seq) → sender, for unread counts without decoding
//! - `sent`: (conv, sender, client_msg_id) → seq, the idempotency index
//! - `user_convs`: (user, conv) → (), the member index
//! - `device_delivered`: (user, device, conv) → seq
//! - `user_receipts`: (conv, user) → (delivered, read)
//! - `last_seen`: user → ms
//! - `attachments`: id → JSON [`Attachment`](chat_ports::Attachment)
//! - `attachment_refs`: (attachment, conv, seq) → (), one row per stored
//!   message that carries the attachment; kept by the message writes
//!   themselves, in their transaction (see `refs`)
//! - `unreferenced`: attachment → created_at, the records no stored message
//!   carries: what the collector scans
//! - `devices`: (user, device) → last registration ms
//! - `push_previews`: user → whether previews are on (absent: on)
//! - `muted`: (user, conv) → ()

mod attachments;
mod devices;
mod reads;
mod refs;
mod writes;

use crate::FsyncPolicy;
use chat_ports::{PortError, Result};
use redb::{Database, Durability, TableDefinition, WriteTransaction};
use std::path::Path;
use std::sync::Arc;

pub(crate) const CONVERSATIONS: TableDefinition<'_, &str, &[u8]> =
    TableDefinition::new("conversations");
pub(crate) const MESSAGES: TableDefinition<'_, (&str, u64), &[u8]> =
    TableDefinition::new("messages");
pub(crate) const SENDERS: TableDefinition<'_, (&str, u64), &str> = TableDefinition::new("senders");
pub(crate) const SENT: TableDefinition<'_, (&str, &str, &str), u64> = TableDefinition::new("sent");
pub(crate) const USER_CONVS: TableDefinition<'_, (&str, &str), ()> =
    TableDefinition::new("user_convs");
pub(crate) const DEVICE_DELIVERED: TableDefinition<'_, (&str, &str, &str), u64> =
    TableDefinition::new("device_delivered");
pub(crate) const USER_RECEIPTS: TableDefinition<'_, (&str, &str), (u64, u64)> =
    TableDefinition::new("user_receipts");
pub(crate) const LAST_SEEN: TableDefinition<'_, &str, i64> = TableDefinition::new("last_seen");
pub(crate) const ATTACHMENTS: TableDefinition<'_, &str, &[u8]> =
    TableDefinition::new("attachments");
pub(crate) const ATTACHMENT_REFS: TableDefinition<'_, (&str, &str, u64), ()> =
    TableDefinition::new("attachment_refs");
pub(crate) const UNREFERENCED: TableDefinition<'_, &str, i64> =
    TableDefinition::new("unreferenced");
/// The sequencer's cursor per partition: (partitions, base, last offset,
/// last fingerprint).
pub(crate) const CURSORS: TableDefinition<'_, u32, (u32, u64, u64, u64)> =
    TableDefinition::new("cursors");
pub(crate) const DEVICES: TableDefinition<'_, (&str, &str), i64> = TableDefinition::new("devices");
pub(crate) const PUSH_PREVIEWS: TableDefinition<'_, &str, bool> =
    TableDefinition::new("push_previews");
pub(crate) const MUTED: TableDefinition<'_, (&str, &str), ()> = TableDefinition::new("muted");
/// Privacy settings per user, as JSON; no row: the defaults.
pub(crate) const PRIVACY: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("privacy");
/// Bytes stored per (user, UTC day), for the daily quota.
pub(crate) const USAGE: TableDefinition<'_, (&str, i64), i64> = TableDefinition::new("usage");

/// The embedded store; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    durability: FsyncPolicy,
}

pub(crate) fn err(e: impl std::fmt::Display) -> PortError {
    PortError::storage("store", e)
}

/// The JSON of a stored value.
pub(crate) fn encode<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("store values always serialize")
}

/// A stored value back from its JSON.
pub(crate) fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| PortError::corrupt("store", e))
}

/// The most memory redb caches the store's pages in (its default is
/// 1 GiB, which a server storing a flood of large messages filled: the
/// `hostile` load scenario). Reads past it go to the file, through the
/// kernel's page cache.
pub const CACHE_BYTES: usize = 256 * 1024 * 1024;

impl EmbeddedStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path, fsync: FsyncPolicy) -> Result<Self> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(err)?;
        let txn = db.begin_write().map_err(err)?;
        {
            txn.open_table(CONVERSATIONS).map_err(err)?;
            txn.open_table(MESSAGES).map_err(err)?;
            txn.open_table(SENDERS).map_err(err)?;
            txn.open_table(SENT).map_err(err)?;
            txn.open_table(USER_CONVS).map_err(err)?;
            txn.open_table(DEVICE_DELIVERED).map_err(err)?;
            txn.open_table(USER_RECEIPTS).map_err(err)?;
            txn.open_table(LAST_SEEN).map_err(err)?;
            txn.open_table(ATTACHMENTS).map_err(err)?;
            txn.open_table(ATTACHMENT_REFS).map_err(err)?;
            txn.open_table(UNREFERENCED).map_err(err)?;
            txn.open_table(CURSORS).map_err(err)?;
            txn.open_table(DEVICES).map_err(err)?;
            txn.open_table(PUSH_PREVIEWS).map_err(err)?;
            txn.open_table(MUTED).map_err(err)?;
            txn.open_table(PRIVACY).map_err(err)?;
            txn.open_table(USAGE).map_err(err)?;
        }
        txn.commit().map_err(err)?;
        Ok(Self {
            db: Arc::new(db),
            durability: fsync,
        })
    }

    /// Runs `f` in one write transaction on a blocking thread and commits it
    /// with the configured durability.
    pub(crate) async fn write<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T> + Send + 'static,
    {
        let durability = match self.durability {
            FsyncPolicy::Always => Durability::Immediate,
            FsyncPolicy::Never => Durability::None,
        };
        self.write_with(durability, f).await
    }

    /// Like [`Self::write`], without an fsync of its own: the write becomes
    /// durable with the next one that has. For records a crash may roll
    /// back by moments without harm (last seen, device registrations),
    /// written once per connect or disconnect: a reconnect storm of 10 000
    /// devices would otherwise queue 20 000 fsyncs in front of the
    /// sequencer's.
    pub(crate) async fn write_lazily<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T> + Send + 'static,
    {
        self.write_with(Durability::None, f).await
    }

    async fn write_with<T, F>(&self, durability: Durability, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&WriteTransaction) -> Result<T> + Send + 'static,
    {
        let db = self.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut txn = db.begin_write().map_err(err)?;
            txn.set_durability(durability).map_err(err)?;
            let out = f(&txn)?;
            txn.commit().map_err(err)?;
            Ok(out)
        })
        .await
        .map_err(err)?
    }

    pub(crate) fn db(&self) -> &Database {
        &self.db
    }
}

#[cfg(test)]
mod refs_tests;
#[cfg(test)]
mod tests;
