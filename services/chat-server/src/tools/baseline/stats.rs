//! Counting and timing shared by the baselines: latency percentiles,
//! work handed out to tasks one item at a time, and send instants to time
//! arrivals by.

use hdrhistogram::Histogram;
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;
use tokio::time::Instant;

/// How long a reader waits for the next item before it counts the rest as
/// lost.
pub const STALL: Duration = Duration::from_secs(30);

/// Latencies above this (ten minutes) count as this, µs.
const MAX_US: u64 = 600_000_000;

/// Latencies, in microseconds (three significant digits), and when the
/// last operation timed here ended.
pub struct Latencies {
    histogram: Histogram<u64>,
    ended: Option<Instant>,
}

impl Default for Latencies {
    fn default() -> Self {
        Self {
            histogram: Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds"),
            ended: None,
        }
    }
}

impl Latencies {
    /// A latency measured elsewhere.
    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(MAX_US);
        self.histogram.saturating_record(us.clamp(1, MAX_US));
    }

    /// An operation that began at `started` and ends now.
    pub fn time(&mut self, started: Instant) {
        let now = Instant::now();
        self.record(now - started);
        self.ended = self.ended.max(Some(now));
    }

    pub fn merge(&mut self, other: &Latencies) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms of the same bounds");
        self.ended = self.ended.max(other.ended);
    }

    pub fn count(&self) -> u64 {
        self.histogram.len()
    }

    /// From `start` to the end of the last operation timed (not to when
    /// the caller heard of it, which a busy machine may delay).
    pub fn span_from(&self, start: Instant) -> Duration {
        self.ended.map_or(Duration::ZERO, |t| t - start)
    }

    pub fn summary(&self) -> Percentiles {
        let h = &self.histogram;
        let ms = |us: u64| round(us as f64 / 1000.0, 3);
        Percentiles {
            p50: ms(h.value_at_quantile(0.50)),
            p95: ms(h.value_at_quantile(0.95)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
        }
    }
}

/// Percentiles of a latency, milliseconds (0 when nothing was measured).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
            self.p50, self.p95, self.p99, self.max
        )
    }
}

/// Items 0..total handed out one at a time: `n` tasks taking from it keep
/// `n` operations in flight until it runs out.
pub struct Tickets {
    next: AtomicU64,
    total: u64,
}

impl Tickets {
    pub fn new(total: u64) -> Self {
        Self {
            next: AtomicU64::new(0),
            total,
        }
    }

    pub fn take(&self) -> Option<u64> {
        let i = self.next.fetch_add(1, Relaxed);
        (i < self.total).then_some(i)
    }
}

/// When each item was sent (monotonic clock), so that whoever receives it
/// can tell how long it took.
pub struct SentAt {
    origin: Instant,
    /// Nanoseconds since `origin`, plus one; 0: not sent yet.
    at: Vec<AtomicU64>,
}

impl SentAt {
    pub fn new(items: u64) -> Self {
        Self {
            origin: Instant::now(),
            at: (0..items).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Item `i` is being sent now.
    pub fn mark(&self, i: u64) {
        let nanos = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        if let Some(slot) = self.at.get(i as usize) {
            slot.store(nanos + 1, Relaxed);
        }
    }

    /// How long ago item `i` was sent, if it was.
    pub fn since(&self, i: u64) -> Option<Duration> {
        let nanos = self.at.get(i as usize)?.load(Relaxed).checked_sub(1)?;
        Some(
            self.origin
                .elapsed()
                .saturating_sub(Duration::from_nanos(nanos)),
        )
    }
}

/// Operations that failed, counted per slot (a channel, or one slot for
/// everything); the first failure is logged.
pub struct Failures {
    slots: Vec<AtomicU64>,
}

impl Failures {
    pub fn new(slots: u64) -> Self {
        Self {
            slots: (0..slots.max(1)).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// Counts a failure of `what` in `slot`.
    pub fn add(&self, slot: u64, what: &str, error: &anyhow::Error) {
        if self.total() == 0 {
            tracing::warn!(
                error = format!("{error:#}"),
                "{what} failed; failures are counted"
            );
        }
        if let Some(n) = self.slots.get(slot as usize) {
            n.fetch_add(1, Relaxed);
        }
    }

    pub fn in_slot(&self, slot: u64) -> u64 {
        self.slots.get(slot as usize).map_or(0, |n| n.load(Relaxed))
    }

    pub fn total(&self) -> u64 {
        self.slots.iter().map(|n| n.load(Relaxed)).sum()
    }
}

/// `n` per second of `d`.
pub fn per_sec(n: u64, d: Duration) -> f64 {
    if d.is_zero() {
        return 0.0;
    }
    round(n as f64 / d.as_secs_f64(), 1)
}

/// Seconds, to the millisecond.
pub fn secs(d: Duration) -> f64 {
    round(d.as_secs_f64(), 3)
}

fn round(x: f64, digits: i32) -> f64 {
    let k = 10f64.powi(digits);
    (x * k).round() / k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tickets_hand_out_each_item_once() {
        let t = Tickets::new(3);
        let taken: Vec<_> = std::iter::from_fn(|| t.take()).collect();
        assert_eq!(taken, vec![0, 1, 2]);
        assert_eq!(t.take(), None);
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut l = Latencies::default();
        for ms in 1..=100 {
            l.record(Duration::from_millis(ms));
        }
        let p = l.summary();
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 99.0).abs() < 0.1, "{p:?}");
        assert_eq!(l.count(), 100);
    }

    #[tokio::test]
    async fn an_item_not_sent_has_no_age() {
        let s = SentAt::new(2);
        s.mark(1);
        assert!(s.since(0).is_none());
        assert!(s.since(1).is_some());
        assert!(s.since(5).is_none());
    }
}
