//! `GET /v1/search`.

use super::ApiQuery;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::service::SearchRequest;
use crate::AppState;
use axum::extract::State;
use axum::response::IntoResponse;
use axum::Json;
use chat_domain::{ConversationId, DomainError};
use serde::Deserialize;

#[derive(Deserialize)]
pub struct SearchQuery {
    #[serde(default)]
    q: String,
    conv: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

pub async fn search(
    State(s): State<AppState>,
    caller: Caller,
    ApiQuery(q): ApiQuery<SearchQuery>,
) -> Result<impl IntoResponse, ApiError> {
    let limit = q
        .limit
        .map(|l| {
            l.parse()
                .map_err(|_| DomainError::bad_request("limit must be a non-negative integer"))
        })
        .transpose()?;
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
