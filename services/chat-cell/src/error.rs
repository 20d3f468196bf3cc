//! What can go wrong while a cell starts, runs and is signalled.

use std::path::PathBuf;

/// A cell's error.
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// Something a cell needs is not on this machine: a skip locally, a
    /// failure under CI. The text says what, and what installs it.
    #[error("{0}")]
    Missing(String),
    /// A part did not come up (or exited while starting).
    #[error("{part} {what}; see {}", log.display())]
    Start {
        part: String,
        what: String,
        log: PathBuf,
    },
    /// A signal could not be sent.
    #[error("{0}")]
    Signal(String),
    /// The system refused a file, a socket or a process.
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, CellError>;

/// Wraps an I/O error with what was being done.
pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> CellError {
    let what = what.into();
    move |source| CellError::Io { what, source }
}
