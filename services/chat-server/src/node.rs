//! One process running everything on the embedded engines: the log and
//! store under the data directory, in-process channels and presence, the
//! three processors, retention, and the gateway.

use crate::Config;
use anyhow::Context;
use chat_embedded::{EmbeddedLog, EmbeddedStore, InProcessChannels, InProcessPresence, LogOptions};
use chat_events::Codec;
use chat_gateway::{AppState, ChatService};
use chat_ports::{Channels, EventLog, Presence, Stores};
use chat_processors::fanout::Fanout;
use chat_processors::receipts::Receipts;
use chat_processors::sequencer::Sequencer;
use chat_processors::Processor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// A running node.
pub struct Node {
    /// Where the gateway listens.
    pub addr: SocketAddr,
    shutdown: CancellationToken,
    tasks: JoinSet<()>,
    log: EmbeddedLog,
}

impl Node {
    /// Opens the engines and starts every part.
    pub async fn start(config: Config) -> anyhow::Result<Self> {
        Self::start_with_channels(config, None).await
    }

    /// Like [`Node::start`], with another real-time channel engine in place
    /// of the in-process one (tests use a lossy one).
    pub async fn start_with_channels(
        config: Config,
        channels: Option<Arc<dyn Channels>>,
    ) -> anyhow::Result<Self> {
        if config.gateway.jwt_secret == chat_gateway::GatewayConfig::default().jwt_secret {
            tracing::warn!("The token secret is the built-in development one; set gateway.jwt_secret before exposing this server.");
        }
        let dir = &config.server.data_dir;
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        let log = EmbeddedLog::open(
            &dir.join("log.redb"),
            LogOptions {
                partitions: config.log.partitions,
                fsync: config.log.fsync,
                queue_capacity: config.log.queue_capacity,
            },
        )
        .context("cannot open the event log")?;
        let store = EmbeddedStore::open(&dir.join("store.redb"), config.log.fsync)
            .context("cannot open the store")?;
        let stores = Stores::from_engine(Arc::new(store));
        let channels: Arc<dyn Channels> =
            channels.unwrap_or_else(|| Arc::new(InProcessChannels::new()));
        let presence: Arc<dyn Presence> = Arc::new(InProcessPresence::new(
            channels.clone(),
            stores.last_seen.clone(),
        ));
        let codec = Arc::new(Codec::new());
        let event_log: Arc<dyn EventLog> = Arc::new(log.clone());

        let shutdown = CancellationToken::new();
        let mut tasks = JoinSet::new();
        let processors: Vec<Arc<dyn Processor>> = vec![
            Arc::new(Sequencer::new(
                stores.clone(),
                event_log.clone(),
                codec.clone(),
                config.gateway.group_cap,
            )),
            Arc::new(Receipts::new(
                stores.clone(),
                event_log.clone(),
                codec.clone(),
            )),
            Arc::new(Fanout::new(stores.clone(), channels.clone(), codec.clone())),
        ];
        for p in processors {
            let (log, stop) = (event_log.clone(), shutdown.clone());
            tasks.spawn(async move {
                let group = p.group();
                if let Err(e) = chat_processors::run(p, log, stop).await {
                    tracing::error!(group, error = %e, "A processor stopped with an error.");
                }
            });
        }
        tasks.spawn(chat_processors::retention::run(
            stores.messages.clone(),
            event_log.clone(),
            Duration::from_secs(config.retention.max_age_secs),
            Duration::from_secs(config.retention.sweep_interval_secs.max(1)),
            shutdown.clone(),
        ));

        let service = Arc::new(ChatService::new(
            config.gateway.clone(),
            stores,
            event_log,
            channels,
            presence,
            codec,
        ));
        let housekeeping = (service.clone(), shutdown.clone());
        tasks.spawn(async move {
            let (service, stop) = housekeeping;
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(60)) => service.limiter().forget_idle(),
                }
            }
        });
        let listener = tokio::net::TcpListener::bind(&config.server.listen)
            .await
            .with_context(|| format!("cannot listen on {}", config.server.listen))?;
        let addr = listener.local_addr()?;
        let state = AppState { service };
        let stop = shutdown.clone();
        tasks.spawn(async move {
            if let Err(e) = chat_gateway::serve(listener, state, stop).await {
                tracing::error!(error = %e, "The gateway stopped with an error.");
            }
        });
        tracing::info!(%addr, data_dir = %dir.display(), "The chat service is listening.");
        Ok(Self {
            addr,
            shutdown,
            tasks,
            log,
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
        self.log.close().await;
    }

    /// Fires when the node is asked to stop.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}
