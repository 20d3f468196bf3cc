//! Protocol error codes and the domain error that carries one.

use serde::{Deserialize, Serialize};

/// The error codes of PROTOCOL.md, each with its HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    Unauthorized,
    Forbidden,
    NotMember,
    UnknownConversation,
    NotFound,
    BadRequest,
    TooLarge,
    GroupFull,
    /// v1.1: an edit of a deleted message, past the edit window, or of a
    /// message without text.
    NotEditable,
    RateLimited,
    Overloaded,
    Internal,
}

impl ErrorCode {
    /// The wire name of the code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthorized => "unauthorized",
            Self::Forbidden => "forbidden",
            Self::NotMember => "not_member",
            Self::UnknownConversation => "unknown_conversation",
            Self::NotFound => "not_found",
            Self::BadRequest => "bad_request",
            Self::TooLarge => "too_large",
            Self::GroupFull => "group_full",
            Self::NotEditable => "not_editable",
            Self::RateLimited => "rate_limited",
            Self::Overloaded => "overloaded",
            Self::Internal => "internal",
        }
    }

    /// Every code.
    pub const ALL: [ErrorCode; 12] = [
        Self::Unauthorized,
        Self::Forbidden,
        Self::NotMember,
        Self::UnknownConversation,
        Self::NotFound,
        Self::BadRequest,
        Self::TooLarge,
        Self::GroupFull,
        Self::NotEditable,
        Self::RateLimited,
        Self::Overloaded,
        Self::Internal,
    ];

    /// The code of a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The HTTP status that PROTOCOL.md gives the code.
    pub fn http_status(self) -> u16 {
        match self {
            Self::Unauthorized => 401,
            Self::Forbidden | Self::NotMember => 403,
            Self::UnknownConversation | Self::NotFound => 404,
            Self::BadRequest => 400,
            Self::TooLarge => 413,
            Self::GroupFull | Self::NotEditable => 422,
            Self::RateLimited => 429,
            Self::Overloaded => 503,
            Self::Internal => 500,
        }
    }
}

/// A refusal that the client is told about, with a code and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct DomainError {
    pub code: ErrorCode,
    pub message: String,
    /// Set for `rate_limited`: how long the client should wait.
    pub retry_after_ms: Option<u64>,
}

impl DomainError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            retry_after_ms: None,
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    pub fn not_member() -> Self {
        Self::new(
            ErrorCode::NotMember,
            "you are not a member of this conversation",
        )
    }

    pub fn unknown_conversation() -> Self {
        Self::new(ErrorCode::UnknownConversation, "no such conversation")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn rate_limited(retry_after_ms: u64) -> Self {
        Self {
            code: ErrorCode::RateLimited,
            message: "too many sends; slow down".into(),
            retry_after_ms: Some(retry_after_ms),
        }
    }
}
