//! `GET /v1/search`.

use super::ApiQuery;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::service::SearchRequest;
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use chat_domain::ConversationId;
use serde::Deserialize;

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// The words every result has.
    #[serde(default)]
    q: String,
    /// Only this conversation.
    conv: Option<String>,
    /// At most this many (default 20, at most 100).
    #[param(value_type = Option<u64>)]
    limit: Option<String>,
    /// The `next_cursor` of the page before.
    cursor: Option<String>,
}

#[utoipa::path(
    get,
    path = "/v1/search",
    tag = "search",
    params(SearchQuery),
    responses((status = 200, description = "Results, most relevant first", body = crate::service::SearchPage), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn search(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = super::number::optional("limit", q.limit)?;
    let conv = q.conv.map(ConversationId::parse).transpose()?;
    let page = s
        .service
        .search(
            &caller.user,
            SearchRequest {
                q: q.q,
                conv,
                limit,
                cursor: q.cursor,
            },
        )
        .await?;
    Ok(Json(page))
}
