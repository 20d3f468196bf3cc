//! Blob engines for attachment bytes: both implement
//! [`chat_ports::BlobStore`], whose clients upload and download through
//! signed, expiring URLs.
//!
//! - [`LocalBlobs`] keeps the blobs in a directory (the embedded default).
//!   Its URLs point at the gateway (`{base_url}/v1/blobs/{key}?…`), signed
//!   with HMAC-SHA256 under a secret given at construction; the gateway
//!   checks them with [`LocalBlobs::verify`] and serves them with
//!   [`LocalBlobs::write_stream`] and [`LocalBlobs::open_read`].
//! - [`S3Blobs`] keeps them in an S3-compatible bucket and hands out
//!   presigned URLs, so the chat servers never relay the bytes. It is built
//!   with the `s3` feature (on by default), which brings `object_store` and
//!   its AWS client; [`S3Config`] is there in every build.
//! - [`thumbnail()`] makes a small JPEG or PNG preview of an uploaded
//!   picture.
//!
//! Both engines accept the same keys ([`validate_key`]): 1 to 128 of
//! `A-Z a-z 0-9 . _ -`, not starting with `.` and without `..`, so a key
//! never names a path outside the engine's place.
//!
//! # Layout
//! - [`validate`]: keys and content types both engines accept.
//! - [`local`]: [`LocalBlobs`], its signed URLs (`signing`), its file format
//!   (`format`), atomic writes (`atomic`) and streamed uploads (`write`).
//! - [`s3`]: [`S3Blobs`] (the `s3` feature) and its [`S3Config`].
//! - [`thumbnail`](mod@thumbnail): previews of pictures.
//! - [`conformance`]: the blob conformance suite both engines' tests run.
//!
//! Tests against a real S3-compatible server are in `tests/s3.rs`; they run
//! when `S3_ENDPOINT` is set (`infra/s3/start.sh` starts one).

pub mod conformance;
mod hex;
pub mod local;
pub mod s3;
pub mod thumbnail;
pub mod validate;

pub use local::{Grant, LocalBlobs, Op, SignedQuery, UrlError, WriteError};
#[cfg(feature = "s3")]
pub use s3::S3Blobs;
pub use s3::S3Config;
pub use thumbnail::thumbnail;
pub use validate::{validate_content_type, validate_key, InvalidContentType, InvalidKey};
