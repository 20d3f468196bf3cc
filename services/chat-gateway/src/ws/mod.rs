//! The WebSocket of PROTOCOL.md: upgrade checks, then one session per
//! connection.
//!
//! - [`outbound`]: the bounded per-connection queue and its writer task.
//! - [`parse`]: client frames, with an error for everything malformed.
//! - [`delivery`]: per-device, per-conversation in-order, gap-free delivery.
//! - [`gate`]: whose presence changes a connection may see.
//! - [`repair`]: deletes, membership and receipts the real-time path lost.
//! - [`session`]: the connection's loop.
//! - [`shed`]: what a busy connection drops first.

mod delivery;
mod edits;
mod gate;
mod held;
mod outbound;
mod parse;
mod repair;
mod session;
mod shed;

use crate::auth::UpgradeCaller;
use crate::error::ApiError;
use crate::{AppState, GatewayConfig};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::{State, WebSocketUpgrade};
use axum::http::HeaderMap;
use axum::response::Response;
use chat_domain::{DomainError, ErrorCode};

/// The floor of `ws_max_write_buffer_bytes`: a message frame of the
/// largest body, every character escaped, fits with room to spare.
const MIN_UNREAD_BYTES: usize = 1024 * 1024;

/// `GET /v1/ws`: authenticates (header or `?token=`), checks the Origin,
/// then upgrades with the frame limits.
#[utoipa::path(
    get,
    path = "/v1/ws",
    tag = "websocket",
    params(("token" = Option<String>, Query, description = "The bearer token, for clients that cannot set the header")),
    responses(
        (status = 101, description = "Switching to the WebSocket of PROTOCOL.md"),
        crate::http::openapi::Errors
    ),
    security(("bearer" = []), ())
)]
pub async fn upgrade(
    State(s): State<AppState>,
    UpgradeCaller(caller): UpgradeCaller,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    check_origin(&s.service.config, &headers)?;
    let ws = ws.map_err(|e| DomainError::bad_request(e.body_text()))?;
    // Held for the session's life: past the caps the upgrade is refused.
    let slot = s.service.connections.admit(&caller.user, &caller.device)?;
    let live = match s
        .service
        .presence
        .live_connections(&caller.user, &caller.device)
        .await
    {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e, "Presence cannot count a user's connections; the upgrade is let through.");
            None
        }
    };
    crate::connections::fleet_admits(live, &s.service.config.client_limits)?;
    let limit = s.service.config.max_frame_bytes;
    let service = s.service.clone();
    let buffer = s.service.config.ws_buffer_bytes.max(1024);
    // Past this the connection fails (and the session ends) instead of
    // buffering what the client does not take; at least a megabyte, which
    // holds the largest frame the server writes.
    let unread = s
        .service
        .config
        .ws_max_write_buffer_bytes
        .max(buffer + MIN_UNREAD_BYTES);
    Ok(ws
        .max_message_size(limit)
        .max_frame_size(limit)
        .read_buffer_size(buffer)
        .write_buffer_size(buffer)
        .max_write_buffer_size(unread)
        .on_upgrade(move |socket| async move {
            session::run(socket, service, caller).await;
            drop(slot);
        }))
}

/// Browsers send Origin; native clients do not. An Origin must be in the
/// allow-list, or, with an empty list, name the host the request came to.
fn check_origin(config: &GatewayConfig, headers: &HeaderMap) -> Result<(), DomainError> {
    let Some(origin) = headers.get("origin").and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let allowed = if config.allowed_origins.is_empty() {
        let host = headers.get("host").and_then(|v| v.to_str().ok());
        let origin_host = origin.split_once("://").map(|(_, h)| h);
        host.is_some() && origin_host == host
    } else {
        config.allowed_origins.iter().any(|o| o == origin)
    };
    if allowed {
        Ok(())
    } else {
        Err(DomainError::new(
            ErrorCode::Forbidden,
            format!("origin {origin} is not allowed"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(origin: Option<&str>, host: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", host.parse().unwrap());
        if let Some(o) = origin {
            h.insert("origin", o.parse().unwrap());
        }
        h
    }

    #[test]
    fn origins_are_checked() {
        let mut c = GatewayConfig::default();
        assert!(check_origin(&c, &headers(None, "127.0.0.1:8080")).is_ok());
        assert!(check_origin(
            &c,
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")
        )
        .is_ok());
        assert!(
            check_origin(&c, &headers(Some("https://evil.example"), "127.0.0.1:8080")).is_err()
        );
        c.allowed_origins = vec!["https://app.example".into()];
        assert!(check_origin(&c, &headers(Some("https://app.example"), "x")).is_ok());
        assert!(check_origin(
            &c,
            &headers(Some("http://127.0.0.1:8080"), "127.0.0.1:8080")
        )
        .is_err());
    }
}
