//! Settings of the Kafka engine.

use std::time::Duration;

/// How to reach Kafka and how to name and size topics.
#[derive(Debug, Clone)]
pub struct KafkaOptions {
    /// `host:port[,host:port…]`.
    pub bootstrap: String,
    /// Prepended to every topic and consumer-group name, so several
    /// deployments (or tests) can share a cluster.
    pub topic_prefix: String,
    /// Partitions of topics created on first use (declared topics take
    /// theirs from `kafka/topics.toml`).
    pub partitions: u32,
    /// Replication factor of created topics.
    pub replication: i32,
    /// How long an append may wait for the broker's acknowledgement before
    /// it fails (the client is then told `overloaded`), milliseconds.
    pub produce_timeout_ms: u64,
    /// Extra librdkafka settings for producer and consumers
    /// (`security.protocol`, `sasl.*`, …).
    pub extra: Vec<(String, String)>,
}

impl Default for KafkaOptions {
    fn default() -> Self {
        Self {
            bootstrap: "127.0.0.1:9092".into(),
            topic_prefix: String::new(),
            partitions: 8,
            replication: 1,
            produce_timeout_ms: 10_000,
            extra: Vec::new(),
        }
    }
}

impl KafkaOptions {
    pub(crate) fn request_timeout(&self) -> Duration {
        Duration::from_secs(10)
    }

    /// A client config with the bootstrap servers and the extra settings.
    pub(crate) fn client_config(&self) -> rdkafka::ClientConfig {
        let mut c = rdkafka::ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.extra {
            c.set(k, v);
        }
        c
    }
}
