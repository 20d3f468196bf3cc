//! In-process real-time channels: one tokio broadcast channel per channel
//! name, created on first subscribe and removed with its last subscriber.

use async_trait::async_trait;
use chat_ports::{Channels, RealtimeEvent, Result, Subscription};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use tokio::sync::broadcast;

/// Events a slow subscriber may fall behind by before it is told it lagged
/// (and repairs from the store). Every slot is allocated when a user's
/// channel opens: at 1024 it cost about 28 KiB per connected user
/// (loadtest `connections`), at 128 about 4 KiB.
const CAPACITY: usize = 128;

type Registry = Mutex<HashMap<String, broadcast::Sender<Arc<RealtimeEvent>>>>;

/// The in-process channel engine; cheap to clone.
#[derive(Clone, Default)]
pub struct InProcessChannels {
    channels: Arc<Registry>,
}

impl InProcessChannels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Channels with at least one subscriber.
    pub fn len(&self) -> usize {
        self.channels.lock().expect("channels lock").len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Removes the channel when its last subscriber goes.
struct Unsubscribe {
    registry: Weak<Registry>,
    channel: String,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        if let Some(registry) = self.registry.upgrade() {
            let mut map = registry.lock().expect("channels lock");
            // The subscription drops its receiver before this guard, so no
            // receiver left means it was the last.
            if map
                .get(&self.channel)
                .is_some_and(|tx| tx.receiver_count() == 0)
            {
                map.remove(&self.channel);
            }
        }
    }
}

#[async_trait]
impl Channels for InProcessChannels {
    async fn publish(&self, channel: &str, event: RealtimeEvent) -> Result<()> {
        let tx = self
            .channels
            .lock()
            .expect("channels lock")
            .get(channel)
            .cloned();
        if let Some(tx) = tx {
            let _ = tx.send(Arc::new(event));
        }
        Ok(())
    }

    async fn publish_many(&self, channels: &[String], event: RealtimeEvent) -> Result<()> {
        let event = Arc::new(event);
        let map = self.channels.lock().expect("channels lock");
        for c in channels {
            if let Some(tx) = map.get(c) {
                let _ = tx.send(event.clone());
            }
        }
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription> {
        let rx = self
            .channels
            .lock()
            .expect("channels lock")
            .entry(channel.to_string())
            .or_insert_with(|| broadcast::channel(CAPACITY).0)
            .subscribe();
        let guard = Unsubscribe {
            registry: Arc::downgrade(&self.channels),
            channel: channel.to_string(),
        };
        Ok(Subscription::new(rx, Box::new(guard)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chat_ports::RecvError;

    fn typing(n: usize) -> RealtimeEvent {
        RealtimeEvent::Typing {
            conv: n.to_string().into(),
            user: "u".into(),
        }
    }

    #[tokio::test]
    async fn subscribers_get_what_is_published_and_channels_go_with_them() {
        let ch = InProcessChannels::new();
        let mut a = ch.subscribe("u:a").await.unwrap();
        let mut a2 = ch.subscribe("u:a").await.unwrap();
        ch.publish("u:a", typing(1)).await.unwrap();
        ch.publish("u:b", typing(2)).await.unwrap();
        assert_eq!(*a.recv().await.unwrap(), typing(1));
        assert_eq!(*a2.recv().await.unwrap(), typing(1));
        drop(a);
        assert_eq!(ch.len(), 1);
        drop(a2);
        assert!(ch.is_empty());
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_told_it_lagged() {
        let ch = InProcessChannels::new();
        let mut s = ch.subscribe("u:a").await.unwrap();
        for i in 0..CAPACITY + 10 {
            ch.publish("u:a", typing(i)).await.unwrap();
        }
        assert_eq!(s.recv().await.unwrap_err(), RecvError::Lagged(10));
        assert_eq!(*s.recv().await.unwrap(), typing(10));
    }
}
