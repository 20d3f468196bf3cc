//! Attachments: upload tickets, download links, and the checks a message's
//! attachment ids must pass. The bytes never pass through here: clients put
//! and get them at signed URLs of the blob engine.

use super::ChatService;
use crate::error::from_port;
use chat_domain::{ids, DomainError, ErrorCode, UserId};
use chat_ports::attachments::thumbnail_key;
use chat_ports::{Attachment, Sealed};
use serde::Serialize;

/// The answer to `POST /v1/attachments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct UploadTicket {
    pub id: String,
    pub upload_url: String,
    pub expires_at: i64,
}

/// What a client may know about an attachment it can download (an
/// extension of PROTOCOL.md: `GET /v1/attachments/{id}/info`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AttachmentInfo {
    pub id: String,
    pub content_type: String,
    /// The stored size once uploaded, else the declared one.
    pub size: u64,
    pub uploaded: bool,
    pub thumbnail: bool,
}

/// Which bytes of an attachment a download asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variant {
    Original,
    Thumbnail,
}

/// The protocol's `content_type`: what the blob engines can store.
fn check_content_type(ct: &str) -> Result<(), DomainError> {
    chat_blobs::validate_content_type(ct).map_err(|_| {
        DomainError::bad_request("content_type must be a media type such as image/png")
    })
}

fn not_found() -> DomainError {
    DomainError::new(ErrorCode::NotFound, "no such attachment")
}

impl ChatService {
    /// Issues an id and a signed upload URL for `size` bytes of
    /// `content_type`.
    pub async fn create_attachment(
        &self,
        user: &UserId,
        content_type: &str,
        size: u64,
    ) -> Result<UploadTicket, DomainError> {
        check_content_type(content_type)?;
        let limits = &self.config.attachments;
        if size > limits.max_bytes {
            return Err(DomainError::new(
                ErrorCode::TooLarge,
                format!("attachments are at most {} bytes", limits.max_bytes),
            ));
        }
        // The declared size counts, sent or not: unsent uploads are kept
        // for the grace period too.
        self.quotas.take(user, size).await?;
        let now = chat_domain::time::now_ms();
        let record = Attachment {
            id: ids::new_attachment_id(),
            owner: user.to_string(),
            content_type: content_type.into(),
            size,
            created_at: now,
            uploaded_size: None,
            thumbnail: None,
        };
        self.stores
            .attachments
            .put_attachment(&record)
            .await
            .map_err(from_port)?;
        let expires_at = now + limits.url_ttl().as_millis() as i64;
        let upload_url = self
            .blobs
            .upload_url(&record.id, content_type, size, expires_at)
            .await
            .map_err(from_port)?;
        Ok(UploadTicket {
            id: record.id,
            upload_url,
            expires_at,
        })
    }

    /// A signed download URL, for the uploader and for members of a
    /// conversation whose message carries the attachment; everyone else
    /// gets `not_found`, the same answer as for an id that does not exist,
    /// so that ids cannot be probed.
    pub async fn attachment_url(
        &self,
        user: &UserId,
        id: &str,
        variant: Variant,
    ) -> Result<String, DomainError> {
        let record = self.readable_attachment(user, id).await?;
        let key = match variant {
            Variant::Original if record.uploaded_size.is_some() => record.id.clone(),
            Variant::Thumbnail if record.thumbnail.is_some() => thumbnail_key(&record.id),
            Variant::Original | Variant::Thumbnail => {
                return Err(DomainError::new(
                    ErrorCode::NotFound,
                    match variant {
                        Variant::Original => "the attachment is not uploaded yet",
                        Variant::Thumbnail => "the attachment has no thumbnail",
                    },
                ))
            }
        };
        let expires_at =
            chat_domain::time::now_ms() + self.config.attachments.url_ttl().as_millis() as i64;
        self.blobs
            .download_url(&key, expires_at)
            .await
            .map_err(from_port)
    }

    /// What the caller may know about an attachment it can download.
    pub async fn attachment_info(
        &self,
        user: &UserId,
        id: &str,
    ) -> Result<AttachmentInfo, DomainError> {
        let record = self.readable_attachment(user, id).await?;
        Ok(AttachmentInfo {
            id: record.id,
            content_type: record.content_type,
            size: record.uploaded_size.unwrap_or(record.size),
            uploaded: record.uploaded_size.is_some(),
            thumbnail: record.thumbnail.is_some(),
        })
    }

    /// The record of `id`; `None` for an id that does not exist or could
    /// not be one.
    async fn record(&self, id: &str) -> Result<Option<Attachment>, DomainError> {
        if ids::check_attachment_id(id).is_err() {
            return Ok(None);
        }
        self.stores
            .attachments
            .attachment(id)
            .await
            .map_err(from_port)
    }

    /// The record, when `user` may read it; its upload confirmed if the
    /// bytes arrived since.
    async fn readable_attachment(
        &self,
        user: &UserId,
        id: &str,
    ) -> Result<Attachment, DomainError> {
        let record = self.record(id).await?.ok_or_else(not_found)?;
        if record.owner != *user && !self.carried_to(user, id).await? {
            return Err(not_found());
        }
        self.confirm_upload(record).await
    }

    /// True when a stored message that `user` can read carries `id`.
    async fn carried_to(&self, user: &UserId, id: &str) -> Result<bool, DomainError> {
        let refs = self
            .stores
            .attachments
            .attachment_refs(id)
            .await
            .map_err(from_port)?;
        for (conv, seq) in refs {
            let Some(state) = self
                .stores
                .conversations
                .conversation(&conv)
                .await
                .map_err(from_port)?
            else {
                continue;
            };
            if state.member(user).is_some_and(|m| m.joined_after < seq) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Records the stored size when the bytes have arrived at the blob
    /// engine since the record was written. Bytes over the declared size
    /// (a presigned PUT cannot refuse them) are removed and refused.
    async fn confirm_upload(&self, mut record: Attachment) -> Result<Attachment, DomainError> {
        if record.uploaded_size.is_some() {
            return Ok(record);
        }
        let Some(size) = self.blobs.size(&record.id).await.map_err(from_port)? else {
            return Ok(record);
        };
        if size > record.size {
            self.blobs.delete(&record.id).await.map_err(from_port)?;
            return Err(DomainError::new(
                ErrorCode::TooLarge,
                format!(
                    "the upload of {} has {size} bytes, more than the {} declared; upload it again",
                    record.id, record.size
                ),
            ));
        }
        self.stores
            .attachments
            .set_uploaded(&record.id, size)
            .await
            .map_err(from_port)?;
        record.uploaded_size = Some(size);
        Ok(record)
    }

    /// Freezes the bytes of the attachments a send carries, before the
    /// send is appended: a write to an upload URL afterwards (a presigned
    /// S3 URL is good for its whole life) changes nothing anyone reads.
    /// What was sealed is checked again: the uploader may have replaced
    /// its upload since its size was confirmed, and bytes over the size it
    /// declared are removed and refused, as at the first confirmation.
    /// An engine that never replaces bytes costs nothing here.
    pub(crate) async fn seal_attachments(&self, records: &[Attachment]) -> Result<(), DomainError> {
        for record in records {
            let id = &record.id;
            match self.blobs.seal(id).await.map_err(from_port)? {
                Sealed::NotNeeded => {}
                Sealed::Bytes(size) if size > record.size => {
                    self.blobs.delete(id).await.map_err(from_port)?;
                    return Err(DomainError::new(
                        ErrorCode::TooLarge,
                        format!(
                            "the upload of {id} has {size} bytes, more than the {} declared; upload it again",
                            record.size
                        ),
                    ));
                }
                Sealed::Bytes(size) if record.uploaded_size != Some(size) => {
                    self.stores
                        .attachments
                        .set_uploaded(id, size)
                        .await
                        .map_err(from_port)?;
                }
                Sealed::Bytes(_) => {}
                Sealed::Absent => {
                    return Err(DomainError::bad_request(format!(
                        "attachment {id} is not uploaded yet"
                    )))
                }
            }
        }
        Ok(())
    }

    /// Checks the attachment ids of a send by `user`: each exists, was
    /// uploaded by `user`, has its bytes stored, and is still within the
    /// time a fresh upload may wait to be sent. Answers their records.
    pub(crate) async fn check_attachments(
        &self,
        user: &UserId,
        attachments: &[String],
    ) -> Result<Vec<Attachment>, DomainError> {
        let mut records = Vec::with_capacity(attachments.len());
        for (i, id) in attachments.iter().enumerate() {
            if attachments[..i].contains(id) {
                return Err(DomainError::bad_request(format!(
                    "attachment {id} is named twice"
                )));
            }
            let unknown = || DomainError::bad_request(format!("unknown attachment {id}"));
            let record = self
                .record(id)
                .await?
                .filter(|r| r.owner == *user)
                .ok_or_else(unknown)?;
            let record = self.confirm_upload(record).await?;
            if record.uploaded_size.is_none() {
                return Err(DomainError::bad_request(format!(
                    "attachment {id} is not uploaded yet"
                )));
            }
            let send_by =
                record.created_at + self.config.attachments.unsent_grace().as_millis() as i64 / 2;
            if chat_domain::time::now_ms() > send_by
                && self
                    .stores
                    .attachments
                    .attachment_refs(id)
                    .await
                    .map_err(from_port)?
                    .is_empty()
            {
                return Err(DomainError::bad_request(format!(
                    "attachment {id} was uploaded too long ago to be sent; upload it again"
                )));
            }
            records.push(record);
        }
        Ok(records)
    }
}

#[cfg(test)]
mod tests {
    use super::check_content_type;

    #[test]
    fn content_types() {
        for ok in [
            "image/png",
            "application/vnd.ms-excel",
            "text/plain; charset=utf-8",
        ] {
            assert!(check_content_type(ok).is_ok(), "{ok}");
        }
        for bad in ["", "png", "image/", "/png", "image/png\n", "ima ge/png"] {
            assert!(check_content_type(bad).is_err(), "{bad:?}");
        }
    }
}
