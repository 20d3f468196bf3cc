//! Driver errors as [`PortError`]s: a node that cannot be reached, a
//! timeout or an overloaded or unavailable replica set is `Unavailable`
//! (transient: the caller retries); anything else is `Storage`.

use chat_ports::PortError;
use scylla::errors::{DbError, ExecutionError, RequestAttemptError};

/// Whether the error is transient. (The driver's error enums: what is not
/// named transient here is not, whatever a new driver version adds.)
#[allow(clippy::wildcard_enum_match_arm)]
fn is_transient(e: &ExecutionError) -> bool {
    match e {
        ExecutionError::EmptyPlan
        | ExecutionError::ConnectionPoolError(_)
        | ExecutionError::RequestTimeout(_)
        | ExecutionError::SchemaAgreementError(_)
        | ExecutionError::MetadataError(_) => true,
        ExecutionError::LastAttemptError(a) => match a {
            RequestAttemptError::BrokenConnectionError(_)
            | RequestAttemptError::UnableToAllocStreamId => true,
            RequestAttemptError::DbError(db, _) => matches!(
                db,
                DbError::Unavailable { .. }
                    | DbError::Overloaded
                    | DbError::IsBootstrapping
                    | DbError::ReadTimeout { .. }
                    | DbError::WriteTimeout { .. }
                    | DbError::TruncateError
                    | DbError::RateLimitReached { .. }
            ),
            _ => false,
        },
        _ => false,
    }
}

/// A failed request.
pub(crate) fn exec(e: ExecutionError) -> PortError {
    if is_transient(&e) {
        PortError::unavailable("store", e)
    } else if is_invalid_value(&e) {
        PortError::refused("store", e)
    } else {
        PortError::storage("store", e)
    }
}

/// Whether the node refused the request as invalid (a mutation too large,
/// a value out of its type): it would refuse it again.
fn is_invalid_value(e: &ExecutionError) -> bool {
    matches!(
        e,
        ExecutionError::LastAttemptError(RequestAttemptError::DbError(DbError::Invalid, _))
    )
}

/// A stored value that does not decode.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> PortError {
    PortError::corrupt("store", e)
}

/// A value this engine refuses to write, and always will.
pub(crate) fn refuse(detail: impl std::fmt::Display) -> PortError {
    PortError::refused("store", detail)
}
