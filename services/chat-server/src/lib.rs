//! The service as one process: configuration, the wiring of engines,
//! processors and gateway ([`node`]), used by the `chatctl` binary and by
//! the integration tests.
//!
//! # Layout
//! - [`config`]: defaults, TOML file, `CHAT__…` environment variables.
//! - [`engines`]: opens the engine of each port from its URL.
//! - [`tools`]: `replay`, `tail` and `baseline`.
//! - [`telemetry`]: logs, and OpenTelemetry export of spans.
//! - [`node`]: starts the roles of this process (gateway, processors,
//!   retention) and stops them.
//! - [`serve`]: the HTTP server, with its timeouts and connection cap.

pub mod config;
pub mod engines;
pub mod node;
pub mod secrets;
pub mod serve;
pub mod telemetry;
pub mod tools;

pub use config::Config;
pub use node::{Node, ProcessorKind, Roles};
