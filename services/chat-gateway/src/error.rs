//! Protocol errors as HTTP responses: `{"error":{"code","message"}}` with
//! the code's status.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chat_domain::{DomainError, ErrorCode};
use chat_ports::PortError;

/// A handler's error.
#[derive(Debug)]
pub struct ApiError(pub DomainError);

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut error = serde_json::json!({
            "code": self.0.code,
            "message": self.0.message,
        });
        if let Some(ms) = self.0.retry_after_ms {
            error["retry_after_ms"] = ms.into();
        }
        let mut response = (status, Json(serde_json::json!({ "error": error }))).into_response();
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
