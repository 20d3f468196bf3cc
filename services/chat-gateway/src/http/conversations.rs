//! `/v1/conversations` routes.

use super::{ApiJson, ApiPath};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chat_domain::{ConversationId, ConversationKind, DomainError, UserId};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct CreateBody {
    kind: String,
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    members: Vec<String>,
}

pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<impl IntoResponse, ApiError> {
    let kind = ConversationKind::parse(&body.kind)
        .ok_or_else(|| DomainError::bad_request("kind is direct or group"))?;
    let (state, new) = s
        .service
        .create_conversation(
            &caller.user,
            kind,
            body.title,
            users("members", body.members)?,
        )
        .await?;
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(state.to_view())))
}

pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let conversations = s.service.list_conversations(&caller.user).await?;
    Ok(Json(serde_json::json!({ "conversations": conversations })))
}

pub async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId::parse(id)?;
    let state = s.service.membership(&id, &caller.user).await?;
    Ok(Json(state.to_view()))
}

#[derive(Deserialize)]
pub struct AddBody {
    add: Vec<String>,
}

pub async fn add(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<AddBody>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId::parse(id)?;
    let add = users("add", body.add)?;
    let state = s.service.add_members(&caller.user, &id, add).await?;
    Ok(Json(state.to_view()))
}

pub async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, user)): ApiPath<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId::parse(id)?;
    let user = UserId::parse(user)?;
    let state = s.service.remove_member(&caller.user, &id, user).await?;
    Ok(Json(state.to_view()))
}

/// The user ids of a request body, checked, naming `field` in the error.
fn users(field: &str, ids: Vec<String>) -> Result<Vec<UserId>, DomainError> {
    ids.into_iter()
        .map(|u| UserId::parse_field(field, u))
        .collect()
}
