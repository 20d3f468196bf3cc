//! A connection's phases (reading a head, idle, busy) and the watchdog
//! that closes it when a phase lasts past its limit.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::*;

/// Where a connection is in its life, for the timeouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Reading a request head: the header clock runs.
    Head,
    /// Between requests, not a byte of the next yet: the idle clock runs.
    Idle,
    /// A request is being handled or its response written.
    Busy,
}

#[derive(Debug)]
pub(super) struct State {
    pub(super) phase: Phase,
    /// When the phase began.
    pub(super) since: Instant,
    /// Requests whose response body has not been dropped yet.
    pub(super) open: usize,
    /// Requests whose handler has not returned yet.
    pub(super) running: usize,
}

/// A connection's clocks. Its socket ([`Tracked`]) and its service
/// ([`ConnService`]) move it between phases; its watchdog
/// ([`Clock::watchdog`]) closes it when the phase has lasted too long.
pub(super) struct Clock {
    pub(super) start: Instant,
    /// Milliseconds after `start` of the last byte read or written.
    pub(super) last_io_ms: AtomicU64,
    /// The phase is `Idle` (read on every read, without the lock).
    pub(super) idle: AtomicBool,
    pub(super) state: Mutex<State>,
    /// Wakes the watchdog when a deadline moves closer (idle to head).
    pub(super) wake: Notify,
}

impl Clock {
    pub(super) fn new() -> Self {
        let now = Instant::now();
        Self {
            start: now,
            last_io_ms: AtomicU64::new(0),
            idle: AtomicBool::new(false),
            state: Mutex::new(State {
                phase: Phase::Head,
                since: now,
                open: 0,
                running: 0,
            }),
            wake: Notify::new(),
        }
    }

    pub(super) fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(super) fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_io_ms.store(ms, Ordering::Relaxed);
    }

    pub(super) fn last_io(&self) -> Instant {
        self.start + Duration::from_millis(self.last_io_ms.load(Ordering::Relaxed))
    }

    pub(super) fn read(&self) {
        self.touch();
        if self.idle.load(Ordering::Relaxed) {
            let mut s = self.state();
            if s.phase == Phase::Idle {
                s.phase = Phase::Head;
                s.since = Instant::now();
            }
            self.idle.store(false, Ordering::Relaxed);
            drop(s);
            self.wake.notify_one();
        }
    }

    pub(super) fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.touch();
        let mut s = self.state();
        s.open += 1;
        s.running += 1;
        s.phase = Phase::Busy;
        s.since = Instant::now();
        self.idle.store(false, Ordering::Relaxed);
        RequestGuard {
            clock: self.clone(),
            running: true,
        }
    }

    /// No request in progress: reading a head, or waiting for one.
    pub(super) fn between_requests(&self) -> bool {
        matches!(self.state().phase, Phase::Head | Phase::Idle)
    }

    /// The deadline of the current phase, and what passing it means; no
    /// kind while a handler runs (the watchdog looks again later).
    pub(super) fn deadline(&self, limits: &HttpLimits) -> (Instant, Option<&'static str>) {
        let s = self.state();
        match s.phase {
            Phase::Head => (
                s.since + limits.header_read_timeout,
                Some("http_header_timeout"),
            ),
            Phase::Idle => (s.since + limits.idle_timeout, Some("http_idle_timeout")),
            Phase::Busy if s.running == 0 => (
                self.last_io() + limits.idle_timeout,
                Some("http_idle_timeout"),
            ),
            Phase::Busy => (Instant::now() + limits.idle_timeout, None),
        }
    }

    /// Resolves, with the kind of limit, once the connection has been in a
    /// phase past its deadline.
    pub(super) async fn watchdog(&self, limits: &HttpLimits) -> &'static str {
        loop {
            let (deadline, _) = self.deadline(limits);
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    if let (deadline, Some(kind)) = self.deadline(limits) {
                        if Instant::now() >= deadline {
                            return kind;
                        }
                    }
                }
                _ = self.wake.notified() => {}
            }
        }
    }
}

/// One request in flight on a connection: its handler runs until
/// [`RequestGuard::handler_done`], and the request ends when the guard,
/// carried by the response body, is dropped.
pub(super) struct RequestGuard {
    pub(super) clock: Arc<Clock>,
    pub(super) running: bool,
}

impl RequestGuard {
    pub(super) fn handler_done(&mut self) {
        if std::mem::take(&mut self.running) {
            self.clock.touch();
            self.clock.state().running -= 1;
            // The response's idle clock starts now.
            self.clock.wake.notify_one();
        }
    }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let mut s = self.clock.state();
        if self.running {
            s.running -= 1;
        }
        s.open -= 1;
        if s.open == 0 {
            s.phase = Phase::Idle;
            s.since = Instant::now();
            self.clock.idle.store(true, Ordering::Relaxed);
        }
    }
}

/// A connection's socket: tells its clock of every byte, and holds its
/// slot for as long as the socket lives, through an upgrade too.
pub(super) struct Tracked {
    pub(super) inner: TcpStream,
    pub(super) clock: Arc<Clock>,
    pub(super) _slot: Slot,
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.clock.read();
        }
        r
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.clock.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
