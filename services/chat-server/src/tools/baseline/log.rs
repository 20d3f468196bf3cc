//! `chatctl baseline log`: the bare rate of the event log of
//! `[engines] log`, opened as every process opens it.
//!
//! Records of the size and shape of the gateway's sends (a `SendMessage`
//! with its body, keyed by a direct conversation, Avro-encoded by the
//! service's codec, with a `traceparent` header) are appended one per
//! append call, `concurrency` calls in flight, as many gateway connections
//! append; their keys spread over many conversations, so over every
//! partition. A consumer of a group of its own reads them at the same
//! time and commits after each poll, as a processor does. Nothing but the
//! log runs in between: this is the most the pipeline's log can carry
//! with these settings.
//!
//! The records go to a scratch topic, `baseline.<suffix>` (the engine's
//! topic prefix before it), which no processor reads. It stays in the log
//! until retention removes it (Kafka: the broker's default retention;
//! embedded: the server's retention sweep).

use super::shape::Run;
use super::stats::{per_sec, secs, Failures, Latencies, Percentiles, SentAt, Tickets, STALL};
use crate::engines::open_log;
use crate::Config;
use anyhow::Context;
use chat_domain::Command;
use chat_events::Codec;
use chat_ports::log::{last_positions, TRACEPARENT};
use chat_ports::{EventLog, LogConsumer, LogRecord, OutRecord};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// How `chatctl baseline log` runs.
#[derive(Debug, Clone, clap::Args)]
pub struct LogOptions {
    /// Records to append.
    #[arg(long, default_value_t = 50_000)]
    pub records: u64,
    /// Appends in flight, one record each.
    #[arg(long, default_value_t = 256)]
    pub concurrency: usize,
    /// Bytes of each send's body.
    #[arg(long, default_value_t = 100)]
    pub body_bytes: usize,
    /// Conversations the records are keyed by, in turn.
    #[arg(long, default_value_t = 10_000)]
    pub conversations: u64,
    /// The scratch topic is `baseline.<suffix>`; by default the run's tag,
    /// new each run. Records of other runs in it are skipped.
    #[arg(long)]
    pub topic_suffix: Option<String>,
}

/// What the log did.
#[derive(Debug, Clone, Serialize)]
pub struct LogReport {
    /// The scratch topic, without the engine's prefix.
    pub topic: String,
    pub records: u64,
    pub concurrency: usize,
    /// One record's key, payload and headers.
    pub record_bytes: usize,
    /// One record's Avro payload.
    pub payload_bytes: usize,
    /// From the first append to the last acknowledgement.
    pub seconds: f64,
    /// Acknowledged appends per second.
    pub appends_per_sec: f64,
    /// From an append call to its acknowledgement.
    pub append_ms: Percentiles,
    /// Appends that failed (the gateway would answer `overloaded`).
    pub failed: u64,
    /// Records of this run the consumer read (each counted once).
    pub consumed: u64,
    /// From the first append to the last record read.
    pub consume_seconds: f64,
    pub consumed_per_sec: f64,
    /// From an append call to the consumer's poll that returned the record.
    pub produce_to_consume_ms: Percentiles,
}

impl LogReport {
    /// One line per figure, for people.
    pub fn lines(&self) -> Vec<String> {
        vec![
            format!(
                "log: {} appends of {} bytes in {} s, {} in flight: {} appends/s, {} failed",
                self.records,
                self.record_bytes,
                self.seconds,
                self.concurrency,
                self.appends_per_sec,
                self.failed
            ),
            format!("log: append latency {}", self.append_ms),
            format!(
                "log: {} of {} records read in {} s: {} records/s",
                self.consumed, self.records, self.consume_seconds, self.consumed_per_sec
            ),
            format!("log: append to read {}", self.produce_to_consume_ms),
        ]
    }
}

/// The index of the record that only checks that the consumer reads.
const PROBE: u64 = u64::MAX;

/// Appends `options.records` send records to a scratch topic while a
/// consumer reads them back.
pub async fn log(config: &Config, options: &LogOptions) -> anyhow::Result<LogReport> {
    anyhow::ensure!(
        options.concurrency > 0 && options.conversations > 0,
        "--concurrency and --conversations must be above 0"
    );
    let run = Arc::new(Run::new(options.body_bytes));
    let suffix = options.topic_suffix.as_deref().unwrap_or(run.tag());
    let topic = format!("baseline.{suffix}");
    let (log, embedded) = open_log(config).await?;
    let codec = Arc::new(Codec::new());
    let make = Records {
        run: run.clone(),
        codec,
        topic: topic.clone(),
        conversations: options.conversations,
    };
    let sample = make.record(0)?;

    let mut consumer = log
        .consumer(&format!("baseline-{}", run.tag()), &[&topic])
        .await
        .with_context(|| format!("cannot read the scratch topic {topic}"))?;
    log.append(vec![make.record(PROBE)?])
        .await
        .with_context(|| format!("cannot append to the scratch topic {topic}"))?;
    wait_for_probe(consumer.as_mut(), run.id()).await?;

    let shared = Arc::new(Shared {
        log: log.clone(),
        make,
        tickets: Tickets::new(options.records),
        sent: SentAt::new(options.records),
        failed: Failures::new(1),
    });
    let started = Instant::now();
    let mut reader = JoinSet::new();
    reader.spawn(read(consumer, options.records, shared.clone()));
    let mut appenders = JoinSet::new();
    for _ in 0..options.concurrency {
        appenders.spawn(append(shared.clone()));
    }
    let mut append_latency = Latencies::default();
    while let Some(done) = appenders.join_next().await {
        append_latency.merge(&done.context("an appender panicked")??);
    }
    let appended = append_latency.span_from(started);
    let read = reader
        .join_next()
        .await
        .context("the consumer is gone")?
        .context("the consumer panicked")??;
    let failed = shared.failed.total();
    drop((shared, log));
    if let Some(log) = embedded {
        log.close().await;
    }
    let read_for = read.last.map_or(Duration::ZERO, |t| t - started);
    Ok(LogReport {
        topic,
        records: options.records,
        concurrency: options.concurrency,
        record_bytes: sample.key.len()
            + sample.payload.len()
            + sample
                .headers
                .iter()
                .map(|(k, v)| k.len() + v.len())
                .sum::<usize>(),
        payload_bytes: sample.payload.len(),
        seconds: secs(appended),
        appends_per_sec: per_sec(append_latency.count(), appended),
        append_ms: append_latency.summary(),
        failed,
        consumed: read.consumed,
        consume_seconds: secs(read_for),
        consumed_per_sec: per_sec(read.consumed, read_for),
        produce_to_consume_ms: read.latencies.summary(),
    })
}

/// Makes the run's records.
struct Records {
    run: Arc<Run>,
    codec: Arc<Codec>,
    topic: String,
    conversations: u64,
}

impl Records {
    /// Record `i`: send `i` of the run in conversation `i % conversations`,
    /// keyed, encoded and stamped as the gateway appends a send. Its
    /// `traceparent` (as long as the gateway's) names the run and `i`.
    fn record(&self, i: u64) -> anyhow::Result<OutRecord> {
        let send = self.run.send(i % self.conversations, i);
        let key = send.conv.to_string();
        let payload = self.codec.encode_command(&Command::from(send))?;
        let traceparent = format!("00-{:016x}{i:016x}-{:016x}-01", self.run.id(), i | 1);
        Ok(OutRecord {
            topic: self.topic.clone(),
            key,
            payload,
            headers: vec![(TRACEPARENT.to_string(), traceparent.into_bytes())],
            timestamp: chat_domain::time::now_ms(),
        })
    }
}

/// The index of a record of run `run`, from its `traceparent`.
fn index_of(r: &LogRecord, run: u64) -> Option<u64> {
    let header = std::str::from_utf8(r.header(TRACEPARENT)?).ok()?;
    let trace = header.split('-').nth(1)?;
    let hex = |s: Option<&str>| u64::from_str_radix(s?, 16).ok();
    (hex(trace.get(..16))? == run).then_some(())?;
    hex(trace.get(16..))
}

/// What the appenders and the consumer share.
struct Shared {
    log: Arc<dyn EventLog>,
    make: Records,
    tickets: Tickets,
    sent: SentAt,
    failed: Failures,
}

/// Takes tickets and appends their records one at a time.
async fn append(shared: Arc<Shared>) -> anyhow::Result<Latencies> {
    let mut latencies = Latencies::default();
    while let Some(i) = shared.tickets.take() {
        let record = shared.make.record(i)?;
        let started = Instant::now();
        shared.sent.mark(i);
        match shared.log.append(vec![record]).await {
            Ok(_) => latencies.time(started),
            Err(e) => shared.failed.add(0, "an append", &e.into()),
        }
    }
    Ok(latencies)
}

/// Polls until the probe record comes back: the consumer has joined its
/// group and holds the topic's partitions. Until then a failed poll is
/// asked again (Kafka refuses polls of a topic created moments ago).
async fn wait_for_probe(consumer: &mut dyn LogConsumer, run: u64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let polled = consumer.poll(512, Duration::from_millis(250)).await;
        match polled {
            Ok(batch) if batch.iter().any(|r| index_of(r, run) == Some(PROBE)) => return Ok(()),
            Ok(_) => {}
            Err(e) if Instant::now() >= deadline => {
                return Err(e).context("the consumer cannot read the scratch topic")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the consumer did not read the first record back within 60 s"
        );
    }
}

/// What the consumer read of the run.
struct Read {
    consumed: u64,
    /// When it read the last of them.
    last: Option<Instant>,
    latencies: Latencies,
}

/// Reads until every record of the run came (but those whose append
/// failed), or none came for [`STALL`].
async fn read(
    mut consumer: Box<dyn LogConsumer>,
    records: u64,
    shared: Arc<Shared>,
) -> anyhow::Result<Read> {
    let run = shared.make.run.id();
    let mut seen = vec![false; records as usize];
    let mut out = Read {
        consumed: 0,
        last: None,
        latencies: Latencies::default(),
    };
    let mut heard = Instant::now();
    while out.consumed + shared.failed.total() < records && heard.elapsed() < STALL {
        let batch = consumer
            .poll(512, Duration::from_millis(100))
            .await
            .context("the consumer failed")?;
        if batch.is_empty() {
            continue;
        }
        heard = Instant::now();
        for r in &batch {
            let Some(i) = index_of(r, run) else { continue };
            // The probe, or a record read twice, is not counted.
            let Some(slot) = seen.get_mut(i as usize) else {
                continue;
            };
            if std::mem::replace(slot, true) {
                continue;
            }
            out.consumed += 1;
            out.last = Some(heard);
            if let Some(age) = shared.sent.since(i) {
                out.latencies.record(age);
            }
        }
        consumer
            .commit(&last_positions(&batch))
            .await
            .context("the consumer's commit failed")?;
    }
    Ok(out)
}
