//! Where the S3 engine keeps blobs, as the server configuration gives it.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An S3-compatible bucket and the credentials to use it. Deserializable, so
/// the server configuration can embed it, e.g.
///
/// ```toml
/// [s3]
/// endpoint = "http://127.0.0.1:59000"   # omit for AWS itself
/// bucket = "chat-attachments"
/// region = "us-east-1"
/// access_key_id = "…"
/// secret_access_key = "…"
/// allow_http = true                     # only for a local endpoint
/// prefix = "prod"                        # optional
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Config {
    /// The endpoint of an S3-compatible server (path-style requests); `None`
    /// for AWS S3 (virtual-hosted at `{bucket}.s3.{region}.amazonaws.com`).
    pub endpoint: Option<String>,
    /// The bucket, which must exist.
    pub bucket: String,
    /// The region signatures are made for (default `us-east-1`).
    pub region: String,
    /// The access key id; empty: taken from `AWS_ACCESS_KEY_ID` and the
    /// other standard AWS variables.
    pub access_key_id: String,
    /// The secret access key; empty: from `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// Whether plain `http://` endpoints are allowed (default `false`).
    pub allow_http: bool,
    /// A path prefix for every key (`{prefix}/{key}`), so deployments can
    /// share a bucket.
    pub prefix: Option<String>,
}

impl Default for S3Config {
    fn default() -> Self {
        Self {
            endpoint: None,
            bucket: String::new(),
            region: "us-east-1".to_string(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            allow_http: false,
            prefix: None,
        }
    }
}

impl fmt::Debug for S3Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret stays out of logs.
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("allow_http", &self.allow_http)
            .field("prefix", &self.prefix)
            .finish()
    }
}
