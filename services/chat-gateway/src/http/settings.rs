//! Push and privacy settings routes (extensions of PROTOCOL.md).

use super::{ApiJson, ApiPath};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::service::PrivacyChange;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chat_domain::privacy::Audience;
use chat_domain::DomainError;
use serde::Deserialize;

/// `GET /v1/push/settings` → `{"previews":bool,"muted":[conv...]}`.
#[utoipa::path(
    get,
    path = "/v1/push/settings",
    tag = "settings",
    responses((status = 200, description = "The caller's push settings", body = chat_ports::PushSettings), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn get(State(s): State<AppState>, caller: Caller) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(s.service.push_settings(&caller.user).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Previews {
    previews: bool,
}

/// `PUT /v1/push/settings {"previews":bool}` → 204.
#[utoipa::path(
    put,
    path = "/v1/push/settings",
    tag = "settings",
    request_body = Previews,
    responses((status = 204, description = "Changed"), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn put(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<Previews>,
) -> Result<impl IntoResponse, ApiError> {
    s.service.set_previews(&caller.user, b.previews).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Mute {
    muted: bool,
}

/// `PUT /v1/conversations/{id}/mute {"muted":bool}` → 204.
#[utoipa::path(
    put,
    path = "/v1/conversations/{id}/mute",
    tag = "settings",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)")),
    request_body = Mute,
    responses((status = 204, description = "Changed"), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn mute(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(b): ApiJson<Mute>,
) -> Result<impl IntoResponse, ApiError> {
    let id = chat_domain::ConversationId::parse(id)?;
    s.service.set_muted(&caller.user, &id, b.muted).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Privacy {
    presence: Option<String>,
    group_adds: Option<String>,
}

/// One named setting's value, or 400 naming the field.
fn audience(field: &str, value: Option<String>) -> Result<Option<Audience>, ApiError> {
    value
        .map(|v| {
            Audience::parse(&v).ok_or_else(|| {
                DomainError::bad_request(format!(
                    "{field} is \"everyone\", \"contacts\" or \"nobody\""
                ))
                .into()
            })
        })
        .transpose()
}

/// `GET /v1/privacy` → `{"presence","group_adds"}`.
#[utoipa::path(
    get,
    path = "/v1/privacy",
    tag = "settings",
    responses((status = 200, description = "The caller's privacy settings", body = chat_domain::privacy::PrivacySettings), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn get_privacy(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(s.service.privacy(&caller.user).await?))
}

/// `PUT /v1/privacy {"presence"?, "group_adds"?}` → the settings as they
/// are now.
#[utoipa::path(
    put,
    path = "/v1/privacy",
    tag = "settings",
    request_body = Privacy,
    responses((status = 200, description = "The settings as they are now", body = chat_domain::privacy::PrivacySettings), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn put_privacy(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<Privacy>,
) -> Result<impl IntoResponse, ApiError> {
    let change = PrivacyChange {
        presence: audience("presence", b.presence)?,
        group_adds: audience("group_adds", b.group_adds)?,
    };
    Ok(Json(s.service.change_privacy(&caller.user, change).await?))
}
