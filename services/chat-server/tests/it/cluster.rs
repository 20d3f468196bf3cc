//! A cluster of `chatctl` processes on real Kafka, Cassandra and Redis
//! (`KAFKA_BOOTSTRAP`, `CASSANDRA_NODES`, `REDIS_URL`; `./infra/test.sh`
//! starts local ones). Each cluster gets its own topic prefix, keyspace and
//! Redis prefix, so tests run side by side. `CHAT_IT_STORE=postgres` runs
//! the same tests on PostgreSQL (`DATABASE_URL`) instead.
//!
//! Built with the engines' features (`kafka`, `cassandra`, `postgres`,
//! `redis`; the defaults).
#![cfg(all(
    feature = "kafka",
    feature = "cassandra",
    feature = "postgres",
    feature = "redis"
))]

use crate::harness::{spawn_chatctl, Server};
use std::process::{Child, Command, Stdio};

/// The store the clusters of this run use.
#[derive(Clone)]
pub enum StoreService {
    /// `host:port[,…]` of Cassandra nodes.
    Cassandra(String),
    /// A PostgreSQL server URL.
    Postgres(String),
}

pub struct Services {
    pub kafka: String,
    pub redis: String,
    pub store: StoreService,
}

/// The services from the environment, or None (with the reason printed;
/// under CI, a failure).
pub fn services() -> Option<Services> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let postgres = get("CHAT_IT_STORE").as_deref() == Some("postgres");
    let store = if postgres {
        get("DATABASE_URL").map(StoreService::Postgres)
    } else {
        get("CASSANDRA_NODES").map(StoreService::Cassandra)
    };
    match (get("KAFKA_BOOTSTRAP"), get("REDIS_URL"), store) {
        (Some(kafka), Some(redis), Some(store)) => Some(Services {
            kafka,
            redis,
            store,
        }),
        _ => {
            chat_ports::conformance::skip(if postgres {
                "KAFKA_BOOTSTRAP, REDIS_URL and DATABASE_URL must all be set \
                 (./infra/test.sh starts local services)"
            } else {
                "KAFKA_BOOTSTRAP, REDIS_URL and CASSANDRA_NODES must all be set \
                 (./infra/test.sh starts local services)"
            });
            None
        }
    }
}

impl Services {
    /// The URL of a fresh, empty store: a new keyspace (which the engine
    /// creates on connect) or a new database.
    pub async fn fresh_store(&self) -> String {
        let name = format!("chat_it_{}", uuid::Uuid::new_v4().simple());
        match &self.store {
            StoreService::Cassandra(nodes) => format!("cassandra://{nodes}/{name}"),
            StoreService::Postgres(url) => fresh_database(url, &name).await,
        }
    }
}

/// Drops the keyspace of a `cassandra://nodes/keyspace` URL, from a thread
/// of its own (this runs in `Drop`, inside the test's runtime).
pub fn drop_keyspace(url: &str) {
    let Some((nodes, keyspace)) = url
        .strip_prefix("cassandra://")
        .and_then(|rest| rest.split_once('/'))
    else {
        return;
    };
    let (nodes, keyspace) = (nodes.to_string(), keyspace.to_string());
    let dropped = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let session = scylla::client::session_builder::SessionBuilder::new()
                .known_nodes(nodes.split(','))
                .build()
                .await
                .ok()?;
            session
                .query_unpaged(format!("DROP KEYSPACE IF EXISTS {keyspace}"), ())
                .await
                .ok()
        })
    })
    .join();
    if !matches!(dropped, Ok(Some(_))) {
        eprintln!("could not drop the test keyspace of {url}");
    }
}

pub struct Cluster {
    pub env: Vec<(String, String)>,
    pub processes: Vec<Proc>,
    /// Stores this cluster created, dropped with it.
    pub stores: Vec<String>,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // The processes first: they hold sessions on the keyspaces.
        self.processes.clear();
        for url in &self.stores {
            drop_keyspace(url);
        }
    }
}

pub struct Proc {
    pub child: Child,
    pub base: String,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until something listens on the loopback `port` (a test's setup,
/// before any of its tasks run).
#[allow(clippy::disallowed_methods)]
fn wait_port(port: u16, what: &str) -> std::io::Result<()> {
    for _ in 0..300 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Err(std::io::Error::other(format!(
        "{what} did not open its port"
    )))
}

/// Creates the database `name` on the server of `url`; returns its URL.
pub async fn fresh_database(url: &str, name: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap();
    let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(url);
    format!("{base}/{name}")
}

impl Cluster {
    pub async fn new(s: &Services) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let store = s.fresh_store().await;
        let env = vec![
            ("CHAT__ENGINES__LOG".into(), format!("kafka://{}", s.kafka)),
            ("CHAT__ENGINES__STORE".into(), store.clone()),
            ("CHAT__ENGINES__REALTIME".into(), s.redis.clone()),
            ("CHAT__KAFKA__TOPIC_PREFIX".into(), format!("it{id}.")),
            ("CHAT__KAFKA__PARTITIONS".into(), "4".into()),
            ("CHAT__REDIS__PREFIX".into(), format!("it{id}:")),
            (
                "CHAT__GATEWAY__JWT_SECRET".into(),
                "cluster-secret-for-tests".into(),
            ),
            (
                "CHAT__GATEWAY__BLOB_URL_SECRET".into(),
                "cluster-blob-url-secret-for-tests".into(),
            ),
            // Off by default outside the embedded mode; the tests log in with it.
            ("CHAT__GATEWAY__DEV_LOGIN".into(), "true".into()),
            ("CHAT__GATEWAY__SEND_RATE_PER_SEC".into(), "1000".into()),
            ("CHAT__GATEWAY__SEND_BURST".into(), "1000".into()),
            (
                "CHAT__GATEWAY__CLIENT_LIMITS__USER_SENDS_PER_SEC".into(),
                "10000".into(),
            ),
            (
                "CHAT__GATEWAY__CLIENT_LIMITS__USER_SEND_BURST".into(),
                "10000".into(),
            ),
            (
                "CHAT__GATEWAY__CLIENT_LIMITS__SYNC_BURST".into(),
                "10000".into(),
            ),
            (
                "CHAT__GATEWAY__CLIENT_LIMITS__SEARCH_BURST".into(),
                "100000".into(),
            ),
            (
                "CHAT__GATEWAY__CLIENT_LIMITS__RECEIPT_BURST".into(),
                "100000".into(),
            ),
            (
                "CHAT__GATEWAY__CLIENT_LIMITS__CONVERSATION_BURST".into(),
                "100000".into(),
            ),
            (
                "CHAT__GATEWAY__CLIENT_LIMITS__MEMBER_ADD_BURST".into(),
                "1000000".into(),
            ),
            (
                "RUST_LOG".into(),
                std::env::var("CHAT_IT_LOG").unwrap_or_else(|_| "warn".into()),
            ),
        ];
        Self {
            env,
            processes: Vec::new(),
            stores: vec![store],
        }
    }

    /// Processes started from now on use `broker` as their log.
    pub fn use_broker(&mut self, broker: &OwnBroker) {
        self.env.retain(|(k, _)| k != "CHAT__ENGINES__LOG");
        self.env.push((
            "CHAT__ENGINES__LOG".into(),
            format!("kafka://{}", broker.bootstrap()),
        ));
    }

    /// Starts `chatctl <args…> --listen 127.0.0.1:0`; returns its index.
    pub fn start(&mut self, args: &[&str]) -> usize {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (child, base) = spawn_chatctl(args, &env);
        self.processes.push(Proc { child, base });
        self.processes.len() - 1
    }

    /// A client of the gateway at `index`.
    pub fn gateway(&self, index: usize) -> Server {
        Server {
            _node: None,
            base: self.processes[index].base.clone(),
            http: reqwest::Client::new(),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// SIGKILL, no shutdown path.
    pub fn kill(&mut self, index: usize) {
        let p = &mut self.processes[index];
        p.child.kill().unwrap();
        p.child.wait().unwrap();
    }

    /// Runs `chatctl <args…>` to completion with this cluster's settings
    /// and `extra` env; returns stdout.
    pub fn run(&self, args: &[&str], extra: &[(&str, &str)]) -> String {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatctl"));
        cmd.args(args).stderr(Stdio::inherit());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "chatctl {args:?} failed");
        String::from_utf8(out.stdout).unwrap()
    }
}

/// A redis-server of a test's own, on a free port, so the test can kill and
/// restart it without disturbing the others.
pub struct OwnRedis {
    pub port: u16,
    child: Option<Child>,
}

impl OwnRedis {
    /// Starts one, or None (with the reason printed) when redis-server is
    /// not installed.
    pub fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut r = Self { port, child: None };
        if let Err(e) = r.restart() {
            chat_ports::conformance::skip(&format!("redis-server cannot be started here ({e})"));
            return None;
        }
        Some(r)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it (again) on the same port and waits until it answers.
    pub fn restart(&mut self) -> std::io::Result<()> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        wait_port(self.port, "redis-server")
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An Apache Kafka broker of a test's own (`infra/kafka/broker.sh` on a
/// free port and a folder of its own), which the test can kill -9 and
/// restart on the same data.
pub struct OwnBroker {
    pub port: u16,
    dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnBroker {
    /// Starts one, or None (with the reason printed; under CI, a failure)
    /// when it cannot run here.
    pub fn start() -> Option<Self> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut b = Self {
            port,
            dir: tempfile::tempdir().unwrap(),
            child: None,
        };
        if let Err(e) = b.restart() {
            chat_ports::conformance::skip(&format!(
                "a Kafka broker of the test's own cannot be started here ({e}; its log: {})",
                b.log().display()
            ));
            return None;
        }
        Some(b)
    }

    /// The broker's log file.
    pub fn log(&self) -> std::path::PathBuf {
        self.dir.path().join("broker.log")
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL (broker.sh execs java, so this is the JVM itself).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGKILL, then its data is gone: restarted, it is a new cluster
    /// whose topics start again from offset 0 (a broker that lost its
    /// disk, or topics deleted and created again).
    pub fn kill_and_lose_data(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(self.dir.path().join("data"));
    }

    /// Starts it (again) on the same port and data, and waits until it
    /// says it takes requests.
    pub fn restart(&mut self) -> std::io::Result<()> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../infra/kafka/broker.sh");
        // The last run's log says it started; only this run's may.
        let log = self.log();
        let _ = std::fs::remove_file(&log);
        let child = Command::new("bash")
            .arg(script)
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        self.child = Some(child);
        for _ in 0..600 {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.contains("Kafka Server started") {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Some(status) = c.try_wait()? {
                    return Err(std::io::Error::other(format!(
                        "the broker exited: {status}"
                    )));
                }
            }
            #[allow(clippy::disallowed_methods)] // (setup, as wait_port)
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(std::io::Error::other(
            "the broker did not start within 60 s",
        ))
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.kill();
    }
}
