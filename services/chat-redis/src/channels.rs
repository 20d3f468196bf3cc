//! Real-time channels over Redis pub/sub.
//!
//! Locally it is the in-process engine: one tokio broadcast (1024 deep) per
//! channel name, created on first subscribe and dropped with its last
//! subscriber. Between processes it is Redis: the first local subscriber of
//! a channel SUBSCRIBEs it on the process's single pub/sub connection, the
//! last one leaving UNSUBSCRIBEs it, and a reader task hands each message
//! to the local broadcast. Publishing is a PUBLISH of the event as JSON on a
//! multiplexed connection. Redis channel names are the port's names with
//! the engine's prefix.

use crate::conn::Commands;
use crate::subscriber::{self, lock, Command, Reader, Registry, CAPACITY, WHAT};
use async_trait::async_trait;
use chat_ports::{Channels, PortError, RealtimeEvent, Result, Subscription};
use redis::Client;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio_util::sync::{CancellationToken, DropGuard};

/// The Redis channel engine; cheap to clone. Dropping the last clone stops
/// its reader task, and the subscriptions still open see `Closed`.
#[derive(Clone)]
pub struct RedisChannels {
    inner: Arc<Inner>,
}

struct Inner {
    prefix: String,
    registry: Arc<Registry>,
    commands: mpsc::UnboundedSender<Command>,
    publisher: Commands,
    up: Arc<AtomicBool>,
    _stop: DropGuard,
}

impl RedisChannels {
    /// Connects to Redis at `url` (`redis://host:port/db`). Every Redis
    /// channel name starts with `prefix` (for instance `"chat:"`), so
    /// several deployments or test runs can share one Redis.
    pub async fn connect(url: &str, prefix: &str) -> Result<Self> {
        let client = Client::open(url).map_err(|e| PortError::unavailable(WHAT, e))?;
        let publisher = Commands::connect(client.clone(), WHAT).await?;
        let link = subscriber::open(&client)
            .await
            .map_err(|e| PortError::unavailable(WHAT, e))?;
        let registry = Arc::new(Registry::default());
        // Unbounded on purpose: a subscription's guard sends its unsubscribe
        // from `Drop`, which cannot wait for room; the queue holds at most
        // one entry per live subscription, and the reader drains it.
        #[allow(clippy::disallowed_methods)]
        let (commands, queue) = mpsc::unbounded_channel();
        let stop = CancellationToken::new();
        let up = Arc::new(AtomicBool::new(true));
        let reader = Reader {
            client,
            prefix: prefix.to_string(),
            registry: registry.clone(),
            commands: queue,
            stop: stop.clone(),
            up: up.clone(),
        };
        tokio::spawn(reader.run(link));
        tracing::info!(prefix, "Redis channels are connected.");
        Ok(Self {
            inner: Arc::new(Inner {
                prefix: prefix.to_string(),
                registry,
                commands,
                publisher,
                up,
                _stop: stop.drop_guard(),
            }),
        })
    }

    /// The prefix of this engine's Redis channel names.
    pub fn prefix(&self) -> &str {
        &self.inner.prefix
    }

    /// Channels with at least one local subscriber.
    pub fn len(&self) -> usize {
        lock(&self.inner.registry).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Ok when Redis answers a PING and the pub/sub connection is up.
    pub async fn health(&self) -> Result<()> {
        let _: String = self.inner.publisher.query(&redis::cmd("PING")).await?;
        if !self.inner.up.load(Ordering::Relaxed) {
            return Err(PortError::Unavailable {
                what: WHAT,
                detail: "the pub/sub connection to Redis is down; reconnecting".into(),
            });
        }
        Ok(())
    }

    fn redis_name(&self, channel: &str) -> String {
        format!("{}{}", self.inner.prefix, channel)
    }
}

fn encode(event: &RealtimeEvent) -> Result<Vec<u8>> {
    serde_json::to_vec(event).map_err(|e| PortError::corrupt(WHAT, e))
}

/// Removes the channel when its last local subscriber goes, and has the
/// reader UNSUBSCRIBE it.
struct Unsubscribe {
    registry: Weak<Registry>,
    commands: mpsc::UnboundedSender<Command>,
    channel: String,
}

impl Drop for Unsubscribe {
    fn drop(&mut self) {
        let Some(registry) = self.registry.upgrade() else {
            return;
        };
        let mut map = lock(&registry);
        // The subscription drops its receiver before this guard, so no
        // receiver left means it was the last.
        if map
            .get(&self.channel)
            .is_some_and(|tx| tx.receiver_count() == 0)
        {
            map.remove(&self.channel);
            // Sent under the lock: the reader sees registry changes in order.
            let _ = self.commands.send(Command::Unsubscribe {
                channel: std::mem::take(&mut self.channel),
            });
        }
    }
}

/// Commands per pipeline of [`Channels::publish_all`] at most: a big
/// batch goes in a few round trips rather than one huge request.
const PIPELINE_COMMANDS: usize = 2048;

#[async_trait]
impl Channels for RedisChannels {
    async fn publish(&self, channel: &str, event: RealtimeEvent) -> Result<()> {
        let payload = encode(&event)?;
        let mut cmd = redis::cmd("PUBLISH");
        cmd.arg(self.redis_name(channel)).arg(payload);
        let _: i64 = self.inner.publisher.query(&cmd).await?;
        Ok(())
    }

    /// One pipeline of PUBLISHes: one round trip for every channel.
    async fn publish_many(&self, channels: &[String], event: RealtimeEvent) -> Result<()> {
        self.publish_all(vec![(channels.to_vec(), event)]).await
    }

    /// One pipeline for the lot, in order (Redis runs a connection's
    /// commands in order, so each channel's events keep theirs): a fan-out
    /// batch costs one round trip instead of one per event.
    async fn publish_all(&self, events: Vec<(Vec<String>, RealtimeEvent)>) -> Result<()> {
        let mut pipe = redis::pipe();
        let mut commands = 0usize;
        for (channels, event) in &events {
            if channels.is_empty() {
                continue;
            }
            let payload = encode(event)?;
            for channel in channels {
                pipe.cmd("PUBLISH")
                    .arg(self.redis_name(channel))
                    .arg(payload.as_slice())
                    .ignore();
                commands += 1;
            }
            if commands >= PIPELINE_COMMANDS {
                let () = self.inner.publisher.query_pipe(&pipe).await?;
                pipe = redis::pipe();
                commands = 0;
            }
        }
        if commands > 0 {
            let () = self.inner.publisher.query_pipe(&pipe).await?;
        }
        Ok(())
    }

    /// Returns once Redis confirmed the subscription, so whatever is
    /// published afterwards arrives. While the pub/sub connection is down it
    /// returns the subscription anyway, registered: the reader subscribes it
    /// when Redis is back and then sends `Resync`.
    async fn subscribe(&self, channel: &str) -> Result<Subscription> {
        let (reply, answer) = oneshot::channel();
        let subscription = {
            let mut map = lock(&self.inner.registry);
            let rx = map
                .entry(channel.to_string())
                .or_insert_with(|| broadcast::channel(CAPACITY).0)
                .subscribe();
            // Built before waiting, so a cancelled subscribe still
            // unregisters; asked under the lock so the reader sees registry
            // changes in order.
            let guard = Unsubscribe {
                registry: Arc::downgrade(&self.inner.registry),
                commands: self.inner.commands.clone(),
                channel: channel.to_string(),
            };
            let asked = self.inner.commands.send(Command::Subscribe {
                channel: channel.to_string(),
                reply,
            });
            (Subscription::new(rx, Box::new(guard)), asked.is_ok())
        };
        // (The subscription is dropped, on failure, only after the lock is
        // released: its guard takes the lock.)
        let (subscription, asked) = subscription;
        if !asked {
            return Err(shut_down());
        }
        match answer.await {
            Ok(Ok(())) => Ok(subscription),
            // Redis is unreachable: the subscription stays registered, the
            // reader subscribes it once Redis is back and then sends
            // `Resync`; until then the caller runs on the store alone.
            Ok(Err(PortError::Unavailable { detail, .. })) => {
                tracing::warn!(channel, error = %detail, "Subscribed while Redis is unreachable; real-time delivery resumes when it is back.");
                Ok(subscription)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(shut_down()),
        }
    }
}

fn shut_down() -> PortError {
    PortError::Unavailable {
        what: WHAT,
        detail: "the pub/sub reader stopped".into(),
    }
}
