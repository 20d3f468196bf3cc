//! The S3 engine: blobs as objects in an S3-compatible bucket (through the
//! `object_store` crate), with SigV4-presigned URLs that clients use
//! directly, so the chat servers never relay attachment bytes.
//!
//! - Upload URLs are presigned `PUT`s that also sign the `Content-Type`
//!   header: the client must send exactly the content type it declared, and
//!   S3 stores it with the object. Downloads (presigned `GET`s) are answered
//!   with that stored content type.
//! - A presigned `PUT` cannot limit the size of the body. The server checks
//!   the stored size afterwards with
//!   [`BlobStore::size`](chat_ports::BlobStore::size) and refuses (and
//!   deletes) an upload larger than it granted.
//! - Presigned URLs are valid for whole seconds: `expires_at` is rounded
//!   down, to at least 1 second and at most 7 days (SigV4's limit).
//! - Signatures and expiry are checked by the server, not by this engine.
//!   AWS S3 checks both. moto (5.2.5, the local test server of `infra/s3`)
//!   checks neither: a presigned URL with an altered signature, and one
//!   past its expiry, are both answered `200`, and a `PUT` with another
//!   content type than the signed one is stored. So the tests of
//!   `tests/s3.rs` print what the server did with such URLs rather than
//!   assert it, and expiry and the content-type binding are only as good as
//!   the real server's checks.
//!
//! [`S3Config`] is always built, so a configuration with an `[s3]` section
//! reads the same in every build; the engine ([`S3Blobs`], in `engine`) and
//! `object_store` with its AWS client come with the `s3` feature (on by
//! default).

mod config;
#[cfg(feature = "s3")]
mod engine;

pub use config::S3Config;
#[cfg(feature = "s3")]
pub use engine::S3Blobs;
