use super::*;
use std::time::Duration;

fn record(key: &str, payload: &str, ts: i64) -> OutRecord {
    OutRecord {
        topic: "t".into(),
        key: key.into(),
        payload: payload.as_bytes().to_vec(),
        headers: vec![("h".into(), b"v".to_vec())],
        timestamp: ts,
    }
}

#[tokio::test]
async fn appends_land_in_the_key_partition_in_order_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    {
        let log = EmbeddedLog::open(&path, LogOptions::default()).unwrap();
        let a = log
            .append(vec![record("k1", "a", 1), record("k1", "b", 2)])
            .await
            .unwrap();
        assert_eq!(a[0].partition, a[1].partition);
        assert_eq!(a[1].offset, a[0].offset + 1);
        assert_eq!(a[0].partition, chat_events::topics::partition_for("k1", 8));
        let mut c = log.consumer("g", &["t"]).await.unwrap();
        let got = c.poll(10, Duration::from_millis(100)).await.unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].payload, b"a");
        assert_eq!(got[0].headers, vec![("h".to_string(), b"v".to_vec())]);
        c.commit(&[got[0].position()]).await.unwrap();
        log.close().await;
    }
    let log = EmbeddedLog::open(&path, LogOptions::default()).unwrap();
    let mut c = log.consumer("g", &["t"]).await.unwrap();
    let got = c.poll(10, Duration::from_millis(100)).await.unwrap();
    assert_eq!(got.len(), 1, "the group resumes after its committed offset");
    assert_eq!(got[0].payload, b"b");
    let more = log.append(vec![record("k1", "c", 3)]).await.unwrap();
    assert_eq!(
        more[0].offset,
        got[0].offset + 1,
        "offsets continue after reopen"
    );
    let mut other = log.consumer("other", &["t"]).await.unwrap();
    assert_eq!(
        other
            .poll(10, Duration::from_millis(100))
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn a_waiting_poll_wakes_on_append() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), LogOptions::default()).unwrap();
    let mut c = log.consumer("g", &["t"]).await.unwrap();
    let l2 = log.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(50)).await;
        l2.append(vec![record("x", "late", 1)]).await.unwrap();
    });
    let got = c.poll(10, Duration::from_secs(5)).await.unwrap();
    assert_eq!(got.len(), 1);
}

#[tokio::test]
async fn expiry_drops_old_records_but_keeps_offsets_growing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.redb");
    {
        let log = EmbeddedLog::open(&path, LogOptions::default()).unwrap();
        log.append(vec![record("k", "old", 10), record("k", "new", 100)])
            .await
            .unwrap();
        assert_eq!(log.expire(50).await.unwrap(), 1);
        assert_eq!(log.expire(500).await.unwrap(), 1);
        log.close().await;
    }
    let log = EmbeddedLog::open(&path, LogOptions::default()).unwrap();
    let p = log.append(vec![record("k", "next", 1000)]).await.unwrap();
    assert_eq!(p[0].offset, 2);
}

/// Expiry never removes what a processor has not read yet: a sequencer
/// lagging past the retention, or a clock that jumped ahead, must not lose
/// commands never sequenced. Groups not named in `retain_for` (a reader of
/// the dead-letter topic, say) hold nothing back.
#[tokio::test]
async fn expiry_keeps_what_a_retained_group_has_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(
        &dir.path().join("log.redb"),
        LogOptions {
            partitions: 1,
            retain_for: vec!["sequencer".into()],
            ..LogOptions::default()
        },
    )
    .unwrap();
    let records = (0..5).map(|i| record("k", &format!("r{i}"), 10)).collect();
    log.append(records).await.unwrap();
    let mut sequencer = log.consumer("sequencer", &["t"]).await.unwrap();
    let read = sequencer.poll(2, Duration::from_millis(100)).await.unwrap();
    sequencer
        .commit(&chat_ports::log::last_positions(&read))
        .await
        .unwrap();
    let mut idle = log.consumer("tail", &["t"]).await.unwrap();
    let first = idle.poll(1, Duration::from_millis(100)).await.unwrap();
    idle.commit(&chat_ports::log::last_positions(&first))
        .await
        .unwrap();

    // The clock jumped far ahead: every record is "old".
    assert_eq!(
        log.expire(i64::MAX).await.unwrap(),
        2,
        "only what the sequencer read"
    );
    let rest = sequencer
        .poll(10, Duration::from_millis(100))
        .await
        .unwrap();
    let payloads: Vec<&[u8]> = rest.iter().map(|r| r.payload.as_slice()).collect();
    assert_eq!(payloads, [b"r2".as_slice(), b"r3", b"r4"]);
}

#[tokio::test]
async fn a_full_queue_is_refused_as_overload() {
    let dir = tempfile::tempdir().unwrap();
    let options = LogOptions {
        queue_capacity: 1,
        ..LogOptions::default()
    };
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), options).unwrap();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let log = log.clone();
        tasks.push(tokio::spawn(async move {
            log.append(vec![record(&i.to_string(), "x", 1)]).await
        }));
    }
    let mut overloaded = 0;
    for t in tasks {
        if let Err(PortError::Overloaded(_)) = t.await.unwrap() {
            overloaded += 1;
        }
    }
    assert!(overloaded > 0, "200 concurrent appends into a queue of one");
}

#[tokio::test]
async fn the_embedded_log_passes_the_log_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let log = EmbeddedLog::open(&dir.path().join("log.redb"), LogOptions::default()).unwrap();
    chat_ports::conformance::log::run_all(&log, "conf.").await;
}
