//! Domain types shared by every crate: identifiers and their validation, the
//! conversation and message model, the protocol's JSON frames and its error codes.
//!
//! # Layout
//! - [`ids`]: user, device, conversation and message identifiers.
//! - [`model`]: conversations, members, messages, receipts, presence.
//! - [`frames`]: WebSocket frames, client to server and server to client.
//! - [`error`]: the protocol's error codes and the domain error type.
//! - [`time`]: the server clock in milliseconds.

pub mod error;
pub mod frames;
pub mod ids;
pub mod model;
pub mod time;

pub use error::{DomainError, ErrorCode};
pub use model::*;
