//! Message, history and receipt routes.

use super::{number, ApiJson, ApiPath, ApiQuery};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::service::Outgoing;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use chat_domain::{ConversationId, DomainError, ReceiptKind};
use serde::Deserialize;

/// `GET /v1/conversations/{id}/receipts`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ReceiptList {
    members: Vec<chat_domain::MemberReceipts>,
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SendBody {
    #[schema(value_type = chat_domain::ConversationId)]
    conv: String,
    #[schema(value_type = chat_domain::ClientMsgId)]
    client_msg_id: String,
    body: String,
    #[serde(default)]
    attachments: Vec<String>,
    #[serde(default, deserialize_with = "chat_domain::numbers::optional_int64")]
    reply_to: Option<u64>,
}

#[utoipa::path(
    post,
    path = "/v1/messages",
    tag = "messages",
    request_body = SendBody,
    responses((status = 200, description = "Durable in the log", body = crate::service::SentAck), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn send(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<SendBody>,
) -> Result<impl IntoResponse, ApiError> {
    let out = Outgoing::parse(b.conv, b.client_msg_id, b.body, b.attachments)
        .inspect_err(|e| s.service.refused_send(e))?
        .replying(b.reply_to);
    let ack = s.service.send(&caller.user, &caller.device, out).await?;
    Ok(Json(ack))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Messages above this seq, oldest first.
    #[param(value_type = Option<u64>)]
    after: Option<String>,
    /// Messages below this seq, newest first (the default: the latest).
    #[param(value_type = Option<u64>)]
    before: Option<String>,
    /// At most this many (default 50, at most 500).
    #[param(value_type = Option<u64>)]
    limit: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/messages",
    tag = "messages",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)"), HistoryQuery),
    responses((status = 200, description = "A page of history", body = crate::service::HistoryPage), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn history(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId::parse(id)?;
    let after = number::optional("after", q.after)?;
    let before = number::optional("before", q.before)?;
    let limit = number::optional("limit", q.limit)?;
    let page = s
        .service
        .history(&caller.user, &id, after, before, limit)
        .await?;
    Ok(Json(page))
}

#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}/messages/{seq}",
    tag = "messages",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)"), ("seq" = u64, Path, description = "A message seq")),
    responses((status = 204, description = "Deleted"), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn delete(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, seq)): ApiPath<(String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    let seq: u64 = number::parse("seq", &seq)?;
    let id = ConversationId::parse(id)?;
    s.service.delete_message(&caller.user, &id, seq).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct EditBody {
    body: String,
}

/// `PATCH /v1/conversations/{id}/messages/{seq}`: the message as edited.
#[utoipa::path(
    patch,
    path = "/v1/conversations/{id}/messages/{seq}",
    tag = "messages",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)"), ("seq" = u64, Path, description = "A message seq")),
    request_body = EditBody,
    responses((status = 200, description = "The message as edited", body = chat_domain::Message), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn edit(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath((id, seq)): ApiPath<(String, String)>,
    ApiJson(b): ApiJson<EditBody>,
) -> Result<impl IntoResponse, ApiError> {
    let seq: u64 = number::parse("seq", &seq)?;
    let id = ConversationId::parse(id)?;
    let message = s
        .service
        .edit_message(&caller.user, &id, seq, b.body)
        .await?;
    Ok(Json(message))
}

/// `PUT` (on) and `DELETE` (off) on
/// `/v1/conversations/{id}/messages/{seq}/reactions/{emoji}`: 204 either way.
async fn react(
    s: AppState,
    caller: Caller,
    (id, seq, emoji): (String, String, String),
    on: bool,
) -> Result<StatusCode, ApiError> {
    let seq: u64 = number::parse("seq", &seq)?;
    let id = ConversationId::parse(id)?;
    s.service.react(&caller.user, &id, seq, &emoji, on).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    put,
    path = "/v1/conversations/{id}/messages/{seq}/reactions/{emoji}",
    tag = "messages",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)"), ("seq" = u64, Path, description = "A message seq"), ("emoji" = String, Path, description = "The emoji, percent-encoded")),
    responses((status = 204, description = "The caller reacts with the emoji"), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn react_on(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    react(s, caller, path, true).await
}

#[utoipa::path(
    delete,
    path = "/v1/conversations/{id}/messages/{seq}/reactions/{emoji}",
    tag = "messages",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)"), ("seq" = u64, Path, description = "A message seq"), ("emoji" = String, Path, description = "The emoji, percent-encoded")),
    responses((status = 204, description = "The caller's reaction is taken back"), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn react_off(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(path): ApiPath<(String, String, String)>,
) -> Result<impl IntoResponse, ApiError> {
    react(s, caller, path, false).await
}

#[utoipa::path(
    get,
    path = "/v1/conversations/{id}/receipts",
    tag = "receipts",
    params(("id" = String, Path, description = "A conversation id (d-… or g-…)")),
    responses((status = 200, description = "Every member's watermarks", body = ReceiptList), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn receipts(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    let id = ConversationId::parse(id)?;
    let members = s.service.receipts_of(&caller.user, &id).await?;
    Ok(Json(ReceiptList { members }))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct ReceiptBody {
    conv: String,
    #[serde(deserialize_with = "chat_domain::numbers::int64")]
    seq: u64,
    #[serde(rename = "type")]
    #[schema(value_type = chat_domain::ReceiptKind)]
    kind: String,
}

#[utoipa::path(
    post,
    path = "/v1/receipts",
    tag = "receipts",
    request_body = ReceiptBody,
    responses((status = 204, description = "The watermark moved, or already stood there"), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn receipt(
    State(s): State<AppState>,
    caller: Caller,
    ApiJson(b): ApiJson<ReceiptBody>,
) -> Result<impl IntoResponse, ApiError> {
    let kind = ReceiptKind::parse(&b.kind)
        .ok_or_else(|| DomainError::bad_request("type is delivered or read"))?;
    s.service.rates.receipt_now(&caller.user, &caller.device)?;
    s.service
        .receipt(
            &caller.user,
            &caller.device,
            &ConversationId::parse(b.conv)?,
            b.seq,
            kind,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
