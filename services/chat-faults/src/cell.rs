//! The cell under test, every part a process on loopback that the harness
//! owns: a store (one Apache Cassandra node or one PostgreSQL server), one
//! Kafka broker, one redis-server, two `chatctl processor --name all` and
//! two `chatctl gateway`. Each processor reaches the store and the broker
//! through a TCP proxy of its own (`proxy.rs`), so the nemesis can cut or
//! slow one processor's links; the gateways connect directly.
//!
//! Kafka: clients follow the advertised listener after bootstrap, so the
//! broker gets one extra listener per processor (`KAFKA_EXTRA_LISTENERS` of
//! infra/kafka/broker.sh) advertised as that processor's proxy port: every
//! connection the processor makes to the broker goes through its proxy.
//! Cassandra: the scylla driver discovers peers from system.peers (none in
//! a one-node cluster) and addresses the node it bootstrapped from by the
//! address it dialled (the proxy), not by its rpc_address; `Cell::direct_links`
//! lists any processor connection that bypasses the proxies, and the run
//! fails if there is one.

use crate::process::{free_port, Proc, Spec};
use crate::proxy::{Mode, Proxy};
use anyhow::{bail, Context, Result};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreKind {
    Cassandra,
    Postgres,
}

impl std::fmt::Display for StoreKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            StoreKind::Cassandra => "cassandra",
            StoreKind::Postgres => "postgres",
        })
    }
}

/// Where the harness finds its programs.
#[derive(Clone, Debug)]
pub struct Tools {
    pub chatctl: PathBuf,
    pub repo: PathBuf,
    /// The Kafka and Cassandra classpaths, resolved once per process.
    pub kafka_classpath: String,
    pub cassandra_classpath: String,
    pub pg_bin: Option<PathBuf>,
}

impl Tools {
    /// Finds everything a cell on `store` needs; the error says what is
    /// missing (a skip locally, a failure under CI).
    pub async fn find(chatctl: PathBuf, store: StoreKind) -> Result<Self> {
        let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let repo = repo.canonicalize().unwrap_or(repo);
        let chatctl = chatctl.canonicalize().unwrap_or(chatctl);
        if !chatctl.is_file() {
            bail!(
                "no chatctl at {} (cargo build -p chat-server --bin chatctl)",
                chatctl.display()
            );
        }
        if which("redis-server").is_none() {
            bail!("redis-server is not installed (./infra/redis/start.sh installs it)");
        }
        let kafka_classpath = classpath(&repo.join("infra/kafka/classpath.sh")).await?;
        let mut tools = Self {
            chatctl,
            repo,
            kafka_classpath,
            cassandra_classpath: String::new(),
            pg_bin: None,
        };
        match store {
            StoreKind::Cassandra => {
                tools.cassandra_classpath =
                    classpath(&tools.repo.join("infra/cassandra/classpath.sh")).await?;
            }
            StoreKind::Postgres => {
                let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
                    .map(|d| {
                        d.filter_map(|e| e.ok())
                            .map(|e| e.path().join("bin"))
                            .collect()
                    })
                    .unwrap_or_default();
                bins.retain(|b| b.join("initdb").is_file());
                bins.sort();
                tools.pg_bin = Some(bins.pop().context(
                    "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin \
                     (./infra/postgres/start.sh installs them)",
                )?);
            }
        }
        Ok(tools)
    }
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

async fn classpath(script: &Path) -> Result<String> {
    let out = tokio::process::Command::new("bash")
        .arg(script)
        .stderr(std::process::Stdio::inherit())
        .output()
        .await
        .with_context(|| format!("running {}", script.display()))?;
    if !out.status.success() {
        bail!("{} failed (Java and Maven are needed)", script.display());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
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

pub struct Cell {
    pub kind: StoreKind,
    pub dir: PathBuf,
    tools: Tools,
    pub store: Proc,
    pub store_port: u16,
    pub broker: Proc,
    pub broker_port: u16,
    pub redis: Proc,
    pub redis_port: u16,
    pub gateways: Vec<Node>,
    pub processors: Vec<Node>,
    /// Per processor: its proxy to the store and its proxy to the broker.
    pub store_proxies: Vec<Proxy>,
    pub broker_proxies: Vec<Proxy>,
}

/// How long a part may take to (re)start.
const START_TIMEOUT: Duration = Duration::from_secs(180);

impl Cell {
    /// Starts every part in `dir` and waits until the gateways answer.
    pub async fn start(kind: StoreKind, tools: &Tools, dir: &Path) -> Result<Self> {
        std::fs::create_dir_all(dir)?;
        let dir = dir.canonicalize()?;

        // The store.
        let (store, store_port) = match kind {
            StoreKind::Cassandra => {
                let port = cassandra_port()?;
                let spec = Spec::new(
                    "bash",
                    &[
                        &tools.repo.join("infra/cassandra/node.sh").to_string_lossy(),
                        &port.to_string(),
                        &dir.join("cassandra").to_string_lossy(),
                    ],
                )
                .env("CASSANDRA_CLASSPATH", &tools.cassandra_classpath)
                .env("CASSANDRA_HEAP", "512m");
                (Proc::new("store", spec, dir.join("cassandra.out")), port)
            }
            StoreKind::Postgres => {
                let port = free_port()?;
                let spec = postgres_spec(tools, &dir, port).await?;
                (Proc::new("store", spec, dir.join("postgres.log")), port)
            }
        };

        // The processors' proxies (their ports are the broker's advertised
        // addresses, so they come first).
        let n_proc = 2;
        let mut store_proxies = Vec::new();
        let mut broker_proxies = Vec::new();
        let mut extra = Vec::new();
        for i in 0..n_proc {
            store_proxies.push(Proxy::start(loopback(store_port)).await?);
            let listen = free_port()?;
            let proxy = Proxy::start(loopback(listen)).await?;
            extra.push(format!("PROC{i}:{listen}:{}", proxy.port));
            broker_proxies.push(proxy);
        }

        let broker_port = free_port()?;
        let broker = Proc::new(
            "broker",
            Spec::new(
                "bash",
                &[
                    &tools.repo.join("infra/kafka/broker.sh").to_string_lossy(),
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
            kind,
            dir: dir.clone(),
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

        for i in 0..n_proc {
            let node = cell.chatctl_node(&format!("processor{i}"), Some(i))?;
            cell.processors.push(node);
        }
        for i in 0..2 {
            let node = cell.chatctl_node(&format!("gateway{i}"), None)?;
            cell.gateways.push(node);
        }
        // Processors first: they create the topics and the schema.
        for i in 0..n_proc {
            cell.start_processor(i).await?;
        }
        for i in 0..2 {
            cell.start_gateway(i).await?;
        }
        Ok(cell)
    }

    fn chatctl_node(&self, name: &str, processor: Option<usize>) -> Result<Node> {
        let port = free_port()?;
        let (log, store) = match processor {
            Some(i) => (
                format!("kafka://127.0.0.1:{}", self.broker_proxies[i].port),
                self.store_url(self.store_proxies[i].port),
            ),
            None => (
                format!("kafka://127.0.0.1:{}", self.broker_port),
                self.store_url(self.store_port),
            ),
        };
        let data = self.dir.join(name);
        std::fs::create_dir_all(&data)?;
        let role: &[&str] = match processor {
            Some(_) => &["processor", "--name", "all"],
            None => &["gateway"],
        };
        let listen = format!("127.0.0.1:{port}");
        let mut args = role.to_vec();
        args.extend(["--listen", &listen]);
        let spec = Spec::new(self.tools.chatctl.to_string_lossy(), &args)
            .env("CHAT__ENGINES__LOG", log)
            .env("CHAT__ENGINES__STORE", store)
            .env(
                "CHAT__ENGINES__REALTIME",
                format!("redis://127.0.0.1:{}/", self.redis_port),
            )
            .env("CHAT__KAFKA__TOPIC_PREFIX", "faults.")
            .env("CHAT__KAFKA__PARTITIONS", "4")
            .env("CHAT__REDIS__PREFIX", "faults:")
            .env("CHAT__GATEWAY__JWT_SECRET", "faults-secret")
            .env("CHAT__GATEWAY__DEV_LOGIN", "true")
            .env("CHAT__GATEWAY__SEND_RATE_PER_SEC", "1000")
            .env("CHAT__GATEWAY__SEND_BURST", "1000")
            .env("CHAT__SERVER__DATA_DIR", data.to_string_lossy())
            .env(
                "RUST_LOG",
                std::env::var("CHAT_FAULTS_LOG").unwrap_or_else(|_| "warn".into()),
            );
        Ok(Node {
            proc: Proc::new(name, spec, self.dir.join(format!("{name}.log"))),
            port,
            clock_offset_ms: None,
        })
    }

    fn store_url(&self, port: u16) -> String {
        match self.kind {
            StoreKind::Cassandra => format!("cassandra://127.0.0.1:{port}/chat_faults"),
            StoreKind::Postgres => format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        }
    }

    pub fn gateway_bases(&self) -> Vec<String> {
        self.gateways.iter().map(Node::base).collect()
    }

    pub async fn start_gateway(&mut self, i: usize) -> Result<()> {
        let node = &mut self.gateways[i];
        start_node(node).await
    }

    pub async fn start_processor(&mut self, i: usize) -> Result<()> {
        let node = &mut self.processors[i];
        start_node(node).await
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
        let port = self.store_port;
        match self.kind {
            StoreKind::Cassandra => wait_until(&mut self.store, || cql_ready(port)).await,
            StoreKind::Postgres => {
                let isready = self
                    .tools
                    .pg_bin
                    .as_ref()
                    .map(|b| b.join("pg_isready"))
                    .unwrap_or_default();
                wait_until(&mut self.store, || {
                    let isready = isready.clone();
                    async move {
                        tokio::process::Command::new(&isready)
                            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                            .args(["-U", "postgres"])
                            .status()
                            .await
                            .map(|s| s.success())
                            .unwrap_or(false)
                    }
                })
                .await
            }
        }
    }

    /// Every proxy back to `Pass`.
    pub fn heal_links(&self) {
        for p in self.store_proxies.iter().chain(&self.broker_proxies) {
            p.set(Mode::Pass);
        }
    }

    /// Established TCP connections of the processors that go straight to
    /// the store's or the broker's client port instead of through a proxy
    /// (`ss`), as "pid→port" strings; empty when the cuts are real.
    pub async fn direct_links(&self) -> Vec<String> {
        let pids: Vec<u32> = self
            .processors
            .iter()
            .filter_map(|n| n.proc.pid())
            .collect();
        let out = match tokio::process::Command::new("ss")
            .args(["-tnpH", "state", "established"])
            .output()
            .await
        {
            Ok(out) if out.status.success() => out,
            // A check that cannot look must not pass: it reports itself.
            _ => return vec!["ss (iproute2) could not list the connections".to_string()],
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let direct = [self.store_port, self.broker_port];
        let mut found = Vec::new();
        for line in text.lines() {
            let cols: Vec<&str> = line.split_whitespace().collect();
            let (Some(peer), Some(users)) = (cols.get(3), cols.last()) else {
                continue;
            };
            let Some(port) = peer.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()) else {
                continue;
            };
            if !direct.contains(&port) {
                continue;
            }
            for pid in &pids {
                if users.contains(&format!("pid={pid},")) {
                    found.push(format!("{pid}->{port}"));
                }
            }
        }
        found
    }
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

/// Polls `ready` until it is true; fails when `proc` exits or after
/// `START_TIMEOUT`.
async fn wait_until<F, Fut>(proc: &mut Proc, mut ready: F) -> Result<()>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + START_TIMEOUT;
    loop {
        if ready().await {
            return Ok(());
        }
        if let Some(status) = proc.exited() {
            bail!(
                "{} exited while starting ({status}); see {}",
                proc.name,
                proc.log.display()
            );
        }
        if Instant::now() > end {
            bail!(
                "{} did not start within {START_TIMEOUT:?}; see {}",
                proc.name,
                proc.log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// A CQL port whose storage (+1000) and JMX (+2000) ports are free too.
fn cassandra_port() -> Result<u16> {
    for _ in 0..50 {
        let p = free_port()?;
        if p < 60000
            && std::net::TcpListener::bind(("127.0.0.1", p + 1000)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", p + 2000)).is_ok()
        {
            return Ok(p);
        }
    }
    bail!("found no free port for Cassandra")
}

/// Whether a CQL server on `port` answers OPTIONS with SUPPORTED.
async fn cql_ready(port: u16) -> bool {
    let attempt = async {
        let mut s = tokio::net::TcpStream::connect(loopback(port)).await.ok()?;
        s.write_all(&[0x04, 0, 0, 0, 0x05, 0, 0, 0, 0]).await.ok()?;
        let mut head = [0u8; 9];
        s.read_exact(&mut head).await.ok()?;
        Some(head[0] == 0x84 && head[4] == 0x06)
    };
    tokio::time::timeout(Duration::from_secs(3), attempt)
        .await
        .ok()
        .flatten()
        .unwrap_or(false)
}

/// initdb into `dir/pg` (owned by the postgres user when running as root,
/// since the server refuses root) and the spec of the server itself, in the
/// foreground, so that its pid (and process group) is the postmaster's.
async fn postgres_spec(tools: &Tools, dir: &Path, port: u16) -> Result<Spec> {
    let bin = tools.pg_bin.clone().context("no PostgreSQL binaries")?;
    let data = dir.join("pg");
    let sockets = dir.join("pg-run");
    std::fs::create_dir_all(&sockets)?;
    let root = tokio::process::Command::new("id")
        .arg("-u")
        .output()
        .await
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut prefix: Vec<String> = Vec::new();
    if root {
        for d in [dir, &sockets] {
            let ok = tokio::process::Command::new("chown")
                .args(["postgres:postgres", &d.to_string_lossy()])
                .status()
                .await?
                .success();
            if !ok {
                bail!("chown postgres {} failed", d.display());
            }
        }
        prefix = [
            "setpriv",
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--",
        ]
        .map(String::from)
        .to_vec();
    }
    let mut initdb = prefix.clone();
    initdb.extend([
        bin.join("initdb").to_string_lossy().to_string(),
        "-D".into(),
        data.to_string_lossy().to_string(),
        "-U".into(),
        "postgres".into(),
        "--encoding=UTF8".into(),
        "--no-locale".into(),
        "--auth-local=trust".into(),
        "--auth-host=trust".into(),
    ]);
    let log = std::fs::File::create(dir.join("initdb.log"))?;
    let ok = tokio::process::Command::new(&initdb[0])
        .args(&initdb[1..])
        .stdout(log.try_clone()?)
        .stderr(log)
        .status()
        .await?
        .success();
    if !ok {
        bail!("initdb failed; see {}", dir.join("initdb.log").display());
    }
    let mut args = prefix;
    args.extend([
        bin.join("postgres").to_string_lossy().to_string(),
        "-D".into(),
        data.to_string_lossy().to_string(),
        "-p".into(),
        port.to_string(),
        "-k".into(),
        sockets.to_string_lossy().to_string(),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "max_connections=200".into(),
    ]);
    let program = args.remove(0);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(Spec::new(program, &args))
}
