//! The runner's commits: a pipelined processor's batch is committed only
//! once what it left in flight is durable, so a crash before then hands
//! the batch out again (DESIGN invariant: a crash after an acknowledgement
//! never loses the message).

use async_trait::async_trait;
use chat_embedded::{EmbeddedLog, LogOptions};
use chat_ports::{EventLog, LogRecord, OutRecord};
use chat_processors::{runner, Processor};
use chat_telemetry::Metrics;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Takes batches at once; their effects stay in flight while `hold` is set.
#[derive(Default)]
struct Gate {
    hold: AtomicBool,
    started: AtomicUsize,
    settled: AtomicUsize,
}

#[async_trait]
impl Processor for Gate {
    fn group(&self) -> &'static str {
        "gate"
    }

    fn topics(&self) -> &'static [&'static str] {
        &["t"]
    }

    async fn handle(&self, records: &[LogRecord]) -> chat_processors::Result<()> {
        self.start(records).await?;
        self.settle().await
    }

    fn pipelined(&self) -> bool {
        true
    }

    async fn start(&self, records: &[LogRecord]) -> chat_processors::Result<()> {
        self.settle().await?;
        self.started.fetch_add(records.len(), SeqCst);
        Ok(())
    }

    async fn settle(&self) -> chat_processors::Result<()> {
        let in_flight = self.started.load(SeqCst) > self.settled.load(SeqCst);
        if in_flight && self.hold.load(SeqCst) {
            return Err(chat_ports::PortError::unavailable("gate", "held").into());
        }
        self.settled.store(self.started.load(SeqCst), SeqCst);
        Ok(())
    }
}

fn record(i: usize) -> OutRecord {
    OutRecord {
        topic: "t".into(),
        key: format!("k{i}"),
        payload: vec![i as u8],
        headers: vec![],
        timestamp: 0,
    }
}

/// What a new member of the group would be handed: everything after the
/// committed offsets.
async fn uncommitted(log: &EmbeddedLog) -> usize {
    let mut c = log.consumer("gate", &["t"]).await.unwrap();
    c.poll(100, Duration::from_millis(50)).await.unwrap().len()
}

async fn eventually(what: &str, f: impl Fn() -> bool) {
    for _ in 0..200 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn a_pipelined_batch_is_committed_only_once_settled() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), LogOptions::default()).unwrap();
    let gate = Arc::new(Gate::default());
    gate.hold.store(true, SeqCst);
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(runner::run(
        gate.clone(),
        Arc::new(log.clone()),
        shutdown.clone(),
        Metrics::new(),
    ));

    log.append((0..3).map(record).collect()).await.unwrap();
    eventually("the batch is started", || gate.started.load(SeqCst) == 3).await;
    // In flight and failing to settle: nothing may be committed.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(uncommitted(&log).await, 3, "committed before settled");

    gate.hold.store(false, SeqCst);
    eventually("the batch is settled", || gate.settled.load(SeqCst) == 3).await;
    for _ in 0..100 {
        if uncommitted(&log).await == 0 {
            break;
        }
    }
    assert_eq!(uncommitted(&log).await, 0, "settled but never committed");

    shutdown.cancel();
    task.await.unwrap().unwrap();
}

/// Applies records, refusing for good those whose payload is 0xFF and
/// failing transiently the first two times it is called.
#[derive(Default)]
struct Picky {
    calls: AtomicUsize,
    applied: std::sync::Mutex<Vec<u8>>,
}

#[async_trait]
impl Processor for Picky {
    fn group(&self) -> &'static str {
        "picky"
    }

    fn topics(&self) -> &'static [&'static str] {
        &["t"]
    }

    async fn handle(&self, records: &[LogRecord]) -> chat_processors::Result<()> {
        if self.calls.fetch_add(1, SeqCst) < 2 {
            return Err(chat_ports::PortError::unavailable("store", "restarting").into());
        }
        if records.iter().any(|r| r.payload == [0xFF]) {
            return Err(chat_ports::PortError::refused("store", "value refused").into());
        }
        let mut applied = self.applied.lock().unwrap();
        applied.extend(records.iter().map(|r| r.payload[0]));
        Ok(())
    }
}

/// A record the store refuses for good goes to the dead-letter topic with
/// its reason and its partition moves on; transient failures before it are
/// retried and set nothing aside.
#[tokio::test]
async fn a_record_that_can_never_be_applied_is_set_aside_and_the_rest_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(
        &dir.path().join("log.redb"),
        LogOptions {
            partitions: 1,
            ..LogOptions::default()
        },
    )
    .unwrap();
    let mut records: Vec<OutRecord> = (1..=5).map(record).collect();
    records[2].payload = vec![0xFF];
    log.append(records).await.unwrap();
    let picky = Arc::new(Picky::default());
    let metrics = Metrics::new();
    let shutdown = CancellationToken::new();
    let running = tokio::spawn(runner::run(
        picky.clone(),
        Arc::new(log.clone()),
        shutdown.clone(),
        metrics.clone(),
    ));
    eventually("the others are applied", || {
        picky.applied.lock().unwrap().len() == 4
    })
    .await;
    assert_eq!(*picky.applied.lock().unwrap(), vec![1, 2, 4, 5]);
    let mut dead = log
        .consumer("ops", &[chat_events::topics::DEADLETTER])
        .await
        .unwrap();
    let set_aside = dead.poll(10, Duration::from_secs(2)).await.unwrap();
    assert_eq!(set_aside.len(), 1, "one dead letter");
    let Ok(chat_domain::Event::DeadLettered(d)) =
        chat_events::Codec::new().decode_event(&set_aside[0].payload)
    else {
        panic!("a DeadLettered record");
    };
    assert_eq!(
        (d.topic.as_str(), d.offset, d.payload_hex.as_str()),
        ("t", 2, "ff")
    );
    assert_eq!(d.group, "picky");
    assert!(d.reason.contains("value refused"), "{}", d.reason);
    assert!(
        metrics
            .render()
            .contains("dead_letters_total{group=\"picky\"} 1"),
        "{}",
        metrics.render()
    );
    shutdown.cancel();
    running.await.unwrap().unwrap();
    let mut c = log.consumer("picky", &["t"]).await.unwrap();
    assert!(
        c.poll(100, Duration::from_millis(50))
            .await
            .unwrap()
            .is_empty(),
        "committed past it"
    );
}
