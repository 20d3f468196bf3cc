//! [`S3Blobs`]: the engine itself, on `object_store` (the `s3` feature).

use super::S3Config;
use crate::validate::{validate_content_type, validate_key};
use async_trait::async_trait;
use chat_ports::{BlobStore, PortError, Result, Sealed};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path;
use object_store::signer::{HeaderName, HeaderValue, Method, SignedUrlOptions, Signer};
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt, PutOptions, PutPayload, RetryConfig,
};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// SigV4's longest presigned validity.
const MAX_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Retries of a failed request: a few, within seconds, so that an outage
/// fails calls (and the requests waiting on them) quickly instead of after
/// `object_store`'s default three minutes.
fn retry() -> RetryConfig {
    RetryConfig {
        max_retries: 3,
        retry_timeout: Duration::from_secs(15),
        ..RetryConfig::default()
    }
}

/// Blobs in an S3-compatible bucket.
#[derive(Debug)]
pub struct S3Blobs {
    store: AmazonS3,
    prefix: Option<Path>,
}

fn storage(e: impl std::fmt::Display) -> PortError {
    PortError::storage("blob store", e)
}

/// An `object_store` error as a port error (callers handle `NotFound`).
fn port_err(e: object_store::Error) -> PortError {
    storage(e)
}

impl S3Blobs {
    /// An engine for the bucket of `config`. Makes no request: a missing
    /// bucket or wrong credentials show at the first operation.
    pub fn new(config: &S3Config) -> Result<S3Blobs> {
        if config.bucket.is_empty() {
            return Err(storage(
                "no bucket is configured (s3.bucket, or s3://bucket)",
            ));
        }
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_region(&config.region)
            .with_allow_http(config.allow_http)
            .with_retry(retry());
        if !config.access_key_id.is_empty() {
            builder = builder
                .with_access_key_id(&config.access_key_id)
                .with_secret_access_key(&config.secret_access_key);
        }
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        let store = builder.build().map_err(storage)?;
        let prefix = match config.prefix.as_deref().map(|p| p.trim_matches('/')) {
            None | Some("") => None,
            Some(p) => Some(Path::parse(p).map_err(storage)?),
        };
        Ok(S3Blobs { store, prefix })
    }

    /// The object path of a key, after checking the key.
    fn path(&self, key: &str) -> Result<Path> {
        validate_key(key).map_err(storage)?;
        Ok(match &self.prefix {
            Some(prefix) => prefix.clone().join(key),
            None => Path::from(key),
        })
    }

    /// The path of a key's sealed copy (`sealed/{key}`): no upload URL
    /// names it, so only a seal writes it.
    fn sealed_path(&self, key: &str) -> Result<Path> {
        validate_key(key).map_err(storage)?;
        let sealed = match &self.prefix {
            Some(prefix) => prefix.clone().join(SEALED),
            None => Path::from(SEALED),
        };
        Ok(sealed.join(key))
    }

    /// The metadata of `path`, or `None` when it is absent.
    async fn head(&self, path: &Path) -> Result<Option<object_store::ObjectMeta>> {
        match self.store.head(path).await {
            Ok(meta) => Ok(Some(meta)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(port_err(e)),
        }
    }

    /// The path reads of `key` go to: its sealed copy once there is one,
    /// else the object its upload URL writes.
    async fn read_path(&self, key: &str) -> Result<Path> {
        let sealed = self.sealed_path(key)?;
        if self.head(&sealed).await?.is_some() {
            return Ok(sealed);
        }
        self.path(key)
    }
}

/// The folder of sealed copies, under the prefix.
const SEALED: &str = "sealed";

/// How long from now until `expires_at` (ms), in whole seconds, within what
/// SigV4 allows.
fn expires_in(expires_at: i64) -> Duration {
    // (chat-blobs sits below chat-domain's clock; the same wall clock.)
    #[allow(clippy::disallowed_methods)]
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    let secs = u64::try_from(expires_at.saturating_sub(now) / 1000).unwrap_or(0);
    Duration::from_secs(secs).clamp(Duration::from_secs(1), MAX_EXPIRY)
}

#[async_trait]
impl BlobStore for S3Blobs {
    async fn upload_url(
        &self,
        key: &str,
        content_type: &str,
        _max_size: u64,
        expires_at: i64,
    ) -> Result<String> {
        let path = self.path(key)?;
        validate_content_type(content_type).map_err(storage)?;
        let value = HeaderValue::from_str(content_type).map_err(storage)?;
        let options = SignedUrlOptions::new()
            .with_signed_header(HeaderName::from_static("content-type"), value);
        let url = self
            .store
            .signed_url_opts(Method::PUT, &path, expires_in(expires_at), &options)
            .await
            .map_err(port_err)?;
        Ok(url.into())
    }

    async fn download_url(&self, key: &str, expires_at: i64) -> Result<String> {
        let path = self.read_path(key).await?;
        let url = self
            .store
            .signed_url(Method::GET, &path, expires_in(expires_at))
            .await
            .map_err(port_err)?;
        Ok(url.into())
    }

    async fn size(&self, key: &str) -> Result<Option<u64>> {
        if let Some(meta) = self.head(&self.sealed_path(key)?).await? {
            return Ok(Some(meta.size));
        }
        Ok(self.head(&self.path(key)?).await?.map(|meta| meta.size))
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>> {
        let path = self.read_path(key).await?;
        let found = match self.store.get(&path).await {
            Ok(found) => found,
            Err(object_store::Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(port_err(e)),
        };
        Ok(Some(found.bytes().await.map_err(port_err)?.to_vec()))
    }

    async fn put(&self, key: &str, bytes: Vec<u8>, content_type: &str) -> Result<()> {
        let path = self.path(key)?;
        validate_content_type(content_type).map_err(storage)?;
        let options = PutOptions {
            attributes: Attributes::from_iter([(Attribute::ContentType, content_type.to_string())]),
            ..PutOptions::default()
        };
        self.store
            .put_opts(&path, PutPayload::from(bytes), options)
            .await
            .map_err(port_err)?;
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<()> {
        for path in [self.sealed_path(key)?, self.path(key)?] {
            match self.store.delete(&path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(port_err(e)),
            }
        }
        Ok(())
    }

    /// Copies the object to `sealed/{key}` unless a copy is there, and
    /// answers the copy's size. Two seals of one key at the same moment
    /// (two sends by its uploader) may both copy; each copies the bytes
    /// stored then.
    async fn seal(&self, key: &str) -> Result<Sealed> {
        let sealed = self.sealed_path(key)?;
        if let Some(meta) = self.head(&sealed).await? {
            return Ok(Sealed::Bytes(meta.size));
        }
        match self.store.copy(&self.path(key)?, &sealed).await {
            Ok(()) => {}
            Err(object_store::Error::NotFound { .. }) => return Ok(Sealed::Absent),
            Err(e) => return Err(port_err(e)),
        }
        Ok(match self.head(&sealed).await? {
            Some(meta) => Sealed::Bytes(meta.size),
            None => Sealed::Absent,
        })
    }
}
