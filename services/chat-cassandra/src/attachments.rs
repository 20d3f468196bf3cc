//! Attachment records, their index by creation day (for the collector),
//! and the references of the messages that carry them.

use crate::keys::{day, from_db, to_db};
use crate::rows::{self, AttachmentRow};
use crate::CassandraStore;
use chat_ports::{Attachment, Result};

impl CassandraStore {
    /// Indexes the record by day, then writes its fixed columns (writing
    /// them again changes nothing): a crash in between leaves an index row
    /// without a record, which the collector's listing removes, never a
    /// record the collector cannot find.
    pub(crate) async fn write_attachment(&self, a: &Attachment) -> Result<()> {
        let size = to_db("size", a.size)?;
        let d = day(a.created_at);
        self.run(&self.st.put_attachment_day, (d,)).await?;
        self.run(
            &self.st.put_attachment_by_day,
            (d, a.created_at, a.id.as_str()),
        )
        .await?;
        self.run(
            &self.st.put_attachment,
            (
                a.id.as_str(),
                a.owner.as_str(),
                a.content_type.as_str(),
                size,
                a.created_at,
            ),
        )
        .await?;
        if let Some(uploaded) = a.uploaded_size {
            self.write_uploaded(&a.id, uploaded).await?;
        }
        if let Some(thumbnail) = &a.thumbnail {
            self.write_thumbnail(&a.id, thumbnail).await?;
        }
        Ok(())
    }

    pub(crate) async fn read_attachment(&self, id: &str) -> Result<Option<Attachment>> {
        let found: Option<AttachmentRow> = self.row(&self.st.attachment, (id,)).await?;
        Ok(found.map(rows::attachment).transpose()?.flatten())
    }

    /// A lightweight transaction (`IF EXISTS`), so that an unknown or
    /// deleted id is not created as a partial row.
    pub(crate) async fn write_uploaded(&self, id: &str, size: u64) -> Result<()> {
        let size = to_db("uploaded_size", size)?;
        self.run(&self.st.set_uploaded, (size, id)).await
    }

    pub(crate) async fn write_thumbnail(&self, id: &str, content_type: &str) -> Result<()> {
        self.run(&self.st.set_thumbnail, (content_type, id)).await
    }

    /// Removes the record, then its index row (a crash in between leaves an
    /// index row without a record, which the collector's listing removes).
    pub(crate) async fn delete_attachment_record(&self, id: &str) -> Result<()> {
        let created: Option<(Option<i64>,)> = self.row(&self.st.attachment_created, (id,)).await?;
        self.run(&self.st.drop_attachment, (id,)).await?;
        if let Some((Some(created_at),)) = created {
            self.run(
                &self.st.drop_attachment_by_day,
                (day(created_at), created_at, id),
            )
            .await?;
        }
        Ok(())
    }

    pub(crate) async fn read_attachment_refs(&self, id: &str) -> Result<Vec<(String, u64)>> {
        let found: Vec<(String, i64)> = self.rows(&self.st.refs, (id,)).await?;
        found
            .into_iter()
            .map(|(conv, seq)| Ok((conv, from_db("seq", seq)?)))
            .collect()
    }

    /// Walks the creation days up to `created_before`'s, oldest first, and
    /// keeps the ids no reference names.
    pub(crate) async fn read_unreferenced(
        &self,
        created_before: i64,
        limit: usize,
    ) -> Result<Vec<String>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let days: Vec<(i64,)> = self
            .rows(&self.st.attachment_days_until, (day(created_before),))
            .await?;
        for (d,) in days {
            let ids: Vec<(i64, String)> = self
                .rows(&self.st.attachments_of_day, (d, created_before))
                .await?;
            for (created_at, id) in ids {
                let record: Option<(Option<i64>,)> = self
                    .row(&self.st.attachment_created, (id.as_str(),))
                    .await?;
                if record.is_none() {
                    // An index row a crash left without its record.
                    self.run(
                        &self.st.drop_attachment_by_day,
                        (d, created_at, id.as_str()),
                    )
                    .await?;
                    continue;
                }
                let referenced: Option<(i64,)> = self.row(&self.st.any_ref, (id.as_str(),)).await?;
                if referenced.is_none() {
                    out.push(id);
                    if out.len() == limit {
                        return Ok(out);
                    }
                }
            }
        }
        Ok(out)
    }
}
