//! Health, readiness, dev login and presence.

use super::{ApiJson, ApiQuery};
use crate::auth::Caller;
use crate::error::{from_port, ApiError};
use crate::AppState;
use axum::extract::{ConnectInfo, State};
use axum::http::request::Parts;
use axum::response::IntoResponse;
use axum::Extension;
use axum::Json;
use chat_domain::{DomainError, ErrorCode};
use serde::Deserialize;
use std::net::SocketAddr;

#[utoipa::path(
    get,
    path = "/healthz",
    tag = "meta",
    responses((status = 200, description = "The process answers: {\"status\":\"ok\"}", body = serde_json::Value))
)]
pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the log takes appends.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "meta",
    responses((status = 200, description = "The log takes appends: {\"status\":\"ready\"}", body = serde_json::Value), (status = 503, description = "The log is unavailable", body = crate::error::ErrorBody))
)]
pub async fn readyz(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    s.service.log.health().await.map_err(from_port)?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

/// `GET /metrics`: Prometheus text format, for the scrapers
/// [`metrics_allowed`] lets in.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "meta",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String), (status = 401, description = "Not a loopback peer, and no gateway.metrics_token presented", body = crate::error::ErrorBody))
)]
pub async fn metrics(
    State(s): State<AppState>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    parts: Parts,
) -> Result<impl IntoResponse, ApiError> {
    let peer = peer.map(|Extension(ConnectInfo(addr))| addr);
    let presented = crate::auth::bearer_of(&parts);
    if !metrics_allowed(peer, presented.as_deref(), &s.service.config.metrics_token) {
        return Err(DomainError::new(
            ErrorCode::Unauthorized,
            "metrics are served to loopback peers, or with gateway.metrics_token",
        )
        .into());
    }
    Ok(render_metrics(&s.service.metrics))
}

/// Whether a scraper gets `/metrics`: with a token configured, the one
/// that presents it (compared in constant time), wherever it comes from;
/// without one, a loopback peer. A request whose peer is unknown is not
/// loopback.
pub(crate) fn metrics_allowed(
    peer: Option<SocketAddr>,
    presented: Option<&str>,
    token: &str,
) -> bool {
    if token.is_empty() {
        return peer.is_some_and(|a| a.ip().is_loopback());
    }
    use subtle::ConstantTimeEq;
    presented.is_some_and(|p| bool::from(p.as_bytes().ct_eq(token.as_bytes())))
}

pub(crate) fn render_metrics(m: &chat_telemetry::Metrics) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        m.render(),
    )
}

/// Ready when the log answers (processor-only processes).
pub async fn log_ready(
    State(log): State<std::sync::Arc<dyn chat_ports::EventLog>>,
) -> Result<impl IntoResponse, ApiError> {
    log.health().await.map_err(from_port)?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

/// `GET /v1/presence`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct PresenceList {
    presence: Vec<chat_domain::PresenceStatus>,
}

/// `POST /v1/dev/token`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct Token {
    token: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct DevLogin {
    user: String,
    device: String,
}

#[utoipa::path(
    post,
    path = "/v1/dev/token",
    tag = "meta",
    request_body = DevLogin,
    responses((status = 200, description = "A token for the user and device", body = Token), (status = 400, description = "A malformed body", body = crate::error::ErrorBody), (status = 403, description = "Dev login is off", body = crate::error::ErrorBody))
)]
pub async fn dev_token(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<DevLogin>,
) -> Result<impl IntoResponse, ApiError> {
    if !s.service.config.dev_login.unwrap_or(false) {
        return Err(DomainError::new(ErrorCode::Forbidden, "dev login is off").into());
    }
    let token = s.service.tokens().mint(&b.user, &b.device)?;
    Ok(Json(Token { token }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceQuery {
    /// User ids, comma-separated (at most 256).
    users: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/presence",
    tag = "presence",
    params(PresenceQuery),
    responses((status = 200, description = "Presence as the caller may see it", body = PresenceList), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn presence(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<PresenceQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let users = q
        .users
        .unwrap_or_default()
        .split(',')
        .filter(|u| !u.is_empty())
        .map(|u| chat_domain::UserId::parse_field("users", u))
        .collect::<Result<Vec<_>, _>>()?;
    let presence = s.service.presence_of(&caller.user, &users).await?;
    Ok(Json(PresenceList { presence }))
}

#[cfg(test)]
mod tests {
    use super::metrics_allowed;

    #[test]
    fn metrics_go_to_loopback_or_to_the_token_holder() {
        let local = Some("127.0.0.1:5000".parse().unwrap());
        let local6 = Some("[::1]:5000".parse().unwrap());
        let remote = Some("10.0.0.7:5000".parse().unwrap());
        assert!(metrics_allowed(local, None, ""));
        assert!(metrics_allowed(local6, None, ""));
        assert!(!metrics_allowed(remote, None, ""));
        assert!(!metrics_allowed(None, None, ""), "an unknown peer");
        let token = "a-long-scrape-token";
        assert!(metrics_allowed(remote, Some(token), token));
        assert!(!metrics_allowed(remote, Some("a-long-scrape-toke"), token));
        assert!(!metrics_allowed(remote, None, token));
        assert!(
            !metrics_allowed(local, None, token),
            "with a token, loopback (a proxy on the host) needs it too"
        );
    }
}
