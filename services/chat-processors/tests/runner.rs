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
