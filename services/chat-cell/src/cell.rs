//! The cell: a store, one Kafka broker, one redis-server, and chatctl
//! gateways and processors (`processor --name all`), every one a process
//! on loopback that the cell owns and kills when dropped.
//!
//! With `CellSpec::proxied`, each processor reaches the store and the
//! broker through TCP proxies of its own (`proxy.rs`), so that a harness
//! can cut or slow one processor's links; the gateways connect directly.
//!
//! Kafka: clients follow the advertised listener after bootstrap, so the
//! broker gets one extra listener per processor (`KAFKA_EXTRA_LISTENERS` of
//! infra/kafka/broker.sh) advertised as that processor's proxy port: every
//! connection the processor makes to the broker goes through its proxy.
//! Cassandra: the scylla driver discovers peers from system.peers (none in
//! a one-node cluster) and addresses the node it bootstrapped from by the
//! address it dialled (the proxy), not by its rpc_address; `links.rs` lists
//! any processor connection that bypasses the proxies.

use crate::error::{io, Result};
use crate::process::{free_port, Proc, Spec};
use crate::proxy::{Mode, Proxy};
use crate::store::StoreKind;
use crate::tools::Tools;
use crate::wait::{loopback, wait_until};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The shape of a cell.
#[derive(Clone, Debug)]
pub struct CellSpec {
    pub store: StoreKind,
    pub gateways: usize,
    pub processors: usize,
    /// Processors reach the store and the broker through proxies.
    pub proxied: bool,
    /// Prefix of topics and groups (`NAME.`), Redis keys (`NAME:`) and the
    /// Cassandra keyspace (`chat_NAME`).
    pub name: String,
    /// Partitions of the topics.
    pub partitions: u32,
    /// Cassandra's JVM heap.
    pub store_heap: String,
    /// `RUST_LOG` of the chatctl nodes.
    pub log_filter: String,
    /// More environment for every chatctl node (`CHAT__…` settings).
    pub env: Vec<(String, String)>,
}

impl CellSpec {
    /// Two gateways, two processors, no proxies, four partitions, logs at
    /// `warn`.
    pub fn new(store: StoreKind, name: &str) -> Self {
        Self {
            store,
            gateways: 2,
            processors: 2,
            proxied: false,
            name: name.to_string(),
            partitions: 4,
            store_heap: "512m".into(),
            log_filter: "warn".into(),
            env: Vec::new(),
        }
    }
}

/// The gateway settings that leave the send rate to the clients (a fault
/// run's traffic, a load generator): the per-device and per-user send
/// limits, and those of receipts, conversations created and members
/// added, far above what they ask.
pub fn unthrottled() -> Vec<(String, String)> {
    [
        ("CHAT__GATEWAY__SEND_RATE_PER_SEC", "1000"),
        ("CHAT__GATEWAY__SEND_BURST", "1000"),
        ("CHAT__GATEWAY__CLIENT_LIMITS__USER_SENDS_PER_SEC", "10000"),
        ("CHAT__GATEWAY__CLIENT_LIMITS__USER_SEND_BURST", "10000"),
        ("CHAT__GATEWAY__CLIENT_LIMITS__CONVERSATION_BURST", "100000"),
        ("CHAT__GATEWAY__CLIENT_LIMITS__RECEIPT_BURST", "100000"),
        ("CHAT__GATEWAY__CLIENT_LIMITS__MEMBER_ADD_BURST", "1000000"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

/// A chatctl process and the settings it is restarted with.
pub struct Node {
    pub proc: Proc,
    pub port: u16,
    /// `CHAT_CLOCK_OFFSET_MS` for its next start, when skewed.
    pub clock_offset_ms: Option<i64>,
}

impl Node {
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// A running cell.
pub struct Cell {
    pub spec: CellSpec,
    pub dir: PathBuf,
    pub(crate) tools: Tools,
    pub store: Proc,
    pub store_port: u16,
    pub broker: Proc,
    pub broker_port: u16,
    pub redis: Proc,
    pub redis_port: u16,
    pub gateways: Vec<Node>,
    pub processors: Vec<Node>,
    /// Per processor, when proxied: its proxy to the store and its proxy
    /// to the broker.
    pub store_proxies: Vec<Proxy>,
    pub broker_proxies: Vec<Proxy>,
}

impl Cell {
    /// Starts every part in `dir` and waits until the gateways answer.
    pub async fn start(spec: CellSpec, tools: &Tools, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let dir = dir
            .canonicalize()
            .map_err(io(format!("opening {}", dir.display())))?;
        let (store, store_port) = spec.store.process(tools, &dir, &spec.store_heap).await?;

        // The processors' proxies (their ports are the broker's advertised
        // addresses, so they come first).
        let mut store_proxies = Vec::new();
        let mut broker_proxies = Vec::new();
        let mut extra = Vec::new();
        if spec.proxied {
            for i in 0..spec.processors {
                store_proxies.push(proxy(store_port).await?);
                let listen = free_port()?;
                let proxy = proxy(listen).await?;
                extra.push(format!("PROC{i}:{listen}:{}", proxy.port));
                broker_proxies.push(proxy);
            }
        }

        let broker_port = free_port()?;
        let broker = Proc::new(
            "broker",
            Spec::new(
                "bash",
                &[
                    &tools.script("kafka/broker.sh"),
                    &broker_port.to_string(),
                    &dir.join("kafka").to_string_lossy(),
                ],
            )
            .env("KAFKA_CLASSPATH", &tools.kafka_classpath)
            .env("KAFKA_EXTRA_LISTENERS", extra.join(",")),
            dir.join("broker.out"),
        );

        let redis_port = free_port()?;
        let redis = Proc::new(
            "redis",
            Spec::new(
                "redis-server",
                &[
                    "--port",
                    &redis_port.to_string(),
                    "--bind",
                    "127.0.0.1",
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
            ),
            dir.join("redis.log"),
        );

        let mut cell = Self {
            spec: spec.clone(),
            dir,
            tools: tools.clone(),
            store,
            store_port,
            broker,
            broker_port,
            redis,
            redis_port,
            gateways: Vec::new(),
            processors: Vec::new(),
            store_proxies,
            broker_proxies,
        };
        // The three services start side by side.
        cell.store.spawn(&[])?;
        cell.broker.spawn(&[])?;
        cell.redis.spawn(&[])?;
        cell.wait_redis().await?;
        cell.wait_broker().await?;
        cell.wait_store().await?;

        for i in 0..spec.processors {
            let node = cell.chatctl_node(&format!("processor{i}"), Some(i))?;
            cell.processors.push(node);
        }
        for i in 0..spec.gateways {
            let node = cell.chatctl_node(&format!("gateway{i}"), None)?;
            cell.gateways.push(node);
        }
        // Processors first: they create the topics and the schema.
        for i in 0..spec.processors {
            cell.start_processor(i).await?;
        }
        for i in 0..spec.gateways {
            cell.start_gateway(i).await?;
        }
        Ok(cell)
    }

    /// The `CHAT__…` settings of a client of this cell's engines: the
    /// store, broker and Redis URLs and the names, as every node has them
    /// (for a tool run against the cell, such as `chatctl baseline`).
    pub fn client_env(&self) -> Vec<(String, String)> {
        self.engine_env(
            format!("kafka://127.0.0.1:{}", self.broker_port),
            self.store_url(self.store_port),
        )
    }

    /// The same as [`Cell::client_env`], but on a new, empty store named
    /// `name` in the cell's store server (a keyspace, or a database), for
    /// a tool that rebuilds a store from the cell's log (`chatctl replay`).
    pub async fn client_env_on_fresh_store(
        &self,
        tools: &Tools,
        name: &str,
    ) -> Result<Vec<(String, String)>> {
        let store = self
            .spec
            .store
            .fresh(tools, &self.dir, self.store_port, name)
            .await?;
        Ok(self.engine_env(format!("kafka://127.0.0.1:{}", self.broker_port), store))
    }

    fn engine_env(&self, log: String, store: String) -> Vec<(String, String)> {
        let name = &self.spec.name;
        let mut env: Vec<(String, String)> = [
            ("CHAT__ENGINES__LOG", log),
            ("CHAT__ENGINES__STORE", store),
            (
                "CHAT__ENGINES__REALTIME",
                format!("redis://127.0.0.1:{}/", self.redis_port),
            ),
            ("CHAT__KAFKA__TOPIC_PREFIX", format!("{name}.")),
            ("CHAT__KAFKA__PARTITIONS", self.spec.partitions.to_string()),
            ("CHAT__REDIS__PREFIX", format!("{name}:")),
            (
                "CHAT__GATEWAY__JWT_SECRET",
                format!("{name}-token-secret-for-tests"),
            ),
            (
                "CHAT__GATEWAY__BLOB_URL_SECRET",
                format!("{name}-blob-url-secret-for-tests"),
            ),
            ("CHAT__GATEWAY__DEV_LOGIN", "true".into()),
            ("RUST_LOG", self.spec.log_filter.clone()),
        ]
        .map(|(k, v)| (k.to_string(), v))
        .to_vec();
        env.extend(self.spec.env.iter().cloned());
        env
    }

    fn chatctl_node(&self, name: &str, processor: Option<usize>) -> Result<Node> {
        let port = free_port()?;
        let (log, store) = match processor {
            Some(i) if self.spec.proxied => (
                format!("kafka://127.0.0.1:{}", self.broker_proxies[i].port),
                self.store_url(self.store_proxies[i].port),
            ),
            _ => (
                format!("kafka://127.0.0.1:{}", self.broker_port),
                self.store_url(self.store_port),
            ),
        };
        let data = self.dir.join(name);
        std::fs::create_dir_all(&data).map_err(io(format!("creating {}", data.display())))?;
        let role: &[&str] = match processor {
            Some(_) => &["processor", "--name", "all"],
            None => &["gateway"],
        };
        let listen = format!("127.0.0.1:{port}");
        let mut args = role.to_vec();
        args.extend(["--listen", &listen]);
        let mut spec = Spec::new(self.tools.chatctl.to_string_lossy(), &args)
            .env("CHAT__SERVER__DATA_DIR", data.to_string_lossy());
        spec.env.extend(self.engine_env(log, store));
        Ok(Node {
            proc: Proc::new(name, spec, self.dir.join(format!("{name}.log"))),
            port,
            clock_offset_ms: None,
        })
    }

    fn store_url(&self, port: u16) -> String {
        let keyspace = format!("chat_{}", self.spec.name.replace(['-', '.'], "_"));
        self.spec.store.url(port, &keyspace)
    }

    pub fn gateway_bases(&self) -> Vec<String> {
        self.gateways.iter().map(Node::base).collect()
    }

    /// Every part's name and process group (its leader's pid): store,
    /// broker, redis, gateway0…, processor0….
    pub fn processes(&self) -> Vec<(String, u32)> {
        let services = [&self.store, &self.broker, &self.redis];
        let nodes = self
            .gateways
            .iter()
            .chain(&self.processors)
            .map(|n| &n.proc);
        services
            .into_iter()
            .chain(nodes)
            .filter_map(|p| Some((p.name.clone(), p.pid()?)))
            .collect()
    }

    pub async fn start_gateway(&mut self, i: usize) -> Result<()> {
        start_node(&mut self.gateways[i]).await
    }

    pub async fn start_processor(&mut self, i: usize) -> Result<()> {
        start_node(&mut self.processors[i]).await
    }

    pub async fn restart_store(&mut self) -> Result<()> {
        self.store.spawn(&[])?;
        self.wait_store().await
    }

    pub async fn restart_broker(&mut self) -> Result<()> {
        let _ = std::fs::remove_file(self.dir.join("kafka/broker.log"));
        self.broker.spawn(&[])?;
        self.wait_broker().await
    }

    pub async fn restart_redis(&mut self) -> Result<()> {
        self.redis.spawn(&[])?;
        self.wait_redis().await
    }

    async fn wait_redis(&mut self) -> Result<()> {
        let port = self.redis_port;
        wait_until(&mut self.redis, || async move {
            tokio::net::TcpStream::connect(loopback(port)).await.is_ok()
        })
        .await
    }

    async fn wait_broker(&mut self) -> Result<()> {
        let log = self.dir.join("kafka/broker.log");
        wait_until(&mut self.broker, || {
            let log = log.clone();
            async move {
                tokio::fs::read_to_string(&log)
                    .await
                    .map(|t| t.contains("Kafka Server started"))
                    .unwrap_or(false)
            }
        })
        .await
    }

    async fn wait_store(&mut self) -> Result<()> {
        let (kind, port) = (self.spec.store, self.store_port);
        kind.wait(&self.tools, &mut self.store, port).await
    }

    /// Every proxy back to `Pass`.
    pub fn heal_links(&self) {
        for p in self.store_proxies.iter().chain(&self.broker_proxies) {
            p.set(Mode::Pass);
        }
    }
}

async fn proxy(port: u16) -> Result<Proxy> {
    Proxy::start(loopback(port))
        .await
        .map_err(io("starting a proxy"))
}

async fn start_node(node: &mut Node) -> Result<()> {
    let extra: Vec<(String, String)> = node
        .clock_offset_ms
        .map(|o| vec![("CHAT_CLOCK_OFFSET_MS".to_string(), o.to_string())])
        .unwrap_or_default();
    node.proc.spawn(&extra)?;
    let url = format!("{}/healthz", node.base());
    let http = reqwest::Client::new();
    wait_until(&mut node.proc, || {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false)
        }
    })
    .await
}
