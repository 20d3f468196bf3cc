//! Attachment records and reads of the reference index (which messages
//! carry an attachment). The index itself is written with the messages, by
//! `refs`, and emptied by retention through its foreign key.
//!
//! Ids and content types are stored as their UTF-8 bytes (they may hold
//! U+0000), so every statement passes them as `&[u8]`.

use crate::rows::{self, attachment_columns, to_db};
use crate::PostgresStore;
use chat_ports::{Attachment, Result};

const INSERT_ATTACHMENT: &str = "\
INSERT INTO attachments (id, owner, content_type, size, created_at, uploaded_size, thumbnail)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO NOTHING";

const REFS_OF: &str = "\
SELECT conv, seq FROM attachment_refs WHERE attachment = $1
ORDER BY conv COLLATE \"C\", seq";

const UNREFERENCED: &str = "\
SELECT a.id FROM attachments AS a
WHERE a.created_at < $1
  AND NOT EXISTS (SELECT 1 FROM attachment_refs AS r WHERE r.attachment = a.id)
ORDER BY a.created_at, a.id
LIMIT $2";

impl PostgresStore {
    /// Inserts the record unless one with its id exists.
    pub(crate) async fn write_attachment(&self, a: &Attachment) -> Result<()> {
        let size = to_db("size", a.size)?;
        let uploaded = a
            .uploaded_size
            .map(|v| to_db("uploaded_size", v))
            .transpose()?;
        let thumbnail = a.thumbnail.as_deref().map(str::as_bytes);
        self.change(
            INSERT_ATTACHMENT,
            &[
                &a.id.as_bytes(),
                &a.owner,
                &a.content_type.as_bytes(),
                &size,
                &a.created_at,
                &uploaded,
                &thumbnail,
            ],
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn read_attachment(&self, id: &str) -> Result<Option<Attachment>> {
        let found = self
            .rows(
                concat!(
                    "SELECT ",
                    attachment_columns!(),
                    " FROM attachments WHERE id = $1"
                ),
                &[&id.as_bytes()],
            )
            .await?;
        found.first().map(rows::attachment).transpose()
    }

    pub(crate) async fn write_uploaded(&self, id: &str, size: u64) -> Result<()> {
        let size = to_db("uploaded_size", size)?;
        self.change(
            "UPDATE attachments SET uploaded_size = $2 WHERE id = $1",
            &[&id.as_bytes(), &size],
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn write_thumbnail(&self, id: &str, content_type: &str) -> Result<()> {
        self.change(
            "UPDATE attachments SET thumbnail = $2 WHERE id = $1",
            &[&id.as_bytes(), &content_type.as_bytes()],
        )
        .await?;
        Ok(())
    }

    pub(crate) async fn delete_attachment_record(&self, id: &str) -> Result<()> {
        self.change("DELETE FROM attachments WHERE id = $1", &[&id.as_bytes()])
            .await?;
        Ok(())
    }

    /// (conversation, seq) of the messages carrying `id`, conversations in
    /// byte order, then by seq.
    pub(crate) async fn read_attachment_refs(&self, id: &str) -> Result<Vec<(String, u64)>> {
        self.rows(REFS_OF, &[&id.as_bytes()])
            .await?
            .iter()
            .map(|row| Ok((rows::text(row, 0)?, rows::seq(row, 1)?)))
            .collect()
    }

    /// The oldest records created before `created_before` that no message
    /// carries, at most `limit`.
    pub(crate) async fn read_unreferenced(
        &self,
        created_before: i64,
        limit: usize,
    ) -> Result<Vec<String>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let limit = rows::limit(limit);
        self.rows(UNREFERENCED, &[&created_before, &limit])
            .await?
            .iter()
            .map(|row| rows::utf8(row, 0))
            .collect()
    }
}
