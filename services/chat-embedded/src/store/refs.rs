//! The index of attachment references, kept by the message writes inside
//! their own write transaction, so a message and its references are never
//! seen apart.
//!
//! `attachment_refs` holds one row (attachment, conv, seq) per stored message
//! that carries the attachment; `unreferenced` holds the records no row
//! names, with their creation time, so the collector reads only those.

use super::*;
use chat_ports::Attachment;
use redb::{ReadableTable, Table};

/// Whether any stored message carries attachment `id`.
pub(super) fn has_refs(
    refs: &impl ReadableTable<(&'static str, &'static str, u64), ()>,
    id: &str,
) -> Result<bool> {
    match refs.range((id, "", 0)..).map_err(err)?.next() {
        Some(row) => Ok(row.map_err(err)?.0.value().0 == id),
        None => Ok(false),
    }
}

/// The reference tables of one write transaction.
pub(super) struct RefIndex<'txn> {
    refs: Table<'txn, (&'static str, &'static str, u64), ()>,
    unreferenced: Table<'txn, &'static str, i64>,
    attachments: Table<'txn, &'static str, &'static [u8]>,
}

impl<'txn> RefIndex<'txn> {
    /// Opens the reference tables in `txn`.
    pub(super) fn open(txn: &'txn WriteTransaction) -> Result<Self> {
        Ok(Self {
            refs: txn.open_table(ATTACHMENT_REFS).map_err(err)?,
            unreferenced: txn.open_table(UNREFERENCED).map_err(err)?,
            attachments: txn.open_table(ATTACHMENTS).map_err(err)?,
        })
    }

    /// Makes the message at (`conv`, `seq`) carry `new` where it carried
    /// `old` (empty for a new message; `new` empty for a removed one).
    pub(super) fn replace(
        &mut self,
        conv: &str,
        seq: u64,
        old: &[String],
        new: &[String],
    ) -> Result<()> {
        for id in old.iter().filter(|id| !new.contains(id)) {
            self.remove(id, conv, seq)?;
        }
        for id in new {
            self.refs
                .insert((id.as_str(), conv, seq), ())
                .map_err(err)?;
            self.unreferenced.remove(id.as_str()).map_err(err)?;
        }
        Ok(())
    }

    /// Drops one reference; an existing record left without any becomes
    /// unreferenced.
    fn remove(&mut self, id: &str, conv: &str, seq: u64) -> Result<()> {
        self.refs.remove((id, conv, seq)).map_err(err)?;
        if has_refs(&self.refs, id)? {
            return Ok(());
        }
        let created_at = match self.attachments.get(id).map_err(err)? {
            Some(v) => decode::<Attachment>(v.value())?.created_at,
            None => return Ok(()),
        };
        self.unreferenced.insert(id, created_at).map_err(err)?;
        Ok(())
    }
}
