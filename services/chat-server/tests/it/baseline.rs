//! `chatctl baseline` at a tiny scale: every record, message and delivery
//! it sends is counted where it arrives, and the store holds the messages
//! afterwards, on the embedded engines and (with `KAFKA_BOOTSTRAP`,
//! `DATABASE_URL`, `REDIS_URL`, `CASSANDRA_NODES`) on Kafka, PostgreSQL,
//! Redis and Cassandra.

use chat_server::tools::baseline::{self, StoreReport};
use chat_server::Config;

/// Records, messages and deliveries per baseline.
const N: u64 = 200;

/// A configuration of the embedded engines in `dir`.
fn embedded(dir: &tempfile::TempDir) -> Config {
    let mut config = Config::default();
    config.server.data_dir = dir.path().to_path_buf();
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_baselines_count_everything_on_the_embedded_engines() {
    let dir = tempfile::tempdir().unwrap();
    let config = embedded(&dir);
    let all = baseline::all(
        &config,
        &baseline::AllOptions {
            count: N,
            body_bytes: 100,
        },
    )
    .await
    .unwrap();
    let json = serde_json::to_value(&all).unwrap();
    for key in ["log", "store", "channels"] {
        assert!(json[key].is_object(), "{json}");
    }
    let log = all.log.unwrap();
    assert_eq!(log.consumed, N, "{log:?}");
    assert!(log.payload_bytes > 100 && log.record_bytes > log.payload_bytes);
    assert!(
        log.appends_per_sec > 0.0 && log.append_ms.p50 > 0.0,
        "{log:?}"
    );
    check_store(&config, &all.store.unwrap()).await;
    let channels = all.channels.unwrap();
    assert_eq!((channels.received, channels.lagged), (N, 0), "{channels:?}");
    assert!(channels.event_bytes > 100);
}

/// The store holds every message the baseline wrote, and no sequencer
/// cursor: the sequencer's own must stay its own.
async fn check_store(config: &Config, report: &StoreReport) {
    assert_eq!(report.stored, N, "{report:?}");
    let stores = chat_server::engines::open_store(config).await.unwrap();
    let conv = &report.sample_conversation;
    let state = stores
        .conversations
        .conversation(conv)
        .await
        .unwrap()
        .unwrap();
    assert!(state.last_seq > 0, "{state:?}");
    assert_eq!(state.members.len(), 2);
    let messages = stores.messages.messages_after(conv, 0, 1000).await.unwrap();
    let seqs: Vec<u64> = messages.iter().map(|m| m.seq).collect();
    assert_eq!(seqs, (1..=state.last_seq).collect::<Vec<_>>());
    assert!(messages.iter().all(|m| m.body.len() == 100));
    let cursors = stores.sequencer.cursors().await.unwrap();
    assert!(cursors.is_empty(), "{cursors:?}");
}

#[cfg(all(
    feature = "kafka",
    feature = "cassandra",
    feature = "postgres",
    feature = "redis"
))]
mod distributed {
    use super::*;
    use crate::cluster::{drop_keyspace, fresh_database};
    use chat_server::tools::baseline::{ChannelsOptions, LogOptions, StoreOptions};

    /// The value of `key`, or None (with the reason printed; under CI, a
    /// failure).
    fn service(key: &str) -> Option<String> {
        let value = std::env::var(key).ok().filter(|v| !v.is_empty());
        if value.is_none() {
            chat_ports::conformance::skip(&format!(
                "{key} is not set (./infra/test.sh starts local services)"
            ));
        }
        value
    }

    fn run_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_baselines_count_everything_on_kafka_postgres_and_redis() {
        let (Some(kafka), Some(postgres), Some(redis)) = (
            service("KAFKA_BOOTSTRAP"),
            service("DATABASE_URL"),
            service("REDIS_URL"),
        ) else {
            return;
        };
        let id = run_id();
        let mut config = Config::default();
        config.engines.log = format!("kafka://{kafka}");
        config.kafka.topic_prefix = format!("it{id}.");
        config.engines.store = fresh_database(&postgres, &format!("chat_it_{id}")).await;
        config.engines.realtime = redis;
        config.redis.prefix = format!("it{id}:");

        let log = baseline::log(
            &config,
            &LogOptions {
                records: N,
                concurrency: 16,
                conversations: 50,
                ..baseline::defaults()
            },
        )
        .await
        .unwrap();
        assert_eq!(log.consumed, N, "{log:?}");
        let store = baseline::store(
            &config,
            &StoreOptions {
                messages: N,
                batch: 8,
                concurrency: 3,
                ..baseline::defaults()
            },
        )
        .await
        .unwrap();
        assert_eq!(store.batches, 25);
        check_store(&config, &store).await;
        let channels = baseline::channels(
            &config,
            &ChannelsOptions {
                events: N,
                channels: 10,
                concurrency: 16,
                ..baseline::defaults()
            },
        )
        .await
        .unwrap();
        assert_eq!((channels.received, channels.lagged), (N, 0), "{channels:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_store_baseline_holds_every_message_on_cassandra() {
        let Some(nodes) = service("CASSANDRA_NODES") else {
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        let mut config = embedded(&dir);
        let url = format!("cassandra://{nodes}/chat_it_{}", run_id());
        config.engines.store = url.clone();
        let checked = tokio::spawn(async move {
            let store = baseline::store(
                &config,
                &StoreOptions {
                    messages: N,
                    batch: 8,
                    concurrency: 3,
                    ..baseline::defaults()
                },
            )
            .await
            .unwrap();
            check_store(&config, &store).await;
        });
        // The keyspace goes whatever the outcome.
        let outcome = checked.await;
        drop_keyspace(&url);
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}
