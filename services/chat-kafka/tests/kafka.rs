//! The Kafka engine against a real Kafka-protocol broker at
//! `KAFKA_BOOTSTRAP` (`./infra/test.sh` starts a local one).

use chat_kafka::{KafkaLog, KafkaOptions};

fn bootstrap() -> Option<String> {
    match std::env::var("KAFKA_BOOTSTRAP") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            chat_ports::conformance::skip(
                "KAFKA_BOOTSTRAP is not set (./infra/test.sh starts a local broker)",
            );
            None
        }
    }
}

async fn log() -> Option<KafkaLog> {
    let bootstrap = bootstrap()?;
    let options = KafkaOptions {
        bootstrap,
        topic_prefix: format!("t{}.", uuid::Uuid::new_v4().simple()),
        partitions: 4,
        ..KafkaOptions::default()
    };
    Some(KafkaLog::connect(options).await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_kafka_log_passes_the_log_conformance_suite() {
    let Some(log) = log().await else { return };
    chat_ports::conformance::log::run_all(&log, "conf.").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_land_where_the_embedded_log_puts_them() {
    let Some(log) = log().await else { return };
    use chat_ports::{EventLog, OutRecord};
    for key in ["d-7ebd137afae958158ad184597975afce", "g-1", "alice", "x"] {
        let p = log
            .append(vec![OutRecord {
                topic: "murmur".into(),
                key: key.into(),
                payload: b"x".to_vec(),
                headers: vec![],
                timestamp: 0,
            }])
            .await
            .unwrap();
        assert_eq!(
            p[0].partition,
            chat_events::topics::partition_for(key, 4),
            "{key}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declared_topics_are_applied_idempotently() {
    let Some(log) = log().await else { return };
    // connect() applied them; applying again creates nothing.
    assert!(log.apply_declared_topics().await.unwrap().is_empty());
    chat_ports::EventLog::health(&log).await.unwrap();
}

/// A member's generation moves when the group gives its partitions to
/// another member too, by the time the new assignment's records are
/// polled: processors forget what they remembered of those partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_s_generation_moves_when_its_group_rebalances() {
    let Some(log) = log().await else { return };
    use chat_ports::{EventLog, OutRecord};
    use std::time::{Duration, Instant};
    let records = (0..16)
        .map(|i| OutRecord {
            topic: "rebalanced".into(),
            key: format!("k{i}"),
            payload: b"x".to_vec(),
            headers: vec![],
            timestamp: 0,
        })
        .collect();
    log.append(records).await.unwrap();
    let mut a = log.consumer("g", &["rebalanced"]).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while a
        .poll(16, Duration::from_millis(200))
        .await
        .unwrap()
        .is_empty()
    {
        assert!(
            Instant::now() < deadline,
            "the first member never got records"
        );
    }
    let alone = a.generation();
    assert!(alone > 0, "the first assignment moves it too");

    let mut b = log.consumer("g", &["rebalanced"]).await.unwrap();
    loop {
        let (_, got) = tokio::join!(
            a.poll(16, Duration::from_millis(200)),
            b.poll(16, Duration::from_millis(200))
        );
        if !got.unwrap().is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the second member never got records"
        );
    }
    assert!(
        a.generation() > alone,
        "the first member's partitions were reassigned"
    );
}
