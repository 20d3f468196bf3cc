//! Attachment records of the embedded store. The references are written by
//! the message writes (see `refs`); this side only reads them, and keeps the
//! `unreferenced` table in step with the records.

use super::refs::has_refs;
use super::*;
use async_trait::async_trait;
use chat_ports::{Attachment, AttachmentStore};
use redb::ReadableTable;

impl EmbeddedStore {
    /// Rewrites the record `id` with `change`; unknown ids are ignored.
    async fn update_attachment<F>(&self, id: &str, change: F) -> Result<()>
    where
        F: FnOnce(&mut Attachment) + Send + 'static,
    {
        let id = id.to_string();
        self.write(move |txn| {
            let mut table = txn.open_table(ATTACHMENTS).map_err(err)?;
            let mut record: Attachment = match table.get(id.as_str()).map_err(err)? {
                Some(v) => decode(v.value())?,
                None => return Ok(()),
            };
            change(&mut record);
            table
                .insert(id.as_str(), encode(&record).as_slice())
                .map_err(err)?;
            Ok(())
        })
        .await
    }
}

#[async_trait]
impl AttachmentStore for EmbeddedStore {
    async fn put_attachment(&self, attachment: &Attachment) -> Result<()> {
        let record = attachment.clone();
        self.write(move |txn| {
            let mut table = txn.open_table(ATTACHMENTS).map_err(err)?;
            if table.get(record.id.as_str()).map_err(err)?.is_some() {
                return Ok(());
            }
            table
                .insert(record.id.as_str(), encode(&record).as_slice())
                .map_err(err)?;
            let refs = txn.open_table(ATTACHMENT_REFS).map_err(err)?;
            if !has_refs(&refs, &record.id)? {
                let mut unreferenced = txn.open_table(UNREFERENCED).map_err(err)?;
                unreferenced
                    .insert(record.id.as_str(), record.created_at)
                    .map_err(err)?;
            }
            Ok(())
        })
        .await
    }

    async fn attachment(&self, id: &str) -> Result<Option<Attachment>> {
        let txn = self.read()?;
        let table = txn.open_table(ATTACHMENTS).map_err(err)?;
        match table.get(id).map_err(err)? {
            Some(v) => Ok(Some(decode(v.value())?)),
            None => Ok(None),
        }
    }

    async fn set_uploaded(&self, id: &str, size: u64) -> Result<()> {
        self.update_attachment(id, move |a| a.uploaded_size = Some(size))
            .await
    }

    async fn set_thumbnail(&self, id: &str, content_type: &str) -> Result<()> {
        let content_type = content_type.to_string();
        self.update_attachment(id, move |a| a.thumbnail = Some(content_type))
            .await
    }

    async fn attachment_refs(&self, id: &str) -> Result<Vec<(String, u64)>> {
        let txn = self.read()?;
        let table = txn.open_table(ATTACHMENT_REFS).map_err(err)?;
        let mut out = Vec::new();
        for row in table.range((id, "", 0)..).map_err(err)? {
            let (k, _) = row.map_err(err)?;
            let (att, conv, seq) = k.value();
            if att != id {
                break;
            }
            out.push((conv.to_string(), seq));
        }
        Ok(out)
    }

    async fn unreferenced_attachments(
        &self,
        created_before: i64,
        limit: usize,
    ) -> Result<Vec<String>> {
        let txn = self.read()?;
        let table = txn.open_table(UNREFERENCED).map_err(err)?;
        let mut out = Vec::new();
        for row in table.iter().map_err(err)? {
            if out.len() >= limit {
                break;
            }
            let (id, created_at) = row.map_err(err)?;
            if created_at.value() < created_before {
                out.push(id.value().to_string());
            }
        }
        Ok(out)
    }

    async fn delete_attachment(&self, id: &str) -> Result<()> {
        let id = id.to_string();
        self.write(move |txn| {
            let mut table = txn.open_table(ATTACHMENTS).map_err(err)?;
            table.remove(id.as_str()).map_err(err)?;
            let mut unreferenced = txn.open_table(UNREFERENCED).map_err(err)?;
            unreferenced.remove(id.as_str()).map_err(err)?;
            Ok(())
        })
        .await
    }
}
