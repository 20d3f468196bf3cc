//! The HTTP server: the router served over hyper's HTTP/1 (and its
//! WebSocket upgrades) with the limits a server open to hostile clients
//! needs (issue 15; settings in `[server]`). What each limit stops:
//!
//! - **The connection cap** (`max_connections`): a flood of connections
//!   using up the file descriptors, after which nothing, `/healthz`
//!   included, could be accepted and the engines could open no socket or
//!   file. Every connection holds a slot, a WebSocket for as long as it is
//!   open. With every slot taken the server stops accepting: further
//!   connections wait in the kernel's listen queue, costing the process no
//!   descriptor, and are accepted in order as slots free. The timeouts
//!   below are what frees slots held by clients that do nothing.
//! - **The header-read timeout** (`header_read_timeout_ms`): half-sent
//!   requests (slowloris) and connections that never send a byte. A
//!   request head must be whole within it, counted from the accept for a
//!   connection's first request and from the first byte of each later one;
//!   bytes trickled in do not restart it.
//! - **The idle timeout** (`http_idle_timeout_ms`): keep-alive connections
//!   parked between requests, and responses a client stops reading (a slow
//!   read keeps the response, its buffers and the slot). It counts while
//!   no byte moves either way and no handler runs; it ends with the
//!   upgrade of a WebSocket, which has its own (`gateway.idle_timeout_ms`).
//! - **The body timeout** (`body_timeout_ms`): request bodies that stop
//!   arriving while their handler waits for them. A body that delivers no
//!   byte for that long fails; the request is answered 408 and its
//!   connection closed. It is a gap between bytes, not a deadline for the
//!   whole body: a large upload over a slow link is not cut.
//!
//! Each connection closed by a limit, and each time the listener stops at
//! the cap, counts in `chat_shed_total` (kinds `http_header_timeout`,
//! `http_idle_timeout`, `http_body_timeout`, `http_connection_cap`).
//!
//! HTTP/1 only, as the gateway's axum features ask: hyper's own header
//! timer is off (it would also cut keep-alive connections waiting for
//! their next request); [`Clock`] keeps the phases of a connection instead.
//!
//! Files: `limits` (the settings and the default cap), `clock` (a
//! connection's phases and its watchdog), `service` (requests, bodies and
//! their timeout); here, the listener and its slots.

mod clock;
mod limits;
mod service;

pub use limits::{derived_max_connections, max_connections_for, HttpLimits};

use axum::Router;
use chat_telemetry::Metrics;
use hyper_util::rt::TokioIo;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use clock::*;
use service::*;

/// The HTTP server of a node: its limits and its connection slots.
pub struct HttpServer {
    limits: HttpLimits,
    slots: Arc<Semaphore>,
    open: Arc<AtomicUsize>,
    metrics: Arc<Metrics>,
}

impl HttpServer {
    pub fn new(limits: HttpLimits, metrics: Arc<Metrics>) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(limits.max_connections)),
            open: Arc::new(AtomicUsize::new(0)),
            limits,
            metrics,
        }
    }

    pub fn limits(&self) -> &HttpLimits {
        &self.limits
    }

    /// Connections held now, upgraded WebSockets included.
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }

    /// Serves `router` on `listener` until `shutdown` fires; then accepts no
    /// more, closes the connections between requests (a half-read head
    /// too), lets the others finish their request, and returns once every
    /// connection still in HTTP has closed (upgraded WebSockets end on
    /// their own).
    pub async fn run(
        self: Arc<Self>,
        listener: TcpListener,
        router: Router,
        shutdown: CancellationToken,
    ) {
        // Every connection task holds a receiver: `closed()` fires when
        // the last one ends.
        let (done_tx, done_rx) = watch::channel(());
        let mut warned_full: Option<Instant> = None;
        loop {
            let permit = match self.slots.clone().try_acquire_owned() {
                Ok(p) => p,
                Err(_) => {
                    self.metrics.shed("http_connection_cap");
                    if warned_full.is_none_or(|t| t.elapsed() >= Duration::from_secs(60)) {
                        warned_full = Some(Instant::now());
                        tracing::warn!(
                            max_connections = self.limits.max_connections,
                            "Every connection slot is taken: new connections wait in the listen \
                             queue until one closes (server.max_connections; said at most once \
                             a minute)."
                        );
                    }
                    tokio::select! {
                        p = self.slots.clone().acquire_owned() => match p {
                            Ok(p) => p,
                            Err(_) => break,
                        },
                        _ = shutdown.cancelled() => break,
                    }
                }
            };
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.cancelled() => break,
            };
            let (stream, peer) = match accepted {
                Ok(accepted) => accepted,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) => {
                    // EMFILE and the like: wait for something to close.
                    tracing::error!(error = %e, "Accepting a connection failed.");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = shutdown.cancelled() => break,
                    }
                }
            };
            let slot = Slot::new(permit, self.open.clone());
            tokio::spawn(self.clone().connection(
                stream,
                peer,
                slot,
                router.clone(),
                shutdown.clone(),
                done_rx.clone(),
            ));
        }
        drop(listener);
        drop(done_rx);
        done_tx.closed().await;
    }

    pub(super) async fn connection(
        self: Arc<Self>,
        stream: TcpStream,
        peer: std::net::SocketAddr,
        slot: Slot,
        router: Router,
        shutdown: CancellationToken,
        _done: watch::Receiver<()>,
    ) {
        let clock = Arc::new(Clock::new());
        let io = TokioIo::new(Tracked {
            inner: stream,
            clock: clock.clone(),
            _slot: slot,
        });
        let service = ConnService {
            router,
            clock: clock.clone(),
            body_timeout: self.limits.body_timeout,
            metrics: self.metrics.clone(),
            peer,
        };
        let mut http = hyper::server::conn::http1::Builder::new();
        // The header clock is `Clock`'s: hyper's would also run while a
        // keep-alive connection waits for its next request.
        http.header_read_timeout(None);
        let conn = http.serve_connection(io, service).with_upgrades();
        tokio::pin!(conn);
        let watchdog = clock.watchdog(&self.limits);
        tokio::pin!(watchdog);
        let mut draining = false;
        loop {
            tokio::select! {
                r = conn.as_mut() => {
                    if let Err(e) = r {
                        tracing::debug!(error = %e, "An HTTP connection ended with an error.");
                    }
                    break;
                }
                kind = &mut watchdog => {
                    // Dropping the connection closes it.
                    tracing::debug!(kind, "Closed an HTTP connection past a limit.");
                    self.metrics.shed(kind);
                    break;
                }
                _ = shutdown.cancelled(), if !draining => {
                    // No request in progress: nothing to finish (hyper's
                    // graceful shutdown would wait for a half-read head).
                    if clock.between_requests() {
                        break;
                    }
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

pub(super) fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}

/// A connection's slot: held by its socket, so an upgraded WebSocket keeps
/// it until it closes.
pub(super) struct Slot {
    pub(super) _permit: OwnedSemaphorePermit,
    pub(super) open: Arc<AtomicUsize>,
}

impl Slot {
    pub(super) fn new(permit: OwnedSemaphorePermit, open: Arc<AtomicUsize>) -> Self {
        open.fetch_add(1, Ordering::Relaxed);
        Self {
            _permit: permit,
            open,
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}
