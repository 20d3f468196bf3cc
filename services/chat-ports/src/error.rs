//! The error every port returns.

/// Why a port call failed.
#[derive(Debug, thiserror::Error)]
pub enum PortError {
    /// The engine cannot take more work now; the caller should refuse new
    /// sends with `overloaded` rather than queue without bound.
    #[error("the {0} is overloaded")]
    Overloaded(&'static str),
    /// The engine is unreachable or shut down.
    #[error("the {what} is unavailable: {detail}")]
    Unavailable { what: &'static str, detail: String },
    /// The engine failed an operation.
    #[error("the {what} failed: {detail}")]
    Storage { what: &'static str, detail: String },
    /// Stored bytes do not decode.
    #[error("corrupt data in the {what}: {detail}")]
    Corrupt { what: &'static str, detail: String },
    /// The engine refuses this value and will refuse it again, however
    /// often it is written (a text it cannot hold, a number out of its
    /// range): the one failure a processor sets the record aside for. Every
    /// other failure is retried.
    #[error("the {what} refuses the value: {detail}")]
    Refused { what: &'static str, detail: String },
}

impl PortError {
    pub fn storage(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Storage {
            what,
            detail: e.to_string(),
        }
    }

    pub fn corrupt(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Corrupt {
            what,
            detail: e.to_string(),
        }
    }

    pub fn refused(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Refused {
            what,
            detail: e.to_string(),
        }
    }

    pub fn unavailable(what: &'static str, e: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            what,
            detail: e.to_string(),
        }
    }
}

pub type Result<T, E = PortError> = std::result::Result<T, E>;
