//! A distributed cell on loopback: the store (one Apache Cassandra node or
//! one PostgreSQL server), one Apache Kafka broker, one redis-server, and
//! any number of `chatctl gateway` and `chatctl processor` processes, each
//! in a process group the cell owns (dropping the cell kills them all).
//! The fault harness (`chat-faults`) kills, pauses and cuts its parts; the
//! load generator (`chat-load --cell`) measures it.
//!
//! - `tools`: finding chatctl, redis-server, the Kafka and Cassandra
//!   classpaths, PostgreSQL's binaries.
//! - `store`: the store's process, URL and readiness.
//! - `cell`: starting and restarting the parts (`CellSpec`, `Cell`).
//! - `links`: whether proxied processors really go through their proxies.
//! - `process` (a managed process group), `proxy` (a controllable TCP
//!   proxy), `wait` (readiness polling), `error`.

mod cell;
mod error;
mod links;
pub mod process;
pub mod proxy;
mod store;
mod tools;
mod wait;

pub use cell::{unthrottled, Cell, CellSpec, Node};
pub use error::{CellError, Result};
pub use store::StoreKind;
pub use tools::Tools;
