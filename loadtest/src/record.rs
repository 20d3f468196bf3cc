//! What a run measures: HDR latency histograms, counters, and per-second
//! buckets for the throughput chart.
//!
//! Devices record concurrently; histograms are sharded by device so that
//! thousands of tasks rarely wait on one lock, and merged at the end.

use crate::clock;
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Mutex;

const SHARDS: usize = 16;
/// Highest latency kept exactly: one minute, in microseconds.
const MAX_US: u64 = 60_000_000;
/// The longest run the timeline holds, seconds.
const TIMELINE_SECS: usize = 4 * 3600;

/// Which latency a sample belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latency {
    /// send → `sent` (ours) or send → stream-management ack (XMPP).
    Sent,
    /// send → the message at another device.
    Delivered,
    /// TCP connect → ready for traffic (after `synced`, or after XMPP
    /// bind and presence).
    Connect,
    /// A reconnect after a drop → `synced`.
    Resync,
}

const KINDS: [Latency; 4] = [
    Latency::Sent,
    Latency::Delivered,
    Latency::Connect,
    Latency::Resync,
];

impl Latency {
    fn index(self) -> usize {
        self as usize
    }

    /// The name used in reports.
    pub fn name(self) -> &'static str {
        match self {
            Latency::Sent => "sent",
            Latency::Delivered => "delivered",
            Latency::Connect => "connect",
            Latency::Resync => "resync",
        }
    }
}

/// A counter in the per-second timeline.
#[derive(Debug, Clone, Copy)]
pub enum Tick {
    /// A send written to the socket.
    Send,
    /// A send acknowledged.
    Ack,
    /// A message delivered to a device other than the sender's.
    Delivery,
    /// A connection became ready.
    Connect,
    /// An error frame, a refused send or a failed connection.
    Error,
}

/// Everything devices record during the measured phase of one run.
pub struct Recorder {
    start_us: u64,
    shards: Vec<Mutex<Vec<Histogram<u64>>>>,
    timeline: Vec<[AtomicU64; 5]>,
    errors: Mutex<BTreeMap<String, u64>>,
}

impl Recorder {
    /// A recorder whose timeline starts now.
    pub fn new() -> Self {
        let hist = || Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds");
        Recorder {
            start_us: clock::now_us(),
            shards: (0..SHARDS)
                .map(|_| Mutex::new(KINDS.iter().map(|_| hist()).collect()))
                .collect(),
            timeline: (0..TIMELINE_SECS).map(|_| Default::default()).collect(),
            errors: Mutex::new(BTreeMap::new()),
        }
    }

    /// Microseconds since the epoch when the timeline started.
    pub fn start_us(&self) -> u64 {
        self.start_us
    }

    /// Records one latency of `us` microseconds, from device `device`.
    pub fn latency(&self, device: usize, kind: Latency, us: u64) {
        let mut shard = self.shards[device % SHARDS].lock().expect("recorder lock");
        shard[kind.index()].saturating_record(us.clamp(1, MAX_US));
    }

    /// Counts one event in the current second.
    pub fn tick(&self, what: Tick) {
        let sec = (clock::now_us().saturating_sub(self.start_us) / 1_000_000) as usize;
        if let Some(bucket) = self.timeline.get(sec) {
            bucket[what as usize].fetch_add(1, Relaxed);
        }
    }

    /// Counts an error by its code, and in the timeline.
    pub fn error(&self, code: &str) {
        self.tick(Tick::Error);
        *self
            .errors
            .lock()
            .expect("recorder lock")
            .entry(code.to_string())
            .or_default() += 1;
    }

    /// Errors by code so far.
    pub fn errors(&self) -> BTreeMap<String, u64> {
        self.errors.lock().expect("recorder lock").clone()
    }

    /// The merged histogram of one latency.
    pub fn histogram(&self, kind: Latency) -> Histogram<u64> {
        let mut all = Histogram::new_with_bounds(1, MAX_US, 3).expect("valid histogram bounds");
        for shard in &self.shards {
            let shard = shard.lock().expect("recorder lock");
            all.add(&shard[kind.index()]).expect("same bounds");
        }
        all
    }

    /// Summaries of every latency that has samples.
    pub fn summaries(&self) -> BTreeMap<String, LatencySummary> {
        KINDS
            .iter()
            .filter_map(|&k| {
                let h = self.histogram(k);
                (!h.is_empty()).then(|| (k.name().to_string(), LatencySummary::of(&h)))
            })
            .collect()
    }

    /// The per-second counts from `from_sec` (inclusive) to `to_sec`
    /// (exclusive), seconds since the start of the timeline.
    pub fn timeline(&self, from_sec: usize, to_sec: usize) -> Vec<Second> {
        (from_sec..to_sec.min(TIMELINE_SECS))
            .map(|s| {
                let b = &self.timeline[s];
                Second {
                    t: s as u64,
                    sends: b[Tick::Send as usize].load(Relaxed),
                    acks: b[Tick::Ack as usize].load(Relaxed),
                    deliveries: b[Tick::Delivery as usize].load(Relaxed),
                    connects: b[Tick::Connect as usize].load(Relaxed),
                    errors: b[Tick::Error as usize].load(Relaxed),
                    ..Second::default()
                }
            })
            .collect()
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

/// One second of a run, for the throughput chart.
#[derive(Debug, Clone, Default, Serialize, serde::Deserialize)]
pub struct Second {
    /// Seconds since the start of the run.
    pub t: u64,
    /// Sends written.
    pub sends: u64,
    /// Sends acknowledged.
    pub acks: u64,
    /// Messages delivered to devices other than the sender's.
    pub deliveries: u64,
    /// Connections that became ready.
    pub connects: u64,
    /// Errors.
    pub errors: u64,
    /// Server CPU in this second, percent of one core.
    pub server_cpu_pct: f64,
    /// Server resident memory at the end of this second, MiB.
    pub server_rss_mib: f64,
    /// Generator CPU in this second, percent of one core.
    pub generator_cpu_pct: f64,
}

/// Percentiles of one latency, milliseconds.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
    /// (percentile, ms) points from 0 to 99.999, for the latency chart.
    pub distribution: Vec<(f64, f64)>,
}

impl LatencySummary {
    /// Reads the percentiles off a histogram of microseconds.
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| us as f64 / 1000.0;
        let at = |q: f64| ms(h.value_at_quantile(q));
        let distribution = (0..=100)
            .map(|k| {
                let q = 1.0 - 10f64.powf(-(k as f64) / 20.0);
                (q * 100.0, at(q))
            })
            .collect();
        LatencySummary {
            count: h.len(),
            mean_ms: h.mean() / 1000.0,
            p50_ms: at(0.5),
            p90_ms: at(0.9),
            p95_ms: at(0.95),
            p99_ms: at(0.99),
            p999_ms: at(0.999),
            max_ms: ms(h.max()),
            distribution,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_all_shards() {
        let r = Recorder::new();
        for i in 0..1000u64 {
            r.latency(i as usize, Latency::Delivered, (i + 1) * 1000);
        }
        let s = &r.summaries()["delivered"];
        assert_eq!(s.count, 1000);
        assert!((s.p50_ms - 500.0).abs() < 2.0, "{}", s.p50_ms);
        assert!((s.p99_ms - 990.0).abs() < 4.0, "{}", s.p99_ms);
        assert!(!r.summaries().contains_key("sent"));
    }

    #[test]
    fn ticks_land_in_the_current_second() {
        let r = Recorder::new();
        r.tick(Tick::Delivery);
        r.error("rate_limited");
        let t = r.timeline(0, 1);
        assert_eq!(t[0].deliveries, 1);
        assert_eq!(t[0].errors, 1);
        assert_eq!(r.errors()["rate_limited"], 1);
    }
}
