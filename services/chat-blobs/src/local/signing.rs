//! The signed URLs of the local engine: building them and checking them.
//!
//! # URL layout
//!
//! ```text
//! upload:   {base_url}/v1/blobs/{key}?op=put&exp={ms}&max={bytes}&ct={content type}&sig={hex}
//! download: {base_url}/v1/blobs/{key}?op=get&exp={ms}&sig={hex}
//! ```
//!
//! The query is form-urlencoded (so `ct=image%2Fpng`); `exp` is the last
//! millisecond (Unix time) at which the URL is valid; `sig` is 64 lowercase
//! hex digits. Keys are URL-safe as they are ([`crate::validate_key`]).
//!
//! # Signature
//!
//! `sig` = HMAC-SHA256(secret, message), where the message is the domain
//! tag `chat-blobs/local-url/v1`, then each field as a 4-byte big-endian
//! length followed by its bytes: op (`put` or `get`), key, exp in decimal,
//! and for `put` also max in decimal and the content type. Every field is
//! length-prefixed, so no two different URLs share a message.

use crate::hex;
use crate::validate::{validate_key, InvalidKey};
use chat_ports::PortError;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

const DOMAIN: &[u8] = b"chat-blobs/local-url/v1";

/// What a URL lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Upload (`PUT`) the bytes.
    Put,
    /// Download (`GET`) the bytes.
    Get,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Put => "put",
            Op::Get => "get",
        }
    }
}

/// The query parameters of a signed URL, as the gateway extracts them
/// (e.g. with axum's `Query<SignedQuery>`). See the module docs for their
/// meaning.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SignedQuery {
    /// `put` or `get`.
    pub op: Op,
    /// The last valid millisecond (Unix time).
    pub exp: i64,
    /// The largest upload, in bytes (`put` only).
    #[serde(default)]
    pub max: Option<u64>,
    /// The content type of the upload (`put` only).
    #[serde(default)]
    pub ct: Option<String>,
    /// The signature, hex.
    pub sig: String,
}

/// What a verified URL grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Upload at most `max_size` bytes, stored with `content_type`.
    Put { max_size: u64, content_type: String },
    /// Download the bytes.
    Get,
}

/// Why a URL is refused. A gateway would answer `BadSignature` and
/// `Malformed` with 403, `Expired` with 403 (or 410), and `Key` with 404.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The signature is not this server's for this key and query: the URL
    /// was altered, is for another key or operation, or was never signed.
    #[error("the URL's signature does not match")]
    BadSignature,
    /// The URL was valid once; its expiry has passed.
    #[error("the URL has expired")]
    Expired,
    /// The key is not one a blob can have.
    #[error(transparent)]
    Key(#[from] InvalidKey),
    /// The query lacks a parameter its operation needs, or has one it must
    /// not have.
    #[error("malformed URL: {0}")]
    Malformed(&'static str),
}

/// Signs and verifies URLs with one secret.
#[derive(Clone)]
pub(crate) struct UrlSigner {
    mac: Hmac<Sha256>,
}

impl UrlSigner {
    /// A signer keyed by `secret` (which must not be empty).
    pub(crate) fn new(secret: &[u8]) -> Result<Self, PortError> {
        if secret.is_empty() {
            return Err(PortError::storage("blob store", "the URL secret is empty"));
        }
        let mac = Hmac::<Sha256>::new_from_slice(secret)
            .map_err(|e| PortError::storage("blob store", e))?;
        Ok(Self { mac })
    }

    /// The query string (without `?`) of an upload URL.
    pub(crate) fn upload_query(&self, key: &str, content_type: &str, max: u64, exp: i64) -> String {
        let sig = hex::encode(&self.mac_of(Op::Put, key, exp, Some((max, content_type))));
        form_urlencoded::Serializer::new(String::new())
            .append_pair("op", "put")
            .append_pair("exp", &exp.to_string())
            .append_pair("max", &max.to_string())
            .append_pair("ct", content_type)
            .append_pair("sig", &sig)
            .finish()
    }

    /// The query string (without `?`) of a download URL.
    pub(crate) fn download_query(&self, key: &str, exp: i64) -> String {
        let sig = hex::encode(&self.mac_of(Op::Get, key, exp, None));
        form_urlencoded::Serializer::new(String::new())
            .append_pair("op", "get")
            .append_pair("exp", &exp.to_string())
            .append_pair("sig", &sig)
            .finish()
    }

    /// Checks a URL for `key` at `now_ms`: key, parameters, signature (in
    /// constant time), then expiry.
    pub(crate) fn verify(
        &self,
        key: &str,
        query: &SignedQuery,
        now_ms: i64,
    ) -> Result<Grant, UrlError> {
        validate_key(key)?;
        let (put, grant) = match (query.op, query.max, &query.ct) {
            (Op::Put, Some(max), Some(ct)) => (
                Some((max, ct.as_str())),
                Grant::Put {
                    max_size: max,
                    content_type: ct.clone(),
                },
            ),
            (Op::Put, _, _) => return Err(UrlError::Malformed("an upload needs max and ct")),
            (Op::Get, None, None) => (None, Grant::Get),
            (Op::Get, _, _) => return Err(UrlError::Malformed("a download takes no max or ct")),
        };
        let sig = hex::decode(&query.sig).ok_or(UrlError::BadSignature)?;
        let mut mac = self.mac.clone();
        mac.update(&message(query.op, key, query.exp, put));
        mac.verify_slice(&sig).map_err(|_| UrlError::BadSignature)?;
        if now_ms > query.exp {
            return Err(UrlError::Expired);
        }
        Ok(grant)
    }

    fn mac_of(&self, op: Op, key: &str, exp: i64, put: Option<(u64, &str)>) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(&message(op, key, exp, put));
        mac.finalize().into_bytes().to_vec()
    }
}

/// The signed message: the domain tag, then length-prefixed fields.
fn message(op: Op, key: &str, exp: i64, put: Option<(u64, &str)>) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    let mut field = |bytes: &[u8]| {
        let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
    };
    field(op.as_str().as_bytes());
    field(key.as_bytes());
    field(exp.to_string().as_bytes());
    if let Some((max, content_type)) = put {
        field(max.to_string().as_bytes());
        field(content_type.as_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_cannot_shift() {
        // Moving a byte from one field to the next changes the message.
        let a = message(Op::Put, "ab", 1, Some((2, "c")));
        let b = message(Op::Put, "a", 1, Some((2, "bc")));
        assert_ne!(a, b);
        assert_ne!(
            message(Op::Get, "k", 1, None),
            message(Op::Put, "k", 1, None)
        );
    }
}
