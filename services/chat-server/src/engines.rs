//! Opens the engine of each port from the URLs in `[engines]`.
//!
//! Each distributed engine is built with its cargo feature (`kafka`,
//! `postgres`, `cassandra`, `redis`, `s3`; all on by default). A URL naming
//! an engine this build left out is refused when it is parsed, with the
//! feature to rebuild with.

use crate::Config;
use anyhow::{bail, Context};
use chat_blobs::local::LocalBlobs;
use chat_embedded::{
    EmbeddedLog, EmbeddedStore, InProcessChannels, InProcessPresence, LogOptions, TantivyIndex,
};
use chat_ports::{BlobStore, Channels, EventLog, Presence, SearchIndex, Stores};
use std::sync::Arc;
#[cfg(any(feature = "cassandra", feature = "redis"))]
use std::time::Duration;

/// The engines a node runs on.
pub struct Engines {
    pub log: Arc<dyn EventLog>,
    pub stores: Stores,
    pub channels: Arc<dyn Channels>,
    pub presence: Arc<dyn Presence>,
    /// Attachment bytes.
    pub blobs: Arc<dyn BlobStore>,
    /// The local blob engine, when it is the blob engine: the gateway
    /// serves its signed URLs.
    pub local_blobs: Option<Arc<LocalBlobs>>,
    /// The search index, unless search is off.
    pub search: Option<Arc<dyn SearchIndex>>,
    /// The embedded log, when it is the log: closed on stop so its writer
    /// finishes what is queued.
    embedded_log: Option<EmbeddedLog>,
}

/// What an engine URL names. The variants of the distributed engines exist
/// only in builds with their feature.
#[derive(Debug, PartialEq, Eq)]
enum Url<'a> {
    /// A folder, or `server.data_dir` when none is given.
    Embedded(Option<&'a str>),
    Memory,
    #[cfg(feature = "kafka")]
    Kafka(&'a str),
    #[cfg(feature = "cassandra")]
    Cassandra(&'a str),
    #[cfg(feature = "postgres")]
    Postgres(&'a str),
    #[cfg(feature = "redis")]
    Redis(&'a str),
    /// A bucket, and a key prefix in it, when the URL names them.
    #[cfg(feature = "s3")]
    S3(&'a str),
}

fn parse(url: &str) -> anyhow::Result<Url<'_>> {
    Ok(match url.split_once("://") {
        None if url == "embedded" => Url::Embedded(None),
        None if url == "memory" => Url::Memory,
        Some(("embedded", "")) => Url::Embedded(None),
        Some(("embedded", path)) => Url::Embedded(Some(path)),
        Some(("memory", _)) => Url::Memory,
        #[cfg(feature = "kafka")]
        Some(("kafka", rest)) => Url::Kafka(rest.trim_end_matches('/')),
        #[cfg(not(feature = "kafka"))]
        Some(("kafka", _)) => return Err(left_out(url, "kafka")),
        #[cfg(feature = "postgres")]
        Some(("postgres" | "postgresql", _)) => Url::Postgres(url),
        #[cfg(not(feature = "postgres"))]
        Some(("postgres" | "postgresql", _)) => return Err(left_out(url, "postgres")),
        #[cfg(feature = "cassandra")]
        Some(("cassandra" | "scylla", _)) => Url::Cassandra(url),
        #[cfg(not(feature = "cassandra"))]
        Some(("cassandra" | "scylla", _)) => return Err(left_out(url, "cassandra")),
        #[cfg(feature = "redis")]
        Some(("redis", _)) => Url::Redis(url),
        #[cfg(not(feature = "redis"))]
        Some(("redis", _)) => return Err(left_out(url, "redis")),
        #[cfg(feature = "s3")]
        None if url == "s3" => Url::S3(""),
        #[cfg(feature = "s3")]
        Some(("s3", rest)) => Url::S3(rest.trim_end_matches('/')),
        #[cfg(not(feature = "s3"))]
        None if url == "s3" => return Err(left_out(url, "s3")),
        #[cfg(not(feature = "s3"))]
        Some(("s3", _)) => return Err(left_out(url, "s3")),
        _ => bail!(
            "unknown engine URL {url:?}: use embedded, memory, kafka://, cassandra://, postgres://, redis:// or s3://"
        ),
    })
}

/// The error for a URL naming an engine this build left out.
#[cfg(not(all(
    feature = "kafka",
    feature = "postgres",
    feature = "cassandra",
    feature = "redis",
    feature = "s3"
)))]
fn left_out(url: &str, feature: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "engine URL {url:?}: this chatctl was built without the `{feature}` feature; \
         rebuild with `--features {feature}` (or with the default features, which have every engine)"
    )
}

fn folder(config: &Config, path: Option<&str>) -> anyhow::Result<std::path::PathBuf> {
    let dir = path
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| config.server.data_dir.clone());
    std::fs::create_dir_all(&dir)
        .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
    Ok(dir)
}

/// The event log of `[engines] log`, and the embedded log itself when it is
/// that one (to close it on stop).
pub async fn open_log(config: &Config) -> anyhow::Result<(Arc<dyn EventLog>, Option<EmbeddedLog>)> {
    Ok(match parse(&config.engines.log)? {
        Url::Embedded(path) => {
            let log = EmbeddedLog::open(
                &folder(config, path)?.join("log.redb"),
                LogOptions {
                    partitions: config.log.partitions,
                    fsync: config.log.fsync,
                    queue_capacity: config.log.queue_capacity,
                    // Expiry never removes a command not yet sequenced.
                    retain_for: chat_processors::groups::RETAINED
                        .iter()
                        .map(|g| g.to_string())
                        .collect(),
                },
            )
            .context("cannot open the embedded event log (is a server using it?)")?;
            (Arc::new(log.clone()), Some(log))
        }
        #[cfg(feature = "kafka")]
        Url::Kafka(bootstrap) => {
            let k = &config.kafka;
            let log = chat_kafka::KafkaLog::connect(chat_kafka::KafkaOptions {
                bootstrap: bootstrap.to_string(),
                topic_prefix: k.topic_prefix.clone(),
                partitions: k.partitions,
                replication: k.replication,
                produce_timeout_ms: k.produce_timeout_ms,
                extra: k.client.clone().into_iter().collect(),
            })
            .await
            .context("cannot connect to Kafka")?;
            (Arc::new(log), None)
        }
        other => bail!("{other:?} is not an event-log engine: use embedded or kafka://"),
    })
}

/// The store of `[engines] store`.
pub async fn open_store(config: &Config) -> anyhow::Result<Stores> {
    Ok(match parse(&config.engines.store)? {
        Url::Embedded(path) => Stores::from_engine(Arc::new(
            EmbeddedStore::open(&folder(config, path)?.join("store.redb"), config.log.fsync)
                .context("cannot open the embedded store")?,
        )),
        #[cfg(feature = "cassandra")]
        Url::Cassandra(url) => Stores::from_engine(Arc::new(
            chat_cassandra::CassandraStore::connect(&cassandra_options(config, url)?)
                .await
                .context("cannot connect to Cassandra")?,
        )),
        #[cfg(feature = "postgres")]
        Url::Postgres(url) => Stores::from_engine(Arc::new(
            chat_postgres::PostgresStore::connect(url)
                .await
                .context("cannot connect to PostgreSQL")?,
        )),
        other => {
            bail!("{other:?} is not a store engine: use embedded, cassandra:// or postgres://")
        }
    })
}

/// The Cassandra options of `url` and `[cassandra]`.
#[cfg(feature = "cassandra")]
fn cassandra_options(
    config: &Config,
    url: &str,
) -> anyhow::Result<chat_cassandra::CassandraOptions> {
    let c = &config.cassandra;
    let mut options = chat_cassandra::CassandraOptions::from_url(url)?;
    options.replication = c.replication.clone();
    options.consistency = chat_cassandra::parse_consistency(&c.consistency)?;
    options.serial_consistency = chat_cassandra::parse_serial_consistency(&c.serial_consistency)?;
    options.local_dc = Some(c.local_dc.clone()).filter(|dc| !dc.is_empty());
    options.request_timeout = Duration::from_millis(c.request_timeout_ms);
    options.write_batch_rows = c.write_batch_rows;
    Ok(options)
}

/// The channels of `[engines] realtime`, without presence (what fan-out
/// publishes on and sessions subscribe to).
pub async fn open_channels(config: &Config) -> anyhow::Result<Arc<dyn Channels>> {
    Ok(match parse(&config.engines.realtime)? {
        Url::Memory => Arc::new(InProcessChannels::new()),
        #[cfg(feature = "redis")]
        Url::Redis(url) => Arc::new(
            chat_redis::RedisChannels::connect(url, &config.redis.prefix)
                .await
                .context("cannot connect to Redis")?,
        ),
        other => bail!("{other:?} is not a real-time engine: use memory or redis://"),
    })
}

/// Channels and presence of `[engines] realtime`.
async fn open_realtime(
    config: &Config,
    stores: &Stores,
    channels: Option<Arc<dyn Channels>>,
) -> anyhow::Result<(Arc<dyn Channels>, Arc<dyn Presence>)> {
    let channels = match channels {
        Some(c) => c,
        None => open_channels(config).await?,
    };
    Ok(match parse(&config.engines.realtime)? {
        Url::Memory => {
            let presence = Arc::new(InProcessPresence::new(
                channels.clone(),
                stores.last_seen.clone(),
            ));
            (channels, presence)
        }
        #[cfg(feature = "redis")]
        Url::Redis(url) => {
            let r = &config.redis;
            let presence = Arc::new(
                chat_redis::RedisPresence::connect(
                    url,
                    &r.prefix,
                    Duration::from_millis(r.presence_ttl_ms),
                    channels.clone(),
                    stores.last_seen.clone(),
                )
                .await
                .context("cannot connect to Redis")?,
            );
            (channels, presence)
        }
        other => bail!("{other:?} is not a real-time engine: use memory or redis://"),
    })
}

/// A blob engine, and the local engine itself when it is that one.
type OpenedBlobs = (Arc<dyn BlobStore>, Option<Arc<LocalBlobs>>);

/// The blob engine of `[engines] blobs`, and the local engine itself when
/// it is that one (the gateway serves its URLs).
pub fn open_blobs(config: &Config) -> anyhow::Result<OpenedBlobs> {
    Ok(match parse(&config.engines.blobs)? {
        Url::Embedded(path) => {
            let dir = match path {
                Some(p) => std::path::PathBuf::from(p),
                None => config.server.data_dir.join("blobs"),
            };
            let base = config
                .gateway
                .attachments
                .public_url
                .clone()
                .unwrap_or_default();
            let local = Arc::new(
                LocalBlobs::open(dir, base.trim_end_matches('/'), &blob_url_secret(config)?)
                    .context("cannot open the blob directory")?,
            );
            (local.clone(), Some(local))
        }
        #[cfg(feature = "s3")]
        Url::S3(location) => {
            let mut s3 = config.s3.clone();
            if let Some((bucket, prefix)) = location.split_once('/') {
                s3.bucket = bucket.to_string();
                s3.prefix = Some(prefix.to_string());
            } else if !location.is_empty() {
                s3.bucket = location.to_string();
            }
            let blobs = chat_blobs::s3::S3Blobs::new(&s3).context("cannot open the S3 bucket")?;
            (Arc::new(blobs), None)
        }
        other => bail!("{other:?} is not a blob engine: use embedded or s3://bucket"),
    })
}

/// The key of the local engine's URL signatures: `gateway.blob_url_secret`
/// (a gateway's start fills it, `secrets.rs`). A node without the gateway
/// role signs and checks no URL; it gets a random key of its own.
fn blob_url_secret(config: &Config) -> anyhow::Result<Vec<u8>> {
    let secret = &config.gateway.blob_url_secret;
    if !secret.is_empty() {
        return Ok(secret.as_bytes().to_vec());
    }
    let mut key = vec![0u8; 32];
    getrandom::fill(&mut key).map_err(|e| anyhow::anyhow!("no randomness for a key: {e}"))?;
    Ok(key)
}

/// The URL of the search index: `[engines] search`, or when it is empty
/// the store's when the store is PostgreSQL, else `embedded`.
pub fn search_url(config: &Config) -> String {
    let e = &config.engines;
    if !e.search.is_empty() {
        return e.search.clone();
    }
    match parse(&e.store) {
        #[cfg(feature = "postgres")]
        Ok(Url::Postgres(_)) => e.store.clone(),
        _ => "embedded".into(),
    }
}

/// Whether search is on and its index can be shared by several processes
/// (PostgreSQL; the embedded index has one writer, in one process).
fn search_shareable(config: &Config) -> bool {
    let url = search_url(config);
    url == "off" || !matches!(parse(&url), Ok(Url::Embedded(_)))
}

/// The search index of `[engines] search`, or none when it is `off`.
pub async fn open_search(config: &Config) -> anyhow::Result<Option<Arc<dyn SearchIndex>>> {
    let url = search_url(config);
    if url == "off" {
        return Ok(None);
    }
    Ok(Some(match parse(&url)? {
        Url::Embedded(path) => {
            let dir = match path {
                Some(p) => std::path::PathBuf::from(p),
                None => config.server.data_dir.join("search"),
            };
            Arc::new(TantivyIndex::open(&dir).with_context(|| {
                format!(
                    "cannot open the search index in {} (is a server using it?)",
                    dir.display()
                )
            })?)
        }
        #[cfg(feature = "postgres")]
        Url::Postgres(url) => Arc::new(
            chat_postgres::PostgresStore::connect(url)
                .await
                .context("cannot connect to the search index's PostgreSQL")?,
        ),
        other => bail!("{other:?} is not a search engine: use embedded, postgres:// or off"),
    }))
}

/// Whether the log is the embedded one (the one-box mode).
pub fn log_is_embedded(config: &Config) -> bool {
    matches!(parse(&config.engines.log), Ok(Url::Embedded(_)))
}

impl Engines {
    /// Opens every engine. `channels` replaces the configured real-time
    /// engine (tests use a lossy one). `one_process`: every role runs in
    /// this process; else an embedded search index is not opened (its
    /// writer and its readers would be in different processes) and search
    /// is off.
    pub async fn open(
        config: &Config,
        channels: Option<Arc<dyn Channels>>,
        one_process: bool,
    ) -> anyhow::Result<Self> {
        // Every URL first: an unknown engine, or one this build left out,
        // is refused before any engine is opened.
        let e = &config.engines;
        for (key, url) in [
            ("log", &e.log),
            ("store", &e.store),
            ("realtime", &e.realtime),
            ("blobs", &e.blobs),
            ("search", &search_url(config)),
        ] {
            if key == "search" && url == "off" {
                continue;
            }
            parse(url).with_context(|| format!("engines.{key} cannot be used"))?;
        }
        let (log, embedded_log) = open_log(config).await?;
        let stores = open_store(config).await?;
        let (channels, presence) = open_realtime(config, &stores, channels).await?;
        let (blobs, local_blobs) = open_blobs(config)?;
        let search = if one_process || search_shareable(config) {
            open_search(config).await?
        } else {
            tracing::warn!(
                "Search is off: the embedded search index works in one process only; \
                 set engines.search = postgres://… for roles in several processes."
            );
            None
        };
        Ok(Self {
            log,
            stores,
            channels,
            presence,
            blobs,
            local_blobs,
            search,
            embedded_log,
        })
    }

    /// Whether the blob engine can be shared by several processes on
    /// several machines (an object store).
    pub fn blobs_shareable(config: &Config) -> bool {
        match parse(&config.engines.blobs) {
            #[cfg(feature = "s3")]
            Ok(Url::S3(_)) => true,
            _ => false,
        }
    }

    /// Whether several processes may share these engines.
    pub fn shareable(config: &Config) -> bool {
        !matches!(parse(&config.engines.log), Ok(Url::Embedded(_)))
            && !matches!(parse(&config.engines.store), Ok(Url::Embedded(_)))
            && !matches!(parse(&config.engines.realtime), Ok(Url::Memory))
    }

    /// Lets the embedded log finish its queued writes.
    pub async fn close(&self) {
        if let Some(log) = &self.embedded_log {
            log.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn engine_urls_are_parsed_or_refused_clearly() {
        assert_eq!(parse("embedded").unwrap(), Url::Embedded(None));
        assert_eq!(
            parse("embedded:///srv/chat").unwrap(),
            Url::Embedded(Some("/srv/chat"))
        );
        assert_eq!(parse("memory").unwrap(), Url::Memory);
        #[cfg(feature = "kafka")]
        assert_eq!(parse("kafka://a:1,b:2").unwrap(), Url::Kafka("a:1,b:2"));
        #[cfg(feature = "redis")]
        assert_eq!(
            parse("redis://r:6379/").unwrap(),
            Url::Redis("redis://r:6379/")
        );
        #[cfg(feature = "postgres")]
        assert!(matches!(
            parse("postgres://u@h/db").unwrap(),
            Url::Postgres(_)
        ));
        #[cfg(feature = "cassandra")]
        assert_eq!(
            parse("cassandra://a,b:9043/chat").unwrap(),
            Url::Cassandra("cassandra://a,b:9043/chat")
        );
        #[cfg(feature = "s3")]
        {
            assert_eq!(parse("s3://media/chat").unwrap(), Url::S3("media/chat"));
            assert_eq!(parse("s3").unwrap(), Url::S3(""));
        }
        let e = parse("mongodb://x").unwrap_err().to_string();
        assert!(e.contains("unknown engine URL"), "{e}");
    }

    /// In every build: an engine's URL parses when its feature is on, and
    /// is refused with the feature's name when it is off.
    #[test]
    fn an_engine_left_out_of_the_build_is_refused_with_its_feature() {
        let built = |feature| match feature {
            "kafka" => cfg!(feature = "kafka"),
            "postgres" => cfg!(feature = "postgres"),
            "cassandra" => cfg!(feature = "cassandra"),
            "redis" => cfg!(feature = "redis"),
            "s3" => cfg!(feature = "s3"),
            _ => unreachable!(),
        };
        for (url, feature) in [
            ("kafka://k:9092", "kafka"),
            ("postgres://u@h/db", "postgres"),
            ("postgresql://u@h/db", "postgres"),
            ("cassandra://c/chat", "cassandra"),
            ("scylla://c/chat", "cassandra"),
            ("redis://r:6379/", "redis"),
            ("s3://bucket/prefix", "s3"),
            ("s3", "s3"),
        ] {
            match parse(url) {
                Ok(_) => assert!(
                    built(feature),
                    "{url} parsed without the `{feature}` feature"
                ),
                Err(e) => {
                    let e = e.to_string();
                    assert!(
                        !built(feature),
                        "{url} refused with the `{feature}` feature: {e}"
                    );
                    assert!(
                        e.contains(&format!("built without the `{feature}` feature"))
                            && e.contains(&format!("--features {feature}")),
                        "{e}"
                    );
                }
            }
        }
    }
}
