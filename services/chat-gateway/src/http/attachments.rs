//! Attachment routes: upload tickets, download redirects, and (extension)
//! what a client may know about an attachment.

use super::{ApiJson, ApiPath};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::service::Variant;
use crate::AppState;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use serde::Deserialize;

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewAttachment {
    content_type: String,
    #[serde(deserialize_with = "chat_domain::numbers::int64")]
    size: u64,
}

/// `POST /v1/attachments`.
#[utoipa::path(
    post,
    path = "/v1/attachments",
    tag = "attachments",
    request_body = NewAttachment,
    responses((status = 200, description = "Where to PUT the bytes, until when", body = crate::service::UploadTicket), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn create(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiJson(b): ApiJson<NewAttachment>,
) -> Result<impl IntoResponse, ApiError> {
    let mut ticket = s
        .service
        .create_attachment(&caller.user, &b.content_type, b.size)
        .await?;
    ticket.upload_url = absolute(&headers, ticket.upload_url);
    Ok(Json(ticket))
}

/// `GET /v1/attachments/{id}`: a redirect to a signed download URL.
#[utoipa::path(
    get,
    path = "/v1/attachments/{id}",
    tag = "attachments",
    params(("id" = String, Path, description = "An attachment id")),
    responses((status = 302, description = "To a signed, expiring download URL", headers(("location" = String, description = "The URL"))), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn download(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    redirect(&s, &caller, &headers, &id, Variant::Original).await
}

/// `GET /v1/attachments/{id}/thumbnail`: a redirect to the thumbnail.
#[utoipa::path(
    get,
    path = "/v1/attachments/{id}/thumbnail",
    tag = "attachments",
    params(("id" = String, Path, description = "An attachment id")),
    responses((status = 302, description = "To a signed, expiring URL of the thumbnail", headers(("location" = String, description = "The URL"))), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn thumbnail(
    State(s): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    redirect(&s, &caller, &headers, &id, Variant::Thumbnail).await
}

/// `GET /v1/attachments/{id}/info`.
#[utoipa::path(
    get,
    path = "/v1/attachments/{id}/info",
    tag = "attachments",
    params(("id" = String, Path, description = "An attachment id")),
    responses((status = 200, description = "What the caller may know of it", body = crate::service::AttachmentInfo), crate::http::openapi::Errors),
    security(("bearer" = []))
)]
pub async fn info(
    State(s): State<AppState>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
) -> Result<impl IntoResponse, ApiError> {
    Ok(Json(s.service.attachment_info(&caller.user, &id).await?))
}

async fn redirect(
    s: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    id: &str,
    variant: Variant,
) -> Result<axum::response::Response, ApiError> {
    let url = s.service.attachment_url(&caller.user, id, variant).await?;
    let url = absolute(headers, url);
    Ok((
        StatusCode::FOUND,
        [
            (header::LOCATION, url),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
    )
        .into_response())
}

/// Resolves a URL the local blob engine signed without a configured base
/// (`/v1/blobs/…`) against the host the client reached.
fn absolute(headers: &HeaderMap, url: String) -> String {
    if !url.starts_with('/') {
        return url;
    }
    match headers.get(header::HOST).and_then(|h| h.to_str().ok()) {
        Some(host) => format!("http://{host}{url}"),
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::absolute;
    use axum::http::{header, HeaderMap};

    #[test]
    fn relative_urls_get_the_request_host() {
        let mut h = HeaderMap::new();
        assert_eq!(absolute(&h, "/v1/blobs/x".into()), "/v1/blobs/x");
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(
            absolute(&h, "/v1/blobs/x".into()),
            "http://127.0.0.1:8080/v1/blobs/x"
        );
        assert_eq!(absolute(&h, "https://s3/x".into()), "https://s3/x");
    }
}
