//! The per-connection outbound queue: bounded in frames and in bytes, so a
//! reader that is too slow cannot make the server's memory grow (a frame
//! can be six times its body once JSON escapes it); one writer task drains
//! it into the socket, flushing when the queue runs empty. Each queued
//! frame holds permits for its bytes, returned once it is written.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chat_domain::frames::ServerFrame;
use futures::stream::SplitSink;
use futures::SinkExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

pub(crate) enum Out {
    /// A frame, and the byte budget it holds until it is written.
    Text(String, OwnedSemaphorePermit),
    Ping,
    Close(u16, &'static str),
}

/// The connection is gone or could not keep up.
#[derive(Debug)]
pub(crate) struct Gone;

pub(crate) struct Outbound {
    tx: mpsc::Sender<Out>,
    capacity: usize,
    bytes: Arc<Semaphore>,
    byte_capacity: usize,
}

/// How long one socket write may take before the peer counts as gone.
const WRITE_WAIT: Duration = Duration::from_secs(10);

/// How long a backlog push waits for room before the reader counts as dead.
const PUSH_WAIT: Duration = Duration::from_secs(10);

impl Outbound {
    /// Starts the writer task over `sink`.
    pub(crate) fn spawn(
        mut sink: SplitSink<WebSocket, Message>,
        capacity: usize,
        byte_capacity: usize,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let capacity = capacity.max(8);
        let byte_capacity = byte_capacity.clamp(64 * 1024, Semaphore::MAX_PERMITS);
        let (tx, mut rx) = mpsc::channel::<Out>(capacity);
        let writer = tokio::spawn(async move {
            while let Some(out) = rx.recv().await {
                // (A frame's permit is held until it is written.)
                let (msg, last, _permit) = match out {
                    Out::Text(s, permit) => (Message::Text(s.into()), false, Some(permit)),
                    Out::Ping => (Message::Ping(Default::default()), false, None),
                    Out::Close(code, reason) => (
                        Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        })),
                        true,
                        None,
                    ),
                };
                // A peer that stops reading (a zero TCP window) must not pin
                // the writer and its queue forever.
                match tokio::time::timeout(WRITE_WAIT, sink.feed(msg)).await {
                    Ok(Ok(())) => {}
                    _ => break,
                }
                if last || rx.is_empty() {
                    match tokio::time::timeout(WRITE_WAIT, sink.flush()).await {
                        Ok(Ok(())) => {}
                        _ => break,
                    }
                }
                if last {
                    break;
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), sink.close()).await;
        });
        let bytes = Arc::new(Semaphore::new(byte_capacity));
        (
            Self {
                tx,
                capacity,
                bytes,
                byte_capacity,
            },
            writer,
        )
    }

    /// The permits a frame of `len` bytes holds: its length, or the whole
    /// budget for a frame larger than it (sent alone).
    fn cost(&self, len: usize) -> u32 {
        u32::try_from(len.clamp(1, self.byte_capacity)).unwrap_or(u32::MAX)
    }

    /// Queues a live frame; a full queue means the reader is too slow.
    pub(crate) fn try_push(&self, frame: &ServerFrame) -> Result<(), Gone> {
        let text = frame.to_json();
        let permit = self
            .bytes
            .clone()
            .try_acquire_many_owned(self.cost(text.len()))
            .map_err(|_| Gone)?;
        self.tx.try_send(Out::Text(text, permit)).map_err(|_| Gone)
    }

    /// Queues a frame, waiting for room (backlog and sync replies).
    pub(crate) async fn push(&self, frame: &ServerFrame) -> Result<(), Gone> {
        let text = frame.to_json();
        let cost = self.cost(text.len());
        let deadline = tokio::time::Instant::now() + PUSH_WAIT;
        let permit = tokio::time::timeout_at(deadline, self.bytes.clone().acquire_many_owned(cost))
            .await
            .map_err(|_| Gone)?
            .map_err(|_| Gone)?;
        let wait = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.tx
            .send_timeout(Out::Text(text, permit), wait)
            .await
            .map_err(|_| Gone)
    }

    pub(crate) fn ping(&self) -> Result<(), Gone> {
        self.tx.try_send(Out::Ping).map_err(|_| Gone)
    }

    /// Sends a close frame after what is queued, waiting briefly for room.
    pub(crate) async fn close(&self, code: u16, reason: &'static str) {
        let _ = self
            .tx
            .send_timeout(Out::Close(code, reason), Duration::from_secs(1))
            .await;
    }

    /// How full the queue is, 0.0 to 1.0, in frames or in bytes, whichever
    /// is fuller: the basis for shedding.
    pub(crate) fn fill(&self) -> f64 {
        let frames = 1.0 - self.tx.capacity() as f64 / self.capacity as f64;
        let bytes = 1.0 - self.bytes.available_permits() as f64 / self.byte_capacity as f64;
        frames.max(bytes)
    }
}
