//! The records on the event log and their Avro encoding.
//!
//! Every record is Avro single-object encoded (`C3 01`, the schema's 8-byte
//! Rabin fingerprint, the binary datum) with a schema from the top-level
//! `schemas/` folder, which is compiled in. An outside consumer that holds only
//! that folder decodes the same bytes (see [`Codec::from_dir`]).
//!
//! # Layout
//! - [`records`]: one struct per schema, and [`Record`], the union of them.
//! - [`codec`]: encoding, decoding, and generic decoding to JSON.
//! - [`topics`]: topic names and the Kafka-compatible key partitioner.

pub mod codec;
pub mod records;
pub mod topics;

pub use codec::{Codec, Error};
pub use records::*;
