//! Streamed uploads into the local engine: the body of a `PUT` to a signed
//! upload URL goes through [`LocalBlobs::write_stream`].

use super::atomic::TempFile;
use super::format::header;
use super::LocalBlobs;
use crate::validate::{validate_content_type, validate_key, InvalidContentType, InvalidKey};
use bytes::Bytes;
use chat_ports::PortError;
use futures::{Stream, StreamExt};
use std::fmt::Display;
use tokio::io::AsyncWriteExt;

/// Why an upload was not stored. Nothing of it is left in the directory,
/// and a blob stored before under the same key is untouched.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The key is not one a blob can have.
    #[error(transparent)]
    Key(#[from] InvalidKey),
    /// The content type cannot be stored.
    #[error(transparent)]
    ContentType(#[from] InvalidContentType),
    /// The body passed the size limit (a gateway answers 413).
    #[error("the upload is larger than {max_size} bytes")]
    TooLarge { max_size: u64 },
    /// The body stream failed (the client went away, say).
    #[error("the upload body failed: {0}")]
    Body(String),
    /// An upload under a key that has a blob already ([`LocalBlobs::upload_stream`]).
    #[error("a blob is stored under this key already; its bytes do not change")]
    Exists,
    /// The directory could not be written.
    #[error(transparent)]
    Storage(#[from] PortError),
}

/// What a complete write does to a blob stored under its key before.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Existing {
    Replace,
    Keep,
}

fn io_err(e: std::io::Error) -> WriteError {
    WriteError::Storage(PortError::storage("blob store", e))
}

impl LocalBlobs {
    /// Stores the bytes of `body` under `key` with `content_type`, and
    /// returns their count.
    ///
    /// The bytes go to a temp file in the blob directory; as soon as their
    /// count passes `max_size` the upload stops with
    /// [`WriteError::TooLarge`] (nothing past the limit is written). A
    /// complete upload is fsynced and renamed over the blob atomically, then
    /// the directory is fsynced. On any error, or when the returned future
    /// is dropped, the temp file is removed.
    pub async fn write_stream<S, E>(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        body: S,
    ) -> Result<u64, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        self.write(key, content_type, max_size, body, Existing::Replace)
            .await
    }

    /// Stores a client's upload: as [`LocalBlobs::write_stream`], but a
    /// blob stored under `key` is never replaced, also by an upload that
    /// began before it was stored ([`WriteError::Exists`]): an attachment's
    /// bytes do not change once stored.
    pub async fn upload_stream<S, E>(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        body: S,
    ) -> Result<u64, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        self.write(key, content_type, max_size, body, Existing::Keep)
            .await
    }

    async fn write<S, E>(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        mut body: S,
        existing: Existing,
    ) -> Result<u64, WriteError>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: Display,
    {
        validate_key(key)?;
        validate_content_type(content_type)?;
        let (temp, mut file) = TempFile::create(&self.dir).await?;
        file.write_all(&header(content_type))
            .await
            .map_err(io_err)?;
        let mut written: u64 = 0;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| WriteError::Body(e.to_string()))?;
            written = written.saturating_add(chunk.len() as u64);
            if written > max_size {
                return Err(WriteError::TooLarge { max_size });
            }
            file.write_all(&chunk).await.map_err(io_err)?;
        }
        file.flush().await.map_err(io_err)?;
        file.sync_all().await.map_err(io_err)?;
        drop(file);
        let dest = self.path_of(key);
        match existing {
            Existing::Replace => temp.commit(&dest, &self.dir).await?,
            Existing::Keep => {
                if !temp.commit_new(&dest, &self.dir).await? {
                    return Err(WriteError::Exists);
                }
            }
        }
        Ok(written)
    }
}
