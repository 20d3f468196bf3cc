//! The domain of the chat service, with no I/O: identifiers, the
//! conversation and message model, commands and events, the business rules
//! that decide commands, the protocol's JSON frames and its error codes.
//!
//! # Layout
//! - [`ids`]: typed user, device, conversation and message identifiers.
//! - [`model`]: conversations, members, messages, receipts, presence.
//! - [`commands`]: what gateways ask for (the `chat.commands` records).
//! - [`events`]: what processors derive (the `chat.events` records).
//! - [`realtime`]: what fan-out publishes on the real-time channels.
//! - [`rules`]: command + state + limits → decision or typed rejection.
//! - [`frames`]: WebSocket frames, client to server and server to client.
//! - [`error`]: the protocol's error codes and the domain error type.
//! - [`time`]: the server clock in milliseconds.
//! - [`numbers`]: the range of the numbers a client sends (0 to `i64::MAX`).
//! - [`privacy`]: who sees a user's presence, who may add it to groups.

pub mod commands;
pub mod error;
pub mod events;
pub mod frames;
pub mod ids;
pub mod model;
pub mod numbers;
pub mod privacy;
pub mod realtime;
mod record_enum;
pub mod rules;
pub mod time;

pub use commands::Command;
pub use error::{DomainError, ErrorCode};
pub use events::Event;
pub use ids::{ClientMsgId, ConversationId, DeviceId, MessageId, UserId};
pub use model::*;
