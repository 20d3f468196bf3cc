//! Health, readiness, dev login and presence.

use super::{ApiJson, ApiQuery};
use crate::auth::Caller;
use crate::error::{from_port, ApiError};
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use chat_domain::{DomainError, ErrorCode};
use serde::Deserialize;

pub async fn healthz() -> impl IntoResponse {
    Json(serde_json::json!({ "status": "ok" }))
}

/// Ready when the log takes appends.
pub async fn readyz(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    s.service.log.health().await.map_err(from_port)?;
    Ok(Json(serde_json::json!({ "status": "ready" })))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(State(s): State<AppState>) -> impl IntoResponse {
    render_metrics(&s.service.metrics)
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

#[derive(Deserialize)]
pub struct DevLogin {
    user: String,
    device: String,
}

pub async fn dev_token(
    State(s): State<AppState>,
    ApiJson(b): ApiJson<DevLogin>,
) -> Result<impl IntoResponse, ApiError> {
    if !s.service.config.dev_login.unwrap_or(false) {
        return Err(DomainError::new(ErrorCode::Forbidden, "dev login is off").into());
    }
    let token = s.service.tokens().mint(&b.user, &b.device)?;
    Ok(Json(serde_json::json!({ "token": token })))
}

#[derive(Deserialize)]
pub struct PresenceQuery {
    users: Option<String>,
}

pub async fn presence(
    State(s): State<AppState>,
    _caller: Caller,
    ApiQuery(q): ApiQuery<PresenceQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let users = q
        .users
        .unwrap_or_default()
        .split(',')
        .filter(|u| !u.is_empty())
        .map(|u| chat_domain::UserId::parse_field("users", u))
        .collect::<Result<Vec<_>, _>>()?;
    let presence = s.service.presence_of(&users).await?;
    Ok(Json(serde_json::json!({ "presence": presence })))
}
