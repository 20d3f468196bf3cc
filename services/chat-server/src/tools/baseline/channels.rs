//! `chatctl baseline channels`: the bare rate of the real-time channels of
//! `[engines] realtime`, opened as every process opens them.
//!
//! Fan-out publishes each sequenced message to its recipients' user
//! channels (`u:<user>`), and each gateway holds one subscription per
//! connected user. Here this process subscribes to `channels` user
//! channels of its own, then publishes message deliveries (the
//! `RealtimeEvent` fan-out makes of a message with the chosen body),
//! `concurrency` publishes in flight, spread over those channels, and
//! times each from its publish call to its arrival at the subscriber.
//! Nothing else runs in between: this is the most deliveries per second
//! the pipeline's channels can carry.
//!
//! The users and channels are the run's own, so no session receives them.

use super::shape::{message, Run};
use super::stats::{per_sec, secs, Failures, Latencies, Percentiles, SentAt, Tickets, STALL};
use crate::engines::open_channels;
use crate::Config;
use anyhow::Context;
use chat_ports::channels::user_channel;
use chat_ports::{Channels, RealtimeEvent, RecvError, Subscription};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How `chatctl baseline channels` runs.
#[derive(Debug, Clone, clap::Args)]
pub struct ChannelsOptions {
    /// Deliveries to publish.
    #[arg(long, default_value_t = 50_000)]
    pub events: u64,
    /// User channels, each subscribed to once by this process.
    #[arg(long, default_value_t = 200)]
    pub channels: u64,
    /// Publishes in flight.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Bytes of each delivered message's body.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
}

/// What the channels did.
#[derive(Debug, Clone, Serialize)]
pub struct ChannelsReport {
    pub events: u64,
    pub channels: u64,
    pub concurrency: usize,
    /// One event as the engine carries it (JSON).
    pub event_bytes: usize,
    /// From the first publish to the last one answered.
    pub seconds: f64,
    pub publishes_per_sec: f64,
    /// One `Channels::publish`.
    pub publish_ms: Percentiles,
    /// Publishes that failed (fan-out would publish its batch again).
    pub failed: u64,
    /// Deliveries the subscribers got.
    pub received: u64,
    /// Deliveries the engine dropped for a subscriber that fell behind.
    pub lagged: u64,
    /// From the first publish to the last delivery received.
    pub receive_seconds: f64,
    pub received_per_sec: f64,
    /// From a publish call to the subscriber's receipt of the event.
    pub publish_to_receive_ms: Percentiles,
}

impl ChannelsReport {
    /// One line per figure, for people.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "channels: {} publishes of {} bytes to {} channels in {} s, {} in flight: {} publishes/s, {} failed",
                self.events,
                self.event_bytes,
                self.channels,
                self.seconds,
                self.concurrency,
                self.publishes_per_sec,
                self.failed
            ),
            format!("channels: publish latency {}", self.publish_ms),
            format!(
                "channels: {} of {} received ({} lost to lag) in {} s: {} deliveries/s",
                self.received, self.events, self.lagged, self.receive_seconds, self.received_per_sec
            ),
            format!("channels: publish to receive {}", self.publish_to_receive_ms),
        ]
    }
}

/// Publishes `options.events` deliveries to channels this process
/// subscribed to.
pub async fn channels(
    config: &Config,
    options: &ChannelsOptions,
) -> anyhow::Result<ChannelsReport> {
    anyhow::ensure!(
        options.channels > 0 && options.concurrency > 0,
        "--channels and --concurrency must be above 0"
    );
    let engine = open_channels(config).await?;
    let shared = Arc::new(Shared {
        engine: engine.clone(),
        run: Run::new(options.body_bytes),
        channels: options.channels,
        tickets: Tickets::new(options.events),
        sent: SentAt::new(options.events),
        failed: Failures::new(options.channels),
    });

    let mut receivers = JoinSet::new();
    for c in 0..options.channels {
        let subscription = engine
            .subscribe(&channel(&shared.run, c))
            .await
            .context("cannot subscribe to a channel")?;
        // Deliveries i with i % channels == c.
        let expected =
            options.events / options.channels + u64::from(c < options.events % options.channels);
        receivers.spawn(receive(subscription, c, expected, shared.clone()));
    }

    let started = Instant::now();
    let mut publishers = JoinSet::new();
    for _ in 0..options.concurrency {
        publishers.spawn(publish(shared.clone()));
    }
    let mut publish_latency = Latencies::default();
    while let Some(done) = publishers.join_next().await {
        publish_latency.merge(&done.context("a publisher panicked")??);
    }
    let published = publish_latency.span_from(started);

    let mut got = Received::default();
    while let Some(done) = receivers.join_next().await {
        got.add(done.context("a subscriber panicked")?);
    }
    let received_for = got.last.map_or(Duration::ZERO, |t| t - started);
    let event_bytes = serde_json::to_vec(&delivery(&shared.run, 0, 0))?.len();
    Ok(ChannelsReport {
        events: options.events,
        channels: options.channels,
        concurrency: options.concurrency,
        event_bytes,
        seconds: secs(published),
        publishes_per_sec: per_sec(publish_latency.count(), published),
        publish_ms: publish_latency.summary(),
        failed: shared.failed.total(),
        received: got.events,
        lagged: got.lagged,
        receive_seconds: secs(received_for),
        received_per_sec: per_sec(got.events, received_for),
        publish_to_receive_ms: got.latencies.summary(),
    })
}

/// The channel of user `a` of the run's conversation `c`.
fn channel(run: &Run, c: u64) -> String {
    user_channel(&run.pair(c).0)
}

/// Delivery `i`: message `i + 1` of conversation `c`, as fan-out publishes
/// it on a user channel. Its seq tells the subscriber which it is.
fn delivery(run: &Run, c: u64, i: u64) -> RealtimeEvent {
    RealtimeEvent::Message {
        message: message(run.send(c, i), i + 1),
        recipients: Vec::new(),
    }
}

/// What the publishers and the subscribers share.
struct Shared {
    engine: Arc<dyn Channels>,
    run: Run,
    channels: u64,
    tickets: Tickets,
    sent: SentAt,
    /// By channel.
    failed: Failures,
}

/// Takes tickets and publishes one delivery for each.
async fn publish(shared: Arc<Shared>) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::default();
    while let Some(i) = shared.tickets.take() {
        let c = i % shared.channels;
        let (name, event) = (channel(&shared.run, c), delivery(&shared.run, c, i));
        let started = Instant::now();
        shared.sent.mark(i);
        match shared.engine.publish(&name, event).await {
            Ok(()) => latencies.time(started),
            Err(e) => shared.failed.add(c, "a publish", &e.into()),
        }
    }
    Ok(latencies)
}

/// What subscribers got.
#[derive(Default)]
struct Received {
    events: u64,
    lagged: u64,
    /// When the last delivery came.
    last: Option<Instant>,
    latencies: Latencies,
}

impl Received {
    fn add(&mut self, other: Received) {
        self.events += other.events;
        self.lagged += other.lagged;
        self.last = self.last.max(other.last);
        self.latencies.merge(&other.latencies);
    }
}

/// Receives on channel `c` until its `expected` deliveries came, were
/// dropped or failed to publish, or none came for [`STALL`].
async fn receive(
    mut subscription: Subscription,
    c: u64,
    expected: u64,
    shared: Arc<Shared>,
) -> Received {
    let mut got = Received::default();
    let mut heard = Instant::now();
    while got.events + got.lagged + shared.failed.in_slot(c) < expected && heard.elapsed() < STALL {
        let next = tokio::time::timeout(Duration::from_millis(100), subscription.recv()).await;
        match next {
            Ok(Ok(event)) => {
                heard = Instant::now();
                if let RealtimeEvent::Message { message, .. } = event.as_ref() {
                    got.events += 1;
                    got.last = Some(heard);
                    if let Some(age) = shared.sent.since(message.seq.saturating_sub(1)) {
                        got.latencies.record(age);
                    }
                }
            }
            Ok(Err(RecvError::Lagged(n))) => got.lagged += n,
            Ok(Err(RecvError::Closed)) => break,
            Err(_) => {}
        }
    }
    got
}
