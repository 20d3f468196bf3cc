//! The pub/sub reader: the one task that owns this process's pub/sub
//! connection.
//!
//! Every SUBSCRIBE and UNSUBSCRIBE goes through its command queue, so Redis
//! sees them in the order the local registry changed. It delivers each
//! message to the local broadcast of its channel. When the connection is
//! lost (Redis restarted, `CLIENT KILL`, the network, a keepalive `PING`
//! without answer) it reconnects with backoff, subscribes again to every
//! channel that has local subscribers, and then sends them
//! [`RealtimeEvent::Resync`]: what was published meanwhile is lost.

use crate::conn::{CONNECT_TIMEOUT, MAX_BACKOFF, MIN_BACKOFF};
use crate::errors::is_connection_error;
use chat_ports::{PortError, RealtimeEvent, Result};
use futures::StreamExt;
use redis::aio::{PubSubSink, PubSubStream};
use redis::{Client, Msg, RedisError, Value};
use std::collections::{HashMap, HashSet};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{timeout, Instant};
use tokio_util::sync::CancellationToken;

/// The engine's name in errors and logs.
pub(crate) const WHAT: &str = "Redis channels";
/// Events a slow subscriber may fall behind by before it is told it lagged
/// (and repairs from the store). Every slot is allocated when a user's
/// channel opens: at 1024 it cost about 28 KiB per connected user
/// (loadtest `connections`), at 128 about 4 KiB.
pub(crate) const CAPACITY: usize = 128;
/// How long a SUBSCRIBE, UNSUBSCRIBE or PING may wait for its answer.
const OP_TIMEOUT: Duration = Duration::from_secs(2);
/// How often an idle pub/sub connection is checked with a PING.
const KEEPALIVE: Duration = Duration::from_secs(5);
/// Queued commands handled together (one SUBSCRIBE, one UNSUBSCRIBE).
const BATCH: usize = 512;
/// Channels named in one SUBSCRIBE when subscribing again after a loss.
const CHUNK: usize = 1000;

/// The local broadcast of one channel.
pub(crate) type Sender = broadcast::Sender<Arc<RealtimeEvent>>;
/// Channel name (without prefix) → local broadcast, for channels with
/// local subscribers.
pub(crate) type Registry = Mutex<HashMap<String, Sender>>;

pub(crate) fn lock(registry: &Registry) -> MutexGuard<'_, HashMap<String, Sender>> {
    registry.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the registry asks of the reader.
pub(crate) enum Command {
    /// Make sure Redis sends this channel's messages; answers once it does.
    Subscribe {
        channel: String,
        reply: oneshot::Sender<Result<()>>,
    },
    /// The channel lost its last local subscriber.
    Unsubscribe { channel: String },
}

/// A live pub/sub connection and what it is subscribed to.
pub(crate) struct Link {
    sink: PubSubSink,
    stream: PubSubStream,
    subscribed: HashSet<String>,
}

/// Opens a pub/sub connection, within the connect timeout.
pub(crate) async fn open(client: &Client) -> Result<Link, RedisError> {
    let pubsub = timeout(CONNECT_TIMEOUT, client.get_async_pubsub())
        .await
        .map_err(|_| RedisError::from(io::Error::from(io::ErrorKind::TimedOut)))??;
    let (sink, stream) = pubsub.split();
    Ok(Link {
        sink,
        stream,
        subscribed: HashSet::new(),
    })
}

/// Runs a pub/sub command within [`OP_TIMEOUT`].
async fn within<F>(op: F) -> Result<(), RedisError>
where
    F: std::future::Future<Output = Result<(), RedisError>>,
{
    timeout(OP_TIMEOUT, op)
        .await
        .map_err(|_| RedisError::from(io::Error::from(io::ErrorKind::TimedOut)))?
}

/// Why a batch of commands failed.
enum Failure {
    /// The connection is gone; the reader reconnects.
    Lost(RedisError),
    /// Redis refused the command; the connection is fine.
    Refused(RedisError),
}

impl Failure {
    fn from_redis(e: RedisError) -> Self {
        if is_connection_error(&e) {
            Failure::Lost(e)
        } else {
            Failure::Refused(e)
        }
    }

    fn port_error(&self) -> PortError {
        match self {
            Failure::Lost(e) => PortError::unavailable(WHAT, e),
            Failure::Refused(e) => PortError::storage(WHAT, e),
        }
    }
}

/// The reader task's state.
pub(crate) struct Reader {
    pub(crate) client: Client,
    pub(crate) prefix: String,
    pub(crate) registry: Arc<Registry>,
    pub(crate) commands: mpsc::UnboundedReceiver<Command>,
    pub(crate) stop: CancellationToken,
    /// Whether the pub/sub connection is up (for health checks).
    pub(crate) up: Arc<AtomicBool>,
}

impl Reader {
    /// Serves until the engine is dropped; then the local broadcasts are
    /// dropped too, and subscribers see `Closed`.
    pub(crate) async fn run(mut self, first: Link) {
        let mut link = Some(first);
        let mut backoff = MIN_BACKOFF;
        let mut retry_at = Instant::now();
        let mut keepalive = tokio::time::interval_at(Instant::now() + KEEPALIVE, KEEPALIVE);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        self.up.store(true, Ordering::Relaxed);
        loop {
            if let Some(live) = link.as_mut() {
                let lost = tokio::select! {
                    _ = self.stop.cancelled() => break,
                    command = self.commands.recv() => match command {
                        Some(command) => self.handle(live, command).await,
                        None => break,
                    },
                    msg = live.stream.next() => match msg {
                        Some(msg) => {
                            self.deliver(&msg);
                            None
                        }
                        None => Some(RedisError::from(io::Error::from(io::ErrorKind::ConnectionReset))),
                    },
                    _ = keepalive.tick() => within(async {
                        live.sink.ping::<Value>().await.map(|_| ())
                    })
                    .await
                    .err(),
                };
                if let Some(e) = lost {
                    tracing::warn!(error = %e, "The Redis pub/sub connection was lost; reconnecting.");
                    self.up.store(false, Ordering::Relaxed);
                    link = None;
                    backoff = MIN_BACKOFF;
                    retry_at = Instant::now() + backoff;
                }
            } else {
                tokio::select! {
                    _ = self.stop.cancelled() => break,
                    command = self.commands.recv() => match command {
                        Some(command) => refuse(command),
                        None => break,
                    },
                    _ = tokio::time::sleep_until(retry_at) => match self.reconnect().await {
                        Ok(live) => {
                            tracing::info!(
                                channels = live.subscribed.len(),
                                "The Redis pub/sub connection is back; subscribers resync from the store."
                            );
                            link = Some(live);
                            self.up.store(true, Ordering::Relaxed);
                            keepalive.reset();
                            self.resync();
                        }
                        Err(e) => {
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                            retry_at = Instant::now() + backoff;
                            tracing::debug!(error = %e, retry_in_ms = backoff.as_millis() as u64, "Redis pub/sub could not reconnect yet.");
                        }
                    },
                }
            }
        }
        self.up.store(false, Ordering::Relaxed);
        lock(&self.registry).clear();
        tracing::debug!("The Redis pub/sub reader stopped.");
    }

    fn redis_name(&self, channel: &str) -> String {
        format!("{}{}", self.prefix, channel)
    }

    /// Handles `first` and whatever else is queued, in one SUBSCRIBE and
    /// one UNSUBSCRIBE; returns the error when the connection is lost.
    async fn handle(&mut self, live: &mut Link, first: Command) -> Option<RedisError> {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match self.commands.try_recv() {
                Ok(command) => batch.push(command),
                Err(_) => break,
            }
        }
        // Decide against the registry as it is now: a channel in it has
        // local subscribers (subscribe it), one missing has none (drop it).
        let mut join = Vec::new();
        let mut leave = Vec::new();
        let mut replies = Vec::new();
        {
            let map = lock(&self.registry);
            let mut seen = HashSet::new();
            for command in batch {
                let channel = match command {
                    Command::Subscribe { channel, reply } => {
                        replies.push(reply);
                        channel
                    }
                    Command::Unsubscribe { channel } => channel,
                };
                if !seen.insert(channel.clone()) {
                    continue;
                }
                let present = map.contains_key(&channel);
                let subscribed = live.subscribed.contains(&channel);
                if present && !subscribed {
                    join.push(channel);
                } else if !present && subscribed {
                    leave.push(channel);
                }
            }
        }
        let outcome = self.apply(live, join, leave).await;
        for reply in replies {
            let answer = match &outcome {
                Ok(()) => Ok(()),
                Err(failure) => Err(failure.port_error()),
            };
            let _ = reply.send(answer);
        }
        match outcome {
            Err(Failure::Lost(e)) => Some(e),
            Err(Failure::Refused(e)) => {
                tracing::warn!(error = %e, "Redis refused a pub/sub subscription change.");
                None
            }
            Ok(()) => None,
        }
    }

    async fn apply(
        &self,
        live: &mut Link,
        join: Vec<String>,
        leave: Vec<String>,
    ) -> Result<(), Failure> {
        for chunk in join.chunks(CHUNK) {
            let names: Vec<String> = chunk.iter().map(|c| self.redis_name(c)).collect();
            within(live.sink.subscribe(&names))
                .await
                .map_err(Failure::from_redis)?;
            live.subscribed.extend(chunk.iter().cloned());
        }
        for chunk in leave.chunks(CHUNK) {
            let names: Vec<String> = chunk.iter().map(|c| self.redis_name(c)).collect();
            within(live.sink.unsubscribe(&names))
                .await
                .map_err(Failure::from_redis)?;
            for channel in chunk {
                live.subscribed.remove(channel);
            }
        }
        Ok(())
    }

    /// Opens a new connection and subscribes to every channel that has
    /// local subscribers.
    async fn reconnect(&self) -> Result<Link, RedisError> {
        let mut live = open(&self.client).await?;
        let channels: Vec<String> = lock(&self.registry).keys().cloned().collect();
        for chunk in channels.chunks(CHUNK) {
            let names: Vec<String> = chunk.iter().map(|c| self.redis_name(c)).collect();
            within(live.sink.subscribe(&names)).await?;
        }
        live.subscribed = channels.into_iter().collect();
        Ok(live)
    }

    /// Tells every local subscriber that events may have been lost.
    fn resync(&self) {
        let event = Arc::new(RealtimeEvent::Resync);
        for tx in lock(&self.registry).values() {
            let _ = tx.send(event.clone());
        }
    }

    /// Decodes a message and hands it to the local broadcast of its channel.
    fn deliver(&self, msg: &Msg) {
        let name = msg.get_channel_name();
        let Some(channel) = name.strip_prefix(self.prefix.as_str()) else {
            tracing::debug!(channel = name, "A pub/sub message arrived on a channel outside this engine's prefix; it is ignored.");
            return;
        };
        let event: RealtimeEvent = match serde_json::from_slice(msg.get_payload_bytes()) {
            Ok(event) => event,
            Err(e) => {
                tracing::warn!(channel = name, error = %e, "A pub/sub message did not decode as an event; it is ignored.");
                return;
            }
        };
        if let Some(tx) = lock(&self.registry).get(channel) {
            let _ = tx.send(Arc::new(event));
        }
    }
}

/// While disconnected, a subscription is answered `Unavailable` at once
/// (`RedisChannels::subscribe` then keeps it registered and the reader
/// subscribes it on reconnect); unsubscriptions need nothing, the lost
/// connection took them along.
fn refuse(command: Command) {
    if let Command::Subscribe { reply, .. } = command {
        let _ = reply.send(Err(PortError::Unavailable {
            what: WHAT,
            detail: "the pub/sub connection to Redis is down; reconnecting".into(),
        }));
    }
}
