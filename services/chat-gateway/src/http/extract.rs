//! A JSON body extractor whose rejections are protocol errors.

use crate::error::ApiError;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use chat_domain::{DomainError, ErrorCode};
use serde::de::DeserializeOwned;

/// Like `axum::Json`, but a bad body is `bad_request` and an oversized one
/// `too_large`, in the protocol's error body.
pub struct ApiJson<T>(pub T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => {
                let code = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ErrorCode::TooLarge
                } else {
                    ErrorCode::BadRequest
                };
                Err(DomainError::new(code, rejection.body_text()).into())
            }
        }
    }
}
