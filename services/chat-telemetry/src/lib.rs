//! Metrics of the chat service, in the Prometheus text format at
//! `/metrics`. One [`Metrics`] per process, built in `main` and passed down
//! (no global). Labels never carry user or conversation ids: only result
//! codes, frame kinds and processor groups.
//!
//! # Layout
//! - [`Metrics`]: every metric, and [`Metrics::render`].
//! - [`trace`]: trace context across the log (`traceparent`).

pub mod trace;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::sync::Arc;
use std::time::Duration;

/// A one-label set, e.g. `[("code", "acked")]`.
pub type Label = [(&'static str, &'static str); 1];

type HistogramFamily = Family<Label, Histogram, fn() -> Histogram>;

fn latency() -> Histogram {
    // 0.1 ms … ~3.3 s
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

fn age() -> Histogram {
    // 1 ms … ~9 min
    Histogram::new(exponential_buckets(0.001, 2.0, 20))
}

/// Every metric of a process.
pub struct Metrics {
    registry: Registry,
    /// Open WebSocket connections.
    pub connections: Gauge,
    /// Sends by outcome: `acked` or the error code.
    pub sends: Family<Label, Counter>,
    /// Time from a send's arrival to its acknowledgement.
    pub ack_seconds: Histogram,
    /// Message frames written to devices (live, repaired and backlog).
    pub deliveries: Counter,
    /// Frames not sent to a busy connection, by kind (`typing`, `presence`,
    /// `receipt`), and connections closed as too slow (`slow_reader`).
    pub shed: Family<Label, Counter>,
    /// Records handled, by processor group.
    pub processed: Family<Label, Counter>,
    /// Batches that failed and were handled again, by group.
    pub processor_failures: Family<Label, Counter>,
    /// Records a processor set aside on `chat.deadletter`, by group: each
    /// one is a bug or an attack, worth an alert.
    pub dead_letters: Family<Label, Counter>,
    /// Time to handle a batch (store writes included), by group.
    pub batch_seconds: HistogramFamily,
    /// Age of records when a processor handles them: the consumer lag in
    /// time, by group.
    pub record_age_seconds: HistogramFamily,
    /// Time of store reads on the gateway's request path.
    pub store_read_seconds: Histogram,
    /// Push notifications by outcome: `sent`, `skipped_online`,
    /// `skipped_delivered`, `retried` (one per request repeated),
    /// `dead_lettered`, `lost` (not even dead-lettered), `dropped` (the
    /// queue was full), `stale` (a message too old to push, counted once
    /// per message).
    pub pushes: Family<Label, Counter>,
}

impl Metrics {
    pub fn new() -> Arc<Self> {
        let mut registry = Registry::with_prefix("chat");
        let m = Self {
            connections: Gauge::default(),
            sends: Family::default(),
            ack_seconds: latency(),
            deliveries: Counter::default(),
            shed: Family::default(),
            processed: Family::default(),
            processor_failures: Family::default(),
            dead_letters: Family::default(),
            batch_seconds: Family::new_with_constructor(latency as fn() -> Histogram),
            record_age_seconds: Family::new_with_constructor(age as fn() -> Histogram),
            store_read_seconds: latency(),
            pushes: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "connections",
            "Open WebSocket connections",
            m.connections.clone(),
        );
        registry.register(
            "sends",
            "Sends by outcome (acked or error code)",
            m.sends.clone(),
        );
        registry.register(
            "ack_seconds",
            "Send arrival to acknowledgement",
            m.ack_seconds.clone(),
        );
        registry.register(
            "deliveries",
            "Message frames written to devices",
            m.deliveries.clone(),
        );
        registry.register(
            "shed",
            "Frames shed and slow connections closed, by kind",
            m.shed.clone(),
        );
        registry.register(
            "processed_records",
            "Records handled, by processor group",
            m.processed.clone(),
        );
        registry.register(
            "processor_failures",
            "Failed batches handled again, by group",
            m.processor_failures.clone(),
        );
        registry.register(
            "dead_letters",
            "Records a processor could never apply, set aside on chat.deadletter, by group",
            m.dead_letters.clone(),
        );
        registry.register(
            "batch_seconds",
            "Time to handle a batch, by group",
            m.batch_seconds.clone(),
        );
        registry.register(
            "record_age_seconds",
            "Age of records when handled (consumer lag), by group",
            m.record_age_seconds.clone(),
        );
        registry.register(
            "store_read_seconds",
            "Store reads on the request path",
            m.store_read_seconds.clone(),
        );
        registry.register(
            "pushes",
            "Push notifications to offline devices, by outcome",
            m.pushes.clone(),
        );
        Arc::new(Self { registry, ..m })
    }

    /// Everything, in the Prometheus text format.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }

    /// Counts a send's outcome.
    pub fn send(&self, outcome: &'static str) {
        self.sends.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// Counts something shed.
    pub fn shed(&self, kind: &'static str) {
        self.shed.get_or_create(&[("kind", kind)]).inc();
    }

    /// Records a processor batch.
    pub fn batch(&self, group: &'static str, records: u64, took: Duration, ages: &[Duration]) {
        let label = [("group", group)];
        self.processed.get_or_create(&label).inc_by(records);
        self.batch_seconds
            .get_or_create(&label)
            .observe(took.as_secs_f64());
        let h = self.record_age_seconds.get_or_create(&label);
        for a in ages {
            h.observe(a.as_secs_f64());
        }
    }

    /// Counts a push notification's outcome.
    pub fn push(&self, outcome: &'static str) {
        self.pushes.get_or_create(&[("outcome", outcome)]).inc();
    }

    /// Counts a failed batch.
    pub fn processor_failure(&self, group: &'static str) {
        self.processor_failures
            .get_or_create(&[("group", group)])
            .inc();
    }

    pub fn dead_letter(&self, group: &'static str) {
        self.dead_letters.get_or_create(&[("group", group)]).inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_render_in_the_prometheus_format() {
        let m = Metrics::new();
        m.connections.inc();
        m.send("acked");
        m.send("rate_limited");
        m.shed("typing");
        m.push("sent");
        m.batch(
            "sequencer",
            3,
            Duration::from_millis(2),
            &[Duration::from_millis(5)],
        );
        let text = m.render();
        assert!(text.contains("chat_connections 1"), "{text}");
        assert!(
            text.contains("chat_sends_total{outcome=\"acked\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("chat_shed_total{kind=\"typing\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("chat_processed_records_total{group=\"sequencer\"} 3"),
            "{text}"
        );
        assert!(text.contains("chat_record_age_seconds_bucket"), "{text}");
        assert!(
            text.contains("chat_pushes_total{outcome=\"sent\"} 1"),
            "{text}"
        );
    }
}
