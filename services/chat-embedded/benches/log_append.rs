//! What an acknowledged append costs on this disk: one append at a time
//! (every ack pays a full fsync), and 64 concurrent appends (group commit
//! shares one fsync among everything that arrived meanwhile), with the
//! `always` and `never` fsync policies.
//!
//! Run: `cargo bench -p chat-embedded --bench log_append`

use chat_embedded::{EmbeddedLog, FsyncPolicy, LogOptions};
use chat_ports::{EventLog, OutRecord};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::Duration;

fn record(i: u64) -> OutRecord {
    OutRecord {
        topic: "bench".into(),
        key: format!("conv-{}", i % 64),
        payload: vec![b'x'; 200],
        headers: Vec::new(),
        timestamp: 0,
    }
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("log_append");
    group.measurement_time(Duration::from_secs(5));
    for fsync in [FsyncPolicy::Always, FsyncPolicy::Never] {
        let dir = tempfile::tempdir().unwrap();
        let options = LogOptions {
            fsync,
            ..LogOptions::default()
        };
        let log = EmbeddedLog::open(&dir.path().join("log.redb"), options).unwrap();
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("one_at_a_time/{fsync:?}"), |b| {
            b.to_async(&rt)
                .iter(|| async { log.append(vec![record(1)]).await.unwrap() })
        });
        group.throughput(Throughput::Elements(64));
        group.bench_function(format!("64_concurrent/{fsync:?}"), |b| {
            b.to_async(&rt).iter(|| async {
                let mut tasks = Vec::with_capacity(64);
                for i in 0..64 {
                    let log = log.clone();
                    tasks.push(tokio::spawn(async move {
                        log.append(vec![record(i)]).await.unwrap()
                    }));
                }
                for t in tasks {
                    t.await.unwrap();
                }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
