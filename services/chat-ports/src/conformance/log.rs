//! The event-log conformance suite: what processors rely on, generic over
//! [`EventLog`], run by every log engine's tests. Each check uses its own
//! topics under `prefix`, so engines whose topics outlive a test (Kafka)
//! stay isolated.

use crate::log::last_positions;
use crate::{EventLog, OutRecord};
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn rec(topic: &str, key: &str, payload: &str) -> OutRecord {
    OutRecord {
        topic: topic.into(),
        key: key.into(),
        payload: payload.as_bytes().to_vec(),
        headers: vec![("trace".into(), format!("t-{payload}").into_bytes())],
        timestamp: 1_700_000_000_000,
    }
}

/// Polls until `n` records arrived (or the wait ends).
async fn poll_n(c: &mut Box<dyn crate::LogConsumer>, n: usize) -> Vec<crate::LogRecord> {
    let end = tokio::time::Instant::now() + WAIT;
    let mut out = Vec::new();
    while out.len() < n && tokio::time::Instant::now() < end {
        out.extend(
            c.poll(n - out.len(), Duration::from_millis(500))
                .await
                .unwrap(),
        );
    }
    out
}

/// Runs every check of the suite.
pub async fn run_all(log: &dyn EventLog, prefix: &str) {
    keys_keep_their_partition_and_order(log, &format!("{prefix}order")).await;
    groups_resume_after_their_commits(log, &format!("{prefix}resume")).await;
    a_poll_waits_for_appends(log, &format!("{prefix}wait")).await;
    end_offsets_follow_appends(log, &format!("{prefix}ends")).await;
    a_record_is_read_back_at_its_offset(log, &format!("{prefix}at")).await;
}

/// `read_at` returns the record appended at an offset, with its key,
/// payload and fingerprint, and nothing past a partition's end.
pub async fn a_record_is_read_back_at_its_offset(log: &dyn EventLog, topic: &str) {
    let records: Vec<OutRecord> = (0..6)
        .map(|i| rec(topic, &format!("k{}", i % 2), &format!("at{i}")))
        .collect();
    let positions = log.append(records.clone()).await.unwrap();
    let mut fingerprints = Vec::new();
    for (sent, at) in records.iter().zip(&positions) {
        let got = log
            .read_at(topic, at.partition, at.offset)
            .await
            .unwrap()
            .expect("the record is there");
        assert_eq!(
            (got.partition, got.offset, &got.key, &got.payload),
            (at.partition, at.offset, &sent.key, &sent.payload)
        );
        fingerprints.push(got.fingerprint());
    }
    fingerprints.sort_unstable();
    fingerprints.dedup();
    assert_eq!(
        fingerprints.len(),
        records.len(),
        "different records differ"
    );
    let ends = log.end_offsets(topic).await.unwrap();
    for (p, end) in ends.iter().enumerate() {
        assert_eq!(log.read_at(topic, p as u32, *end).await.unwrap(), None);
    }
}

/// The end of each partition is one past its last record, and an empty
/// topic ends at 0 everywhere.
pub async fn end_offsets_follow_appends(log: &dyn EventLog, topic: &str) {
    let before = log.end_offsets(topic).await.unwrap();
    assert!(!before.is_empty(), "a topic has partitions");
    assert!(before.iter().all(|o| *o == 0), "{before:?}");
    let records = (0..12)
        .map(|i| rec(topic, &format!("k{}", i % 4), &format!("{i}")))
        .collect();
    let positions = log.append(records).await.unwrap();
    let after = log.end_offsets(topic).await.unwrap();
    assert_eq!(after.len(), before.len());
    let mut expected = vec![0u64; after.len()];
    for p in &positions {
        let e = &mut expected[p.partition as usize];
        *e = (*e).max(p.offset + 1);
    }
    assert_eq!(after, expected);
    assert_eq!(after.iter().sum::<u64>(), 12);
}

pub async fn keys_keep_their_partition_and_order(log: &dyn EventLog, topic: &str) {
    let mut records = Vec::new();
    for i in 0..30 {
        records.push(rec(
            topic,
            &format!("conv-{}", i % 3),
            &format!("{}-{i}", i % 3),
        ));
    }
    let positions = log.append(records).await.unwrap();
    assert_eq!(positions.len(), 30);
    let mut partition_of: HashMap<String, u32> = HashMap::new();
    for (i, p) in positions.iter().enumerate() {
        let key = format!("conv-{}", i % 3);
        let expected = *partition_of.entry(key).or_insert(p.partition);
        assert_eq!(p.partition, expected, "a key stays in one partition");
    }
    let mut c = log.consumer("order-group", &[topic]).await.unwrap();
    let got = poll_n(&mut c, 30).await;
    assert_eq!(got.len(), 30, "every record is read once");
    for k in 0..3 {
        let seen: Vec<String> = got
            .iter()
            .filter(|r| r.key == format!("conv-{k}"))
            .map(|r| String::from_utf8(r.payload.clone()).unwrap())
            .collect();
        let expected: Vec<String> = (0..30)
            .filter(|i| i % 3 == k)
            .map(|i| format!("{k}-{i}"))
            .collect();
        assert_eq!(seen, expected, "a key's records come back in append order");
    }
    let first = got.iter().find(|r| r.payload == b"0-0").unwrap();
    assert_eq!(
        first.headers,
        vec![("trace".to_string(), b"t-0-0".to_vec())]
    );
    assert_eq!(first.topic, topic);
}

pub async fn groups_resume_after_their_commits(log: &dyn EventLog, topic: &str) {
    let records = (0..10).map(|i| rec(topic, "k", &i.to_string())).collect();
    log.append(records).await.unwrap();
    {
        let mut c = log.consumer("resume-a", &[topic]).await.unwrap();
        let got = poll_n(&mut c, 10).await;
        assert_eq!(got.len(), 10);
        // Commit the first four only.
        c.commit(&last_positions(&got[..4])).await.unwrap();
    }
    let mut c = log.consumer("resume-a", &[topic]).await.unwrap();
    let got = poll_n(&mut c, 6).await;
    let payloads: Vec<String> = got
        .iter()
        .map(|r| String::from_utf8(r.payload.clone()).unwrap())
        .collect();
    assert_eq!(
        payloads,
        vec!["4", "5", "6", "7", "8", "9"],
        "resume after the commit"
    );
    let mut other = log.consumer("resume-b", &[topic]).await.unwrap();
    assert_eq!(
        poll_n(&mut other, 10).await.len(),
        10,
        "groups are independent"
    );
}

pub async fn a_poll_waits_for_appends(log: &dyn EventLog, topic: &str) {
    // Creates the topic and joins before anything is in it.
    log.append(vec![rec(topic, "k", "first")]).await.unwrap();
    let mut c = log.consumer("wait-group", &[topic]).await.unwrap();
    assert_eq!(poll_n(&mut c, 1).await.len(), 1);
    let appender = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        log.append(vec![rec(topic, "k", "late")]).await.unwrap();
    };
    let (_, got) = tokio::join!(appender, poll_n(&mut c, 1));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].payload, b"late");
}
