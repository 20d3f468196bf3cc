//! Integration tests: servers start in-process on 127.0.0.1:0 (the crash
//! test runs the `chatctl` binary as a child process) and are spoken to over
//! real HTTP and WebSocket.

mod attachments;
mod bad_input;
mod cluster;
mod crash;
mod delivery;
mod distributed;
mod distributed_media;
mod harness;
mod http_api;
mod limits;
mod membership;
mod otel;
mod presence;
mod push;
mod receipts;
mod retention;
