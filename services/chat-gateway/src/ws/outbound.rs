//! The per-connection outbound queue: bounded, so a reader that is too slow
//! cannot make the server's memory grow; one writer task drains it into the
//! socket, flushing when the queue runs empty.

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chat_domain::frames::ServerFrame;
use futures::stream::SplitSink;
use futures::SinkExt;
use std::time::Duration;
use tokio::sync::mpsc;

pub(crate) enum Out {
    Text(String),
    Ping,
    Close(u16, &'static str),
}

/// The connection is gone or could not keep up.
#[derive(Debug)]
pub(crate) struct Gone;

pub(crate) struct Outbound {
    tx: mpsc::Sender<Out>,
    capacity: usize,
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
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let capacity = capacity.max(8);
        let (tx, mut rx) = mpsc::channel::<Out>(capacity);
        let writer = tokio::spawn(async move {
            while let Some(out) = rx.recv().await {
                let (msg, last) = match out {
                    Out::Text(s) => (Message::Text(s.into()), false),
                    Out::Ping => (Message::Ping(Default::default()), false),
                    Out::Close(code, reason) => (
                        Message::Close(Some(CloseFrame {
                            code,
                            reason: reason.into(),
                        })),
                        true,
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
        (Self { tx, capacity }, writer)
    }

    /// Queues a live frame; a full queue means the reader is too slow.
    pub(crate) fn try_push(&self, frame: &ServerFrame) -> Result<(), Gone> {
        self.tx
            .try_send(Out::Text(frame.to_json()))
            .map_err(|_| Gone)
    }

    /// Queues a frame, waiting for room (backlog and sync replies).
    pub(crate) async fn push(&self, frame: &ServerFrame) -> Result<(), Gone> {
        self.tx
            .send_timeout(Out::Text(frame.to_json()), PUSH_WAIT)
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

    /// How full the queue is, 0.0 to 1.0: the basis for shedding.
    pub(crate) fn fill(&self) -> f64 {
        1.0 - self.tx.capacity() as f64 / self.capacity as f64
    }
}
