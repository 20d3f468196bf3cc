//! Operator tools: `replay` rebuilds a store from the log, `tail` prints a
//! topic's records as JSON lines, `baseline` measures the bare rate of each
//! shared engine.

pub mod baseline;
mod replay;
mod tail;

pub use replay::{replay, ReplayReport};
pub use tail::tail;
