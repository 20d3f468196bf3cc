//! The gateway: holds client connections and stays thin. It authenticates,
//! validates, appends commands to the log, answers reads from the store,
//! and delivers real-time events to each device in seq order, repairing
//! gaps from the store.
//!
//! # Layout
//! - [`config`]: the gateway's settings and their defaults.
//! - [`error`]: protocol errors as HTTP responses.
//! - [`auth`]: HS256 tokens and the authenticated-caller extractor.
//! - [`limits`]: the per-device send rate limit.
//! - [`quota`]: each user's daily quota of stored bytes.
//! - [`service`]: the operations shared by HTTP and WebSocket.
//! - [`http`]: the REST routes.
//! - [`web`]: the embedded web client.
//! - [`ws`]: the WebSocket session and its delivery state.

pub mod auth;
pub mod config;
pub mod connections;
pub mod error;
pub mod http;
pub mod limits;
pub mod quota;
pub mod rates;
pub mod service;
pub mod web;
pub mod ws;

pub use config::{AttachmentLimits, ClientLimits, GatewayConfig};
pub use service::{Backends, ChatService};

use std::sync::Arc;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<ChatService>,
    /// The local blob engine, whose signed URLs this gateway serves; `None`
    /// when attachments live in an object store.
    pub local_blobs: Option<Arc<chat_blobs::local::LocalBlobs>>,
}

/// The gateway's routes.
pub fn router(state: AppState) -> axum::Router {
    http::routes(state)
}
