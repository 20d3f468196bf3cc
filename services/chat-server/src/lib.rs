//! The service as one process: configuration, the wiring of engines,
//! processors and gateway ([`node`]), used by the `chatctl` binary and by
//! the integration tests.
//!
//! # Layout
//! - [`config`]: defaults, TOML file, `CHAT__…` environment variables.
//! - [`node`]: starts every part on the embedded engines and stops them.

pub mod config;
pub mod node;

pub use config::Config;
pub use node::Node;
