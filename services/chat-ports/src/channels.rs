//! Real-time channels: best-effort publish/subscribe, one channel per user
//! (`u:<user>`) and one per user's presence (`p:<user>`). Loss is allowed:
//! completeness comes from the store through watermarks and the seq chain.

use crate::Result;
use async_trait::async_trait;
use std::any::Any;
use std::sync::Arc;
use tokio::sync::broadcast;

pub use chat_domain::realtime::RealtimeEvent;

/// The channel of everything addressed to one user.
pub fn user_channel(user: &str) -> String {
    format!("u:{user}")
}

/// The channel of one large group's messages, deletes and receipts, so a
/// hot group is published once rather than once per member.
pub fn conversation_channel(conv: &str) -> String {
    format!("c:{conv}")
}

/// The channel of one user's presence changes.
pub fn presence_channel(user: &str) -> String {
    format!("p:{user}")
}

/// Why a receive returned no event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvError {
    /// The subscriber fell behind and `n` events were dropped for it: the
    /// caller repairs from the store; it is not a disconnect.
    Lagged(u64),
    /// The channel engine shut down.
    Closed,
}

/// A live subscription; dropping it unsubscribes.
pub struct Subscription {
    rx: broadcast::Receiver<Arc<RealtimeEvent>>,
    _guard: Box<dyn Any + Send + Sync>,
}

impl Subscription {
    /// Wraps a receiver; `guard` is dropped with the subscription (engines
    /// unregister in its `Drop`).
    pub fn new(
        rx: broadcast::Receiver<Arc<RealtimeEvent>>,
        guard: Box<dyn Any + Send + Sync>,
    ) -> Self {
        Self { rx, _guard: guard }
    }

    /// The next event.
    pub async fn recv(&mut self) -> Result<Arc<RealtimeEvent>, RecvError> {
        match self.rx.recv().await {
            Ok(e) => Ok(e),
            Err(broadcast::error::RecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
            Err(broadcast::error::RecvError::Closed) => Err(RecvError::Closed),
        }
    }
}

/// The channel engine.
#[async_trait]
pub trait Channels: Send + Sync + 'static {
    /// Publishes to one channel; no subscriber is not an error.
    async fn publish(&self, channel: &str, event: RealtimeEvent) -> Result<()>;

    /// Publishes the same event to several channels.
    async fn publish_many(&self, channels: &[String], event: RealtimeEvent) -> Result<()> {
        for c in channels {
            self.publish(c, event.clone()).await?;
        }
        Ok(())
    }

    /// Publishes each event to its channels, in the order given: events on
    /// one channel arrive in that order, as if published one after the
    /// other. An engine may send them all in one round trip (fan-out hands
    /// it a whole batch).
    async fn publish_all(&self, events: Vec<(Vec<String>, RealtimeEvent)>) -> Result<()> {
        for (channels, event) in events {
            self.publish_many(&channels, event).await?;
        }
        Ok(())
    }

    /// Subscribes to one channel. Events published after it returns arrive
    /// in publish order, unless the subscriber gets `Lagged` or `Resync`.
    async fn subscribe(&self, channel: &str) -> Result<Subscription>;
}
