//! The media processor: makes a thumbnail of every image a sequenced message
//! carries and stores it beside the original, so that clients show a
//! preview without the full download. It reads the events topic like any
//! other processor, so the bytes never pass through a gateway, and it is
//! idempotent: an attachment that has a thumbnail is skipped, and making one
//! again writes the same bytes.

use crate::{Processor, Result};
use async_trait::async_trait;
use chat_domain::Event;
use chat_events::topics::EVENTS;
use chat_events::Codec;
use chat_ports::attachments::thumbnail_key;
use chat_ports::{BlobStore, LogRecord, Stores};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Settings of thumbnails.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConfig {
    /// Longest side of a thumbnail, pixels.
    pub thumbnail_side: u32,
    /// Images larger than this, bytes, get no thumbnail.
    pub max_source_bytes: u64,
}

impl Default for MediaConfig {
    fn default() -> Self {
        Self {
            thumbnail_side: 320,
            max_source_bytes: 25 * 1024 * 1024,
        }
    }
}

pub struct Media {
    stores: Stores,
    blobs: Arc<dyn BlobStore>,
    codec: Arc<Codec>,
    config: MediaConfig,
}

impl Media {
    pub fn new(
        stores: Stores,
        blobs: Arc<dyn BlobStore>,
        codec: Arc<Codec>,
        config: MediaConfig,
    ) -> Self {
        Self {
            stores,
            blobs,
            codec,
            config,
        }
    }

    /// Makes and stores the thumbnail of one attachment, when it is an
    /// image that has none yet.
    async fn thumbnail(&self, id: &str) -> Result<()> {
        let Some(record) = self.stores.attachments.attachment(id).await? else {
            return Ok(());
        };
        let wanted = record.thumbnail.is_none()
            && record.content_type.starts_with("image/")
            && record
                .uploaded_size
                .is_some_and(|n| n <= self.config.max_source_bytes);
        if !wanted {
            return Ok(());
        }
        let Some(bytes) = self.blobs.get(id).await? else {
            return Ok(());
        };
        let (content_type, side) = (record.content_type.clone(), self.config.thumbnail_side);
        let made = tokio::task::spawn_blocking(move || {
            chat_blobs::thumbnail::thumbnail(&bytes, &content_type, side)
        })
        .await
        .ok()
        .flatten();
        let Some((thumb, thumb_type)) = made else {
            tracing::debug!(attachment = id, "No thumbnail could be made of an image.");
            return Ok(());
        };
        self.blobs
            .put(&thumbnail_key(id), thumb, thumb_type)
            .await?;
        self.stores
            .attachments
            .set_thumbnail(id, thumb_type)
            .await?;
        Ok(())
    }
}

#[async_trait]
impl Processor for Media {
    fn group(&self) -> &'static str {
        crate::groups::MEDIA
    }

    fn topics(&self) -> &'static [&'static str] {
        &[EVENTS]
    }

    async fn handle(&self, records: &[LogRecord]) -> Result<()> {
        for r in records {
            let Some(e) = self
                .codec
                .decode_event(&r.payload)
                .ok()
                .and_then(Event::into_sequenced)
            else {
                continue;
            };
            for id in &e.attachments {
                self.thumbnail(id).await?;
            }
        }
        Ok(())
    }
}
