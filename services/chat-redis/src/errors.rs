//! How Redis client errors become port errors.

use chat_ports::PortError;
use redis::RedisError;

/// Whether the error means the connection is unusable (refused, dropped,
/// timed out, or out of step) rather than that Redis refused a command.
pub(crate) fn is_connection_error(e: &RedisError) -> bool {
    e.is_io_error()
        || e.is_connection_dropped()
        || e.is_connection_refusal()
        || e.is_timeout()
        || e.is_unrecoverable_error()
}

/// `Unavailable` for connection problems, `Storage` for refused commands.
pub(crate) fn port_error(what: &'static str, e: RedisError) -> PortError {
    if is_connection_error(&e) {
        PortError::unavailable(what, e)
    } else {
        PortError::storage(what, e)
    }
}
