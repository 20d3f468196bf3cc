//! A running node: the engines from `[engines]`, and the roles this process
//! plays: the gateway, any of the processors, and the retention sweep.
//! `serve` plays every role; `gateway` and `processor` play some, and then
//! the engines must be shareable (Kafka, PostgreSQL, Redis).

use crate::engines::Engines;
use crate::serve::{HttpLimits, HttpServer};
use crate::Config;
use anyhow::{bail, Context};
use chat_events::Codec;
use chat_gateway::{AppState, Backends, ChatService};
use chat_ports::Channels;
use chat_processors::fanout::Fanout;
use chat_processors::media::Media;
use chat_processors::push::Push;
use chat_processors::receipts::Receipts;
use chat_processors::search::Search;
use chat_processors::sequencer::Sequencer;
use chat_processors::Processor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The processors a node can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorKind {
    Sequencer,
    Receipts,
    Fanout,
    /// Thumbnails of image attachments.
    Media,
    /// Push notifications for offline devices (when `push.webhook_url` is set).
    Push,
    /// The search index (unless search is off).
    Search,
}

impl ProcessorKind {
    pub const ALL: [ProcessorKind; 6] = [
        Self::Sequencer,
        Self::Receipts,
        Self::Fanout,
        Self::Media,
        Self::Push,
        Self::Search,
    ];

    pub fn parse(name: &str) -> anyhow::Result<Vec<Self>> {
        Ok(match name {
            "all" => Self::ALL.to_vec(),
            "sequencer" => vec![Self::Sequencer],
            "receipts" => vec![Self::Receipts],
            "fanout" => vec![Self::Fanout],
            "media" => vec![Self::Media],
            "push" => vec![Self::Push],
            "search" => vec![Self::Search],
            other => bail!(
                "unknown processor {other:?}: sequencer, receipts, fanout, media, push, search or all"
            ),
        })
    }
}

/// The roles one process plays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub gateway: bool,
    pub processors: Vec<ProcessorKind>,
    pub retention: bool,
}

impl Roles {
    /// Everything: what `serve` runs.
    pub fn all() -> Self {
        Self {
            gateway: true,
            processors: ProcessorKind::ALL.to_vec(),
            retention: true,
        }
    }

    /// The gateway alone.
    pub fn gateway() -> Self {
        Self {
            gateway: true,
            processors: Vec::new(),
            retention: false,
        }
    }

    /// Some processors; the retention sweep (messages, log records and
    /// unsent or expired attachments) runs with the sequencer.
    pub fn processors(kinds: Vec<ProcessorKind>) -> Self {
        let retention = kinds.contains(&ProcessorKind::Sequencer);
        Self {
            gateway: false,
            processors: kinds,
            retention,
        }
    }

    fn is_all(&self) -> bool {
        self.gateway && self.processors.len() == ProcessorKind::ALL.len()
    }
}

/// A running node.
pub struct Node {
    /// Where it listens: the API for a gateway, health endpoints otherwise.
    pub addr: SocketAddr,
    http: Arc<HttpServer>,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    engines: Engines,
}

impl Node {
    /// The node's stores (for tests and tools that look under the API).
    pub fn stores(&self) -> &chat_ports::Stores {
        &self.engines.stores
    }

    /// Connections the listener holds now, upgraded WebSockets included
    /// (at most `server.max_connections`).
    pub fn open_connections(&self) -> usize {
        self.http.open_connections()
    }

    /// Every role in one process.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        Self::start_roles(config, Roles::all(), None).await
    }

    /// Every role, with another real-time channel engine (tests use a
    /// lossy one).
    pub async fn start_with_channels(
        config: Config,
        channels: Option<Arc<dyn Channels>>,
    ) -> anyhow::Result<Self> {
        Self::start_roles(config, Roles::all(), channels).await
    }

    /// The given roles.
    pub async fn start_roles(
        mut config: Config,
        roles: Roles,
        channels: Option<Arc<dyn Channels>>,
    ) -> anyhow::Result<Self> {
        if !roles.is_all() && !Engines::shareable(&config) {
            bail!(
                "running some roles in this process needs engines other processes can share: \
                 set engines.log = kafka://…, engines.store = cassandra://… (or postgres://…), engines.realtime = redis://…, \
                 or run `serve` for everything in one process"
            );
        }
        if roles.gateway {
            crate::secrets::resolve(&mut config)?;
            dev_login(&mut config, &roles)?;
            blob_urls(&config)?;
        }
        if !roles.is_all() && !Engines::blobs_shareable(&config) {
            tracing::warn!(
                "Attachments live in a local folder while roles run in several processes: \
                 uploads work only where gateways and processors share that folder; \
                 set engines.blobs = s3://bucket for a fleet."
            );
        }
        let limits = HttpLimits::from_config(&config.server)?;
        let engines = Engines::open(&config, channels, roles.is_all()).await?;
        let metrics = chat_telemetry::Metrics::new();
        let codec = Arc::new(Codec::new());
        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();

        for kind in &roles.processors {
            let p: Arc<dyn Processor> = match kind {
                ProcessorKind::Media => Arc::new(Media::new(
                    engines.stores.clone(),
                    engines.blobs.clone(),
                    codec.clone(),
                    config.media.clone(),
                )),
                ProcessorKind::Push => {
                    if !config.push.enabled() {
                        tracing::info!("Push is off: push.webhook_url is not set.");
                        continue;
                    }
                    let push = Arc::new(
                        Push::new(
                            config.push.clone(),
                            engines.stores.clone(),
                            engines.presence.clone(),
                            engines.log.clone(),
                            codec.clone(),
                            metrics.clone(),
                        )
                        .context("the push settings are not usable")?,
                    );
                    tasks.spawn(push.clone().run(shutdown.clone()));
                    push
                }
                ProcessorKind::Search => {
                    let Some(index) = engines.search.clone() else {
                        tracing::info!("Search is off: no search index.");
                        continue;
                    };
                    Arc::new(Search::new(
                        index,
                        engines.stores.messages.clone(),
                        codec.clone(),
                    ))
                }
                ProcessorKind::Sequencer => Arc::new(Sequencer::new(
                    engines.stores.clone(),
                    engines.log.clone(),
                    codec.clone(),
                    config.gateway.limits(),
                )),
                ProcessorKind::Receipts => Arc::new(Receipts::new(
                    engines.stores.clone(),
                    engines.log.clone(),
                    codec.clone(),
                )),
                ProcessorKind::Fanout => Arc::new(Fanout::new(
                    engines.stores.clone(),
                    engines.channels.clone(),
                    codec.clone(),
                    config.gateway.conversation_channel_above,
                )),
            };
            let (log, stop, m) = (engines.log.clone(), shutdown.clone(), metrics.clone());
            tasks.spawn(async move {
                let group = p.group();
                if let Err(e) = chat_processors::run(p, log, stop, m).await {
                    tracing::error!(group, error = %e, "A processor stopped with an error.");
                }
            });
        }
        if roles.retention {
            tasks.spawn(chat_processors::retention::run(
                engines.stores.messages.clone(),
                engines.log.clone(),
                engines.search.clone(),
                Duration::from_secs(config.retention.max_age_secs),
                Duration::from_secs(config.retention.sweep_interval_secs.max(1)),
                shutdown.clone(),
            ));
            tasks.spawn(chat_processors::blob_gc::run(
                engines.stores.attachments.clone(),
                engines.blobs.clone(),
                config.gateway.attachments.unsent_grace(),
                Duration::from_secs(config.retention.sweep_interval_secs.max(1)),
                shutdown.clone(),
            ));
        }

        let router = if roles.gateway {
            let gateway = config.gateway.clone();
            let service = Arc::new(ChatService::new(
                gateway,
                Backends {
                    stores: engines.stores.clone(),
                    log: engines.log.clone(),
                    channels: engines.channels.clone(),
                    presence: engines.presence.clone(),
                    blobs: engines.blobs.clone(),
                    search: engines.search.clone(),
                },
                codec,
                metrics.clone(),
            ));
            let (housekeeping, stop) = (service.clone(), shutdown.clone());
            tasks.spawn(async move {
                loop {
                    tokio::select! {
                        _ = stop.cancelled() => return,
                        _ = tokio::time::sleep(Duration::from_secs(60)) => housekeeping.forget_idle(),
                    }
                }
            });
            chat_gateway::router(AppState {
                service,
                local_blobs: engines.local_blobs.clone(),
            })
        } else {
            chat_gateway::http::ops_routes(engines.log.clone(), metrics.clone())
        };
        let listener = tokio::net::TcpListener::bind(&config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let http = Arc::new(HttpServer::new(limits, metrics.clone()));
        tasks.spawn(http.clone().run(listener, router, shutdown.clone()));
        tracing::info!(%addr, ?roles, limits = ?http.limits(), "The chat service is listening.");
        Ok(Self {
            addr,
            http,
            shutdown,
            tasks,
            engines,
        })
    }

    /// Stops every part, lets queued log writes finish, and closes the log.
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        let deadline = tokio::time::sleep(Duration::from_secs(5));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                next = self.tasks.join_next() => if next.is_none() { break },
                _ = &mut deadline => {
                    self.tasks.abort_all();
                    break;
                }
            }
        }
        self.engines.close().await;
    }

    /// Fires when the node is asked to stop.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

/// Dev login mints a token for anyone who asks: it runs only while the
/// server listens on a loopback address, by default for `serve` on the
/// embedded log there (PROTOCOL.md: on by default only in the embedded
/// mode), and says so loudly.
/// Whether `listen` is a loopback address (only this machine reaches it).
fn is_loopback(listen: &str) -> bool {
    listen
        .parse::<SocketAddr>()
        .map(|a| a.ip().is_loopback())
        .unwrap_or_else(|_| listen.starts_with("localhost:"))
}

/// The local blob engine's signed URLs are built on
/// `gateway.attachments.public_url`; without it, on the `Host` header of
/// the request, which only a server on a loopback address may take as
/// given (a client elsewhere could name any host, and be handed URLs to
/// it). Presigned S3 URLs name the object store and need neither.
fn blob_urls(config: &Config) -> anyhow::Result<()> {
    let listen = &config.server.listen;
    if config.gateway.attachments.public_url.is_none()
        && !Engines::blobs_shareable(config)
        && !is_loopback(listen)
    {
        bail!(
            "gateway.attachments.public_url must be set (e.g. https://chat.example.com) when \
             server.listen ({listen}) is not a loopback address: attachment URLs are signed on it, \
             never on the Host header a client sends"
        );
    }
    Ok(())
}

fn dev_login(config: &mut Config, roles: &Roles) -> anyhow::Result<()> {
    let listen = &config.server.listen;
    let loopback = is_loopback(listen);
    let default = roles.is_all() && loopback && crate::engines::log_is_embedded(config);
    let on = *config.gateway.dev_login.get_or_insert(default);
    if on && !loopback {
        bail!(
            "gateway.dev_login mints a token for any user who asks; it runs only on a loopback \
             address, and server.listen is {listen}"
        );
    }
    if on {
        tracing::warn!(
            listen = %listen,
            "DEV LOGIN IS ON: POST /v1/dev/token mints a token for any user; \
             anyone who reaches this address is whoever they say. Set gateway.dev_login = false \
             to turn it off."
        );
    }
    Ok(())
}
