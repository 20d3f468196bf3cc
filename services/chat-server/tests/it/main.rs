//! Integration tests: servers start in-process on 127.0.0.1:0 (the crash
//! test runs the `chatctl` binary as a child process) and are spoken to over
//! real HTTP and WebSocket.
//!
//! The tests of the distributed deployment (`cluster`, `distributed`,
//! `distributed_media`) are built only with the cargo features of the
//! engines they use (the default features have them all); a build without
//! them runs the rest, on the embedded engines.

mod attachments;
mod bad_fields;
mod bad_input;
mod baseline;
mod client_limits;
mod cluster;
mod crash;
mod delivery;
mod distributed;
mod distributed_media;
mod edits;
mod harness;
mod http_api;
mod http_limits;
mod limits;
mod membership;
mod otel;
mod presence;
mod privacy;
mod push;
mod reactions;
mod receipts;
mod replies;
mod retention;
mod search;
mod secrets;
mod ws_protocol;
