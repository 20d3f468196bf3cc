//! The local blob engine's signed URLs, served by the gateway itself:
//! `PUT /v1/blobs/{key}` stores an upload, `GET /v1/blobs/{key}` serves it.
//! Neither takes a token: the signature in the query is the permission.
//! With an object store (S3) these routes answer 404 and clients talk to
//! the store directly.

use crate::error::{from_port, ApiError};
use crate::AppState;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use chat_blobs::local::{Grant, SignedQuery, UrlError, WriteError};
use chat_domain::{DomainError, ErrorCode};

/// The routes, without the body limit of the API routes (uploads are
/// limited by their signed size instead).
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/blobs/{key}", get(download).put(upload))
}

fn refused(e: UrlError) -> ApiError {
    DomainError::new(ErrorCode::Forbidden, e.to_string()).into()
}

fn no_local_engine() -> ApiError {
    DomainError::new(ErrorCode::NotFound, "blobs are not served here").into()
}

async fn upload(
    State(s): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<SignedQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let local = s.local_blobs.as_ref().ok_or_else(no_local_engine)?;
    let now = chat_domain::time::now_ms();
    let Grant::Put {
        max_size,
        content_type,
    } = local.verify(&key, &q, now).map_err(refused)?
    else {
        return Err(refused(UrlError::Malformed(
            "this URL is for another method",
        )));
    };
    let too_large = || -> ApiError {
        DomainError::new(
            ErrorCode::TooLarge,
            format!("this upload URL takes at most {max_size} bytes"),
        )
        .into()
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max_size) {
        return Err(too_large());
    }
    let record = s
        .service
        .stores
        .attachments
        .attachment(&key)
        .await
        .map_err(from_port)?;
    if record.as_ref().is_some_and(|r| r.uploaded_size.is_some()) {
        return Err(DomainError::new(
            ErrorCode::Forbidden,
            "this attachment is already uploaded; its bytes do not change",
        )
        .into());
    }
    let written = local
        .upload_stream(&key, &content_type, max_size, body.into_data_stream())
        .await
        .map_err(|e| match e {
            WriteError::TooLarge { .. } => too_large(),
            // Another upload to this URL completed first (the check above
            // passed for both): its bytes stay.
            WriteError::Exists => ApiError(DomainError::new(
                ErrorCode::Forbidden,
                "this attachment is already uploaded; its bytes do not change",
            )),
            // The server's own failure: no detail of its disk goes out.
            WriteError::Storage(e) => {
                tracing::warn!(error = %e, "An upload could not be stored.");
                ApiError(DomainError::internal("the upload could not be stored"))
            }
            other @ (WriteError::Key(_) | WriteError::ContentType(_) | WriteError::Body(_)) => {
                tracing::warn!(error = %other, "An upload was refused.");
                ApiError(DomainError::new(
                    ErrorCode::BadRequest,
                    format!("the upload failed: {other}"),
                ))
            }
        })?;
    if record.is_some() {
        s.service
            .stores
            .attachments
            .set_uploaded(&key, written)
            .await
            .map_err(from_port)?;
    }
    Ok(StatusCode::OK.into_response())
}

async fn download(
    State(s): State<AppState>,
    Path(key): Path<String>,
    Query(q): Query<SignedQuery>,
) -> Result<Response, ApiError> {
    let local = s.local_blobs.as_ref().ok_or_else(no_local_engine)?;
    let now = chat_domain::time::now_ms();
    if !matches!(local.verify(&key, &q, now).map_err(refused)?, Grant::Get) {
        return Err(refused(UrlError::Malformed(
            "this URL is for another method",
        )));
    }
    let (file, len, content_type) = local
        .open_read(&key)
        .await
        .map_err(from_port)?
        .ok_or_else(|| ApiError(DomainError::new(ErrorCode::NotFound, "no such blob")))?;
    // Uploaded bytes are served from the API's own origin: never let a
    // browser run them as a page of that origin.
    let inline = ["image/", "video/", "audio/"]
        .iter()
        .any(|p| content_type.starts_with(p));
    let disposition = if inline { "inline" } else { "attachment" };
    let body = Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::CONTENT_DISPOSITION, disposition.to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_string()),
            (header::CACHE_CONTROL, "private, max-age=3600".to_string()),
        ],
        body,
    )
        .into_response())
}
