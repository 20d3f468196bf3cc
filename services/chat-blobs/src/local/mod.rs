//! The local engine: blobs as files in one directory, behind URLs that the
//! gateway serves and checks with an HMAC.
//!
//! The gateway routes `PUT` and `GET /v1/blobs/{key}` (URL layout and
//! signature: [`signing`]) to this engine: it extracts the query as a
//! [`SignedQuery`], calls [`LocalBlobs::verify`], then streams the request
//! body into [`LocalBlobs::write_stream`] (with the granted `max_size` and
//! `content_type`) or answers with [`LocalBlobs::open_read`]'s file and
//! content type.
//!
//! Each blob is one file named by its key (format: the `format` module),
//! replaced atomically on every write (the `atomic` module). One process
//! uses a directory.

mod atomic;
mod format;
pub mod signing;
mod write;

pub use signing::{Grant, Op, SignedQuery, UrlError};
pub use write::WriteError;

use crate::validate::{validate_content_type, validate_key};
use async_trait::async_trait;
use bytes::Bytes;
use chat_ports::{BlobStore, PortError, Result};
use signing::UrlSigner;
use std::convert::Infallible;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Temp files older than this are leftovers of crashed uploads.
const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 3600);

/// Blobs in a local directory, with HMAC-signed URLs pointing at the
/// gateway.
#[derive(Clone)]
pub struct LocalBlobs {
    dir: PathBuf,
    base_url: String,
    signer: UrlSigner,
}

impl fmt::Debug for LocalBlobs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("LocalBlobs")
            .field("dir", &self.dir)
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

fn io_err(e: std::io::Error) -> PortError {
    PortError::storage("blob store", e)
}

/// A refused key or content type as a port error.
fn invalid(e: impl fmt::Display) -> PortError {
    PortError::storage("blob store", e)
}

impl LocalBlobs {
    /// Opens (creating it if needed) the blob directory `dir`. URLs start
    /// with `base_url`, the gateway's public address (a trailing `/` is
    /// dropped), and are signed with `secret` (not empty; use 32 random
    /// bytes). Temp files that crashed uploads left are removed.
    pub fn open(
        dir: impl Into<PathBuf>,
        base_url: impl Into<String>,
        secret: &[u8],
    ) -> Result<LocalBlobs, PortError> {
        let dir = dir.into();
        let base_url = base_url.into().trim_end_matches('/').to_string();
        let signer = UrlSigner::new(secret)?;
        std::fs::create_dir_all(&dir).map_err(io_err)?;
        atomic::sweep_stale(&dir, STALE_TEMP_AGE)?;
        Ok(LocalBlobs {
            dir,
            base_url,
            signer,
        })
    }

    /// The blob directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Checks a signed URL for `key` at time `now_ms` and says what it
    /// grants. The signature covers the operation, the key, the expiry and,
    /// for uploads, the size limit and content type, so a URL for another
    /// key or operation, or with any parameter changed, is refused.
    pub fn verify(&self, key: &str, query: &SignedQuery, now_ms: i64) -> Result<Grant, UrlError> {
        self.signer.verify(key, query, now_ms)
    }

    /// Opens the blob for streaming a download: the file, positioned at the
    /// blob's first byte (read `len` bytes from there; the file starts with
    /// a header, see `format`), the blob's length and its content type.
    /// `None` when nothing is stored.
    pub async fn open_read(&self, key: &str) -> Result<Option<(tokio::fs::File, u64, String)>> {
        validate_key(key).map_err(invalid)?;
        let path = self.path_of(key);
        let blob = blocking(move || format::open_blob(&path)).await?;
        Ok(blob.map(|b| (tokio::fs::File::from_std(b.file), b.len, b.content_type)))
    }

    /// The file of a (validated) key.
    fn path_of(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| PortError::storage("blob store", e))?
}

#[async_trait]
impl BlobStore for LocalBlobs {
    async fn upload_url(
        &self,
        key: &str,
        content_type: &str,
        max_size: u64,
        expires_at: i64,
    ) -> Result<String> {
        validate_key(key).map_err(invalid)?;
        validate_content_type(content_type).map_err(invalid)?;
        let query = self
            .signer
            .upload_query(key, content_type, max_size, expires_at);
        Ok(format!("{}/v1/blobs/{key}?{query}", self.base_url))
    }

    async fn download_url(&self, key: &str, expires_at: i64) -> Result<String> {
        validate_key(key).map_err(invalid)?;
        let query = self.signer.download_query(key, expires_at);
        Ok(format!("{}/v1/blobs/{key}?{query}", self.base_url))
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        validate_key(key).map_err(invalid)?;
        let path = self.path_of(key);
        let blob = blocking(move || format::open_blob(&path)).await?;
        Ok(blob.map(|b| b.len))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        validate_key(key).map_err(invalid)?;
        let path = self.path_of(key);
        blocking(move || {
            let Some(mut blob) = format::open_blob(&path)? else {
                return Ok(None);
            };
            let mut bytes = Vec::with_capacity(usize::try_from(blob.len).unwrap_or(0));
            blob.file.read_to_end(&mut bytes).map_err(io_err)?;
            Ok(Some(bytes))
        })
        .await
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()> {
        let body = futures::stream::iter([Ok::<_, Infallible>(Bytes::from(bytes))]);
        match self.write_stream(key, content_type, u64::MAX, body).await {
            Ok(_) => Ok(()),
            Err(WriteError::Storage(e)) => Err(e),
            Err(e) => Err(invalid(e)),
        }
    }

    async fn delete(&self, key: &str) -> Result<()> {
        validate_key(key).map_err(invalid)?;
        match tokio::fs::remove_file(self.path_of(key)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(e)),
        }
    }
}
