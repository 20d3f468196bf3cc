//! Protocol errors as HTTP responses: `{"error":{"code","message"}}` with
//! the code's status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_domain::{DomainError, ErrorCode};
use chat_ports::PortError;
use serde::Serialize;

/// A handler's error.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a code of PROTOCOL.md and a message for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    pub message: String,
    /// With `rate_limited`: when to try again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.0.code,
                message: self.0.message,
                retry_after_ms: self.0.retry_after_ms,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(ms) = self.0.retry_after_ms {
            let secs = ms.div_ceil(1000).max(1).to_string();
            if let Ok(v) = secs.parse() {
                response.headers_mut().insert("retry-after", v);
            }
        }
        response
    }
}

/// Maps a port failure to what the client is told: overload and
/// unavailability become `overloaded` (retry later), the rest `internal`.
pub fn from_port(e: PortError) -> DomainError {
    match e {
        PortError::Overloaded(what) => DomainError::new(
            ErrorCode::Overloaded,
            format!("the {what} is overloaded; retry later"),
        ),
        PortError::Unavailable { what, .. } => DomainError::new(
            ErrorCode::Overloaded,
            format!("the {what} is unavailable; retry later"),
        ),
        PortError::Refused { what, detail } => {
            DomainError::bad_request(format!("the {what} cannot hold this value: {detail}"))
        }
        other @ (PortError::Storage { .. } | PortError::Corrupt { .. }) => {
            tracing::error!(error = %other, "A storage operation failed.");
            DomainError::internal("internal error")
        }
    }
}
