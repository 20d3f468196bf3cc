//! PostgreSQL and pool errors as [`PortError`]s: a lost or refused
//! connection, or a session limit reached (a statement, lock or idle
//! transaction that took too long), is `Unavailable`, anything else
//! `Storage`.

use chat_ports::PortError;
use deadpool_postgres::PoolError;
use std::error::Error;

/// The error and its causes, joined with ": " (tokio-postgres only says
/// "db error" at the top; the server's message is the cause).
pub(crate) fn describe(e: &dyn Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// Whether the error means the connection, or the server, is gone.
fn is_connection(e: &tokio_postgres::Error) -> bool {
    if e.is_closed() {
        return true;
    }
    if let Some(code) = e.code() {
        let code = code.code();
        // 08: connection exception; 57P01..03: the server is shutting down
        // or starting; 53300: too many connections; 57014: the statement
        // ran past statement_timeout; 55P03: a lock waited past
        // lock_timeout; 25P03: the session idled in its transaction past
        // idle_in_transaction_session_timeout; 40001, 40P01: a
        // serialization failure or a deadlock, which the server resolved
        // by aborting this transaction. All pass: retried.
        return code.starts_with("08")
            || code.starts_with("57P")
            || matches!(
                code,
                "53300" | "57014" | "55P03" | "25P03" | "40001" | "40P01"
            );
    }
    e.source().is_some_and(|s| s.is::<std::io::Error>())
}

/// A failed statement.
pub(crate) fn db(e: tokio_postgres::Error) -> PortError {
    if is_connection(&e) {
        PortError::unavailable("store", describe(&e))
    } else if e.code().is_some_and(|c| c.code().starts_with("22")) {
        // Class 22, data exception (a NUL in text, a value too long or out
        // of range): this value is refused, and always will be.
        PortError::refused("store", describe(&e))
    } else {
        PortError::storage("store", describe(&e))
    }
}

/// No connection from the pool: it could not connect, or timed out.
pub(crate) fn pool(e: PoolError) -> PortError {
    PortError::unavailable("store", describe(&e))
}

/// A stored value that does not decode.
pub(crate) fn corrupt(e: impl std::fmt::Display) -> PortError {
    PortError::corrupt("store", e)
}
