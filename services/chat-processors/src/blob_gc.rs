//! The attachment collector: removes the bytes, the thumbnail and the record
//! of every attachment that no stored message carries once its grace period
//! is over. That covers uploads never sent, and attachments whose messages
//! were deleted for everyone or removed by retention, so blobs follow the
//! retention of the messages that carry them.
//!
//! A send may name an unsent attachment only within half the grace period
//! (the gateway checks), so a send still in flight is never collected from
//! under it.

use chat_ports::attachments::thumbnail_key;
use chat_ports::{AttachmentStore, BlobStore};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Attachments removed per store query.
const PAGE: usize = 500;

/// Removes every collectable attachment once; returns how many went.
pub async fn sweep(
    attachments: &dyn AttachmentStore,
    blobs: &dyn BlobStore,
    grace: Duration,
) -> chat_ports::Result<u64> {
    let cutoff = chat_domain::time::now_ms() - grace.as_millis() as i64;
    let mut removed = 0;
    loop {
        let ids = attachments.unreferenced_attachments(cutoff, PAGE).await?;
        for id in &ids {
            // Bytes first: a crash in between leaves a record the next sweep
            // finds again, never bytes nothing points at.
            blobs.delete(&thumbnail_key(id)).await?;
            blobs.delete(id).await?;
            attachments.delete_attachment(id).await?;
        }
        removed += ids.len() as u64;
        if ids.len() < PAGE {
            return Ok(removed);
        }
    }
}

/// Sweeps until `shutdown` fires: first at once, then every `every`.
pub async fn run(
    attachments: Arc<dyn AttachmentStore>,
    blobs: Arc<dyn BlobStore>,
    grace: Duration,
    every: Duration,
    shutdown: CancellationToken,
) {
    loop {
        match sweep(attachments.as_ref(), blobs.as_ref(), grace).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                removed = n,
                "The collector removed unsent or expired attachments."
            ),
            Err(e) => tracing::warn!(error = %e, "The attachment collector could not sweep."),
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(every) => {}
        }
    }
}
