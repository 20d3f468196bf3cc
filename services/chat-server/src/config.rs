//! Configuration: compiled-in defaults, then a TOML file, then environment
//! variables `CHAT__SECTION__KEY` (figment). Unknown keys are errors.
//!
//! Every section is here in every build, the sections of engines left out
//! by cargo features too (`[kafka]`, `[cassandra]`, `[redis]`, `[s3]`), so
//! one configuration file reads the same in every build; only a URL in
//! `[engines]` naming a left-out engine is refused (see [`crate::engines`]).

use chat_embedded::FsyncPolicy;
use chat_gateway::GatewayConfig;
use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub server: ServerConfig,
    pub engines: EnginesConfig,
    pub log: LogConfig,
    pub kafka: KafkaConfig,
    pub cassandra: CassandraConfig,
    pub redis: RedisConfig,
    pub retention: RetentionConfig,
    pub gateway: GatewayConfig,
    pub telemetry: TelemetryConfig,
    /// The S3-compatible object store, when `engines.blobs` is `s3://…`.
    pub s3: chat_blobs::s3::S3Config,
    /// Thumbnails of image attachments.
    pub media: chat_processors::media::MediaConfig,
    /// Push notifications for offline devices.
    pub push: chat_processors::push::PushConfig,
}

/// Where traces go.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TelemetryConfig {
    /// OTLP/HTTP (JSON) traces endpoint, e.g.
    /// `http://collector:4318/v1/traces`; empty: no export.
    pub otlp_endpoint: String,
    /// `service.name` of the exported spans.
    pub service_name: String,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        Self {
            otlp_endpoint: String::new(),
            service_name: "chat".into(),
        }
    }
}

/// Which engine serves each port, by URL scheme.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EnginesConfig {
    /// `embedded` (a file under `server.data_dir`, or under the folder of
    /// `embedded:///path`; one process only) or `kafka://host:port[,…]`.
    pub log: String,
    /// `embedded` (a file under `server.data_dir`, or `embedded:///path`),
    /// `cassandra://host[:port][,host…]/keyspace` (settings in
    /// `[cassandra]`) or `postgres://…`.
    pub store: String,
    /// Real-time channels and presence: `memory` (in-process; one process
    /// only) or `redis://host:port/`.
    pub realtime: String,
    /// Attachment bytes: `embedded` (a `blobs` folder under
    /// `server.data_dir`, or `embedded:///path`; the gateway serves the
    /// signed URLs) or `s3://bucket[/prefix]` (settings in `[s3]`; clients
    /// use presigned URLs of the store).
    pub blobs: String,
    /// The search index: `embedded` (a `search` folder under
    /// `server.data_dir`, or `embedded:///path`; one process only),
    /// `postgres://…` (PostgreSQL full-text search) or `off`. Empty (the
    /// default): the store's PostgreSQL when the store is one, else
    /// `embedded`.
    pub search: String,
}

impl Default for EnginesConfig {
    fn default() -> Self {
        Self {
            log: "embedded".into(),
            store: "embedded".into(),
            realtime: "memory".into(),
            blobs: "embedded".into(),
            search: String::new(),
        }
    }
}

/// Settings of the Kafka log engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KafkaConfig {
    /// Prepended to topic and consumer-group names.
    pub topic_prefix: String,
    /// Partitions of topics created on first use (declared topics take
    /// theirs from kafka/topics.toml).
    pub partitions: u32,
    pub replication: i32,
    /// An append not acknowledged within this fails (`overloaded`), ms.
    pub produce_timeout_ms: u64,
    /// Extra librdkafka settings, e.g. `{ "security.protocol" = "ssl" }`.
    pub client: std::collections::BTreeMap<String, String>,
}

impl Default for KafkaConfig {
    fn default() -> Self {
        Self {
            topic_prefix: String::new(),
            partitions: 8,
            replication: 1,
            produce_timeout_ms: 10_000,
            client: Default::default(),
        }
    }
}

/// Settings of the Cassandra store engine (nodes and keyspace come from
/// `engines.store`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CassandraConfig {
    /// The keyspace's replication, a CQL map, used only when the engine
    /// creates the keyspace. Production:
    /// `{'class': 'NetworkTopologyStrategy', 'dc1': 3}`.
    pub replication: String,
    /// Consistency of reads and writes (`local_quorum`, `quorum`, `one`, …).
    pub consistency: String,
    /// Consistency of the Paxos phase of lightweight transactions
    /// (`local_serial` or `serial`).
    pub serial_consistency: String,
    /// The data centre whose nodes are tried first; empty: the driver's
    /// default.
    pub local_dc: String,
    /// One request not answered within this fails, ms.
    pub request_timeout_ms: u64,
    /// Rows of one statement the sequencer sends per unlogged batch (1:
    /// a request per row). Batches hold at most 16 KiB of values, under
    /// Cassandra's refusal threshold; see docs/operations.md.
    pub write_batch_rows: usize,
}

/// `chat_cassandra::DEFAULT_REPLICATION`, written out so that builds
/// without the `cassandra` feature have the same defaults (a test checks
/// that the two agree).
const DEFAULT_CASSANDRA_REPLICATION: &str = "{'class': 'SimpleStrategy', 'replication_factor': 1}";
/// `chat_cassandra::DEFAULT_WRITE_BATCH_ROWS`, likewise.
const DEFAULT_CASSANDRA_WRITE_BATCH_ROWS: usize = 16;

impl Default for CassandraConfig {
    fn default() -> Self {
        Self {
            replication: DEFAULT_CASSANDRA_REPLICATION.into(),
            consistency: "local_quorum".into(),
            serial_consistency: "local_serial".into(),
            local_dc: String::new(),
            request_timeout_ms: 10_000,
            write_batch_rows: DEFAULT_CASSANDRA_WRITE_BATCH_ROWS,
        }
    }
}

/// Settings of the Redis real-time engine.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisConfig {
    /// Prepended to every Redis key and channel.
    pub prefix: String,
    /// A connection's presence entry lives this long without a heartbeat,
    /// ms (heartbeats come every `gateway.ping_interval_ms`).
    pub presence_ttl_ms: u64,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self {
            prefix: "chat:".into(),
            presence_ttl_ms: 45_000,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address the gateway listens on.
    pub listen: String,
    /// Where the embedded engines keep their files.
    pub data_dir: PathBuf,
    /// A connection must deliver a whole request head (request line and
    /// headers) within this, ms: counted from the accept for its first
    /// request, from the request's first byte for the next ones. Past it
    /// the connection is closed (half-sent requests, connections that
    /// never send anything).
    pub header_read_timeout_ms: u64,
    /// An HTTP connection with no byte moving either way for this long is
    /// closed, ms: a keep-alive connection waiting for its next request,
    /// or a response the client stopped reading. Not WebSockets (they
    /// have `gateway.idle_timeout_ms`) nor a request whose handler runs.
    pub http_idle_timeout_ms: u64,
    /// A request body that delivers no byte for this long is answered 408
    /// and its connection closed, ms.
    pub body_timeout_ms: u64,
    /// Most connections held at once, HTTP and WebSocket alike; past it
    /// the server accepts no more until one closes (they wait in the
    /// kernel's listen queue). Unset: from the open-file limit
    /// (RLIMIT_NOFILE's soft limit less a reserve for the engines' own
    /// sockets and files).
    pub max_connections: Option<usize>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            header_read_timeout_ms: 10_000,
            http_idle_timeout_ms: 75_000,
            body_timeout_ms: 30_000,
            max_connections: None,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// Partitions of each topic when it is first created.
    pub partitions: u32,
    /// `always`: fsync each group commit before acknowledging (default);
    /// `never`: leave it to the OS (benchmarks only).
    pub fsync: FsyncPolicy,
    /// Appends waiting for the disk beyond this are refused with `overloaded`.
    pub queue_capacity: usize,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            partitions: 8,
            fsync: FsyncPolicy::Always,
            queue_capacity: 16_384,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionConfig {
    /// Messages and log records older than this are removed, seconds.
    pub max_age_secs: u64,
    /// How often retention sweeps, seconds.
    pub sweep_interval_secs: u64,
}

impl Default for RetentionConfig {
    fn default() -> Self {
        Self {
            max_age_secs: 30 * 24 * 3600,
            sweep_interval_secs: 3600,
        }
    }
}

impl Config {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, Box<figment::Error>> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(f) = file {
            figment = figment.merge(Toml::file_exact(f));
        }
        figment
            .merge(Env::prefixed("CHAT__").split("__"))
            .extract()
            .map_err(Box::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_override_defaults_and_unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("chat.toml");
        std::fs::write(
            &f,
            "[server]\nlisten = \"127.0.0.1:9999\"\n[gateway]\ngroup_cap = 10\n[log]\nfsync = \"never\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.server.listen, "127.0.0.1:9999");
        assert_eq!(c.gateway.group_cap, 10);
        assert_eq!(c.log.fsync, FsyncPolicy::Never);
        assert_eq!(c.gateway.max_body_bytes, 64 * 1024);
        std::fs::write(&f, "[gateway]\ngroup_kap = 10\n").unwrap();
        assert!(Config::load(Some(&f)).is_err());
    }

    #[cfg(feature = "cassandra")]
    #[test]
    fn the_cassandra_default_replication_is_the_engine_s() {
        assert_eq!(
            DEFAULT_CASSANDRA_REPLICATION,
            chat_cassandra::DEFAULT_REPLICATION
        );
        assert_eq!(
            DEFAULT_CASSANDRA_WRITE_BATCH_ROWS,
            chat_cassandra::DEFAULT_WRITE_BATCH_ROWS
        );
    }

    /// A build without an engine still reads that engine's section.
    #[test]
    fn every_engine_section_is_read_in_every_build() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("chat.toml");
        std::fs::write(
            &f,
            "[kafka]\npartitions = 3\n[cassandra]\nlocal_dc = \"dc1\"\n\
             [redis]\nprefix = \"x:\"\n[s3]\nbucket = \"b\"\n",
        )
        .unwrap();
        let c = Config::load(Some(&f)).unwrap();
        assert_eq!(c.kafka.partitions, 3);
        assert_eq!(c.cassandra.local_dc, "dc1");
        assert_eq!(c.redis.prefix, "x:");
        assert_eq!(c.s3.bucket, "b");
    }
}
