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

/// `GET /v1/conversations`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ConversationList {
    conversations: Vec<crate::service::ConversationListItem>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct CreateBody {
    #[schema(value_type = chat_domain::ConversationKind)]
    kind: String,
    #[serde(default)]
    title: Option<String>,
    /// The other members (a direct conversation names one).
    #[serde(default)]
    #[schema(value_type = Vec<chat_domain::UserId>)]
    members: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/v1/conversations",
    tag = "conversations",
    request_body = CreateBody,
    responses((status = 201, description = "Created", body = chat_domain::Conversation), (status = 200, description = "The direct conversation with that user, created before", body = chat_domain::Conversation), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    get,
    path = "/v1/conversations",
    tag = "conversations",
    responses((status = 200, description = "The caller's conversations, most recent activity first", body = ConversationList), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn list(
    State(s): State<AppState>,
    caller: Caller,
) -> Result<impl IntoResponse, ApiError> {
    let conversations = s.service.list_conversations(&caller.user).await?;
    Ok(Json(ConversationList { conversations }))
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}",
    tag = "conversations",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)")),
    responses((status = 200, description = "The conversation", body = chat_domain::Conversation), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn get_one(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId::parse(id)?;
    let state = s.service.membership(&id, &caller.user).await?;
    Ok(Json(state.to_view()))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct AddBody {
    #[schema(value_type = Vec<chat_domain::UserId>)]
    add: Vec<String>,
}

#[utoipa::path(
    post,
    path = "/v1/conversations/{id}/members",
    tag = "conversations",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)")),
    request_body = AddBody,
    responses((status = 200, description = "The conversation as the change left it", body = chat_domain::Conversation), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
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

#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}/members/{user}",
    tag = "conversations",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)"), ("user" = String, Path, description = "The member who leaves or is removed")),
    responses((status = 200, description = "The conversation as the change left it", body = chat_domain::Conversation), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
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
