//! A cluster of `chatctl` processes on real Kafka, PostgreSQL and Redis
//! (`KAFKA_BOOTSTRAP`, `DATABASE_URL`, `REDIS_URL`; `./infra/test.sh`
//! starts local ones). Each cluster gets its own topic prefix, database and
//! Redis prefix, so tests run side by side.

use crate::harness::Server;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

pub struct Services {
    pub kafka: String,
    pub redis: String,
    pub database: String,
}

/// The services from the environment, or None (with the reason printed).
pub fn services() -> Option<Services> {
    let get = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (
        get("KAFKA_BOOTSTRAP"),
        get("REDIS_URL"),
        get("DATABASE_URL"),
    ) {
        (Some(kafka), Some(redis), Some(database)) => Some(Services {
            kafka,
            redis,
            database,
        }),
        _ => {
            println!(
                "skipped: KAFKA_BOOTSTRAP, REDIS_URL and DATABASE_URL must all be set \
                 (./infra/test.sh starts local services)"
            );
            None
        }
    }
}

pub struct Cluster {
    pub env: Vec<(String, String)>,
    pub processes: Vec<Proc>,
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

/// Starts `chatctl <args…> --listen 127.0.0.1:0` with `env`, waits for its
/// `listening on ADDR` line; returns the child and `http://ADDR`.
pub fn spawn_chatctl(args: &[&str], env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatctl"));
    cmd.args(args)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("chatctl starts");
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let addr = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("{args:?} did not start: {line:?}"))
        .to_string();
    (child, format!("http://{addr}"))
}

/// Waits until something listens on the loopback `port`.
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

/// Creates a fresh database on the server of `url`; returns its URL.
pub async fn fresh_database(url: &str) -> String {
    let name = format!("chat_it_{}", uuid::Uuid::new_v4().simple());
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
        let database_url = fresh_database(&s.database).await;
        let env = vec![
            ("CHAT__ENGINES__LOG".into(), format!("kafka://{}", s.kafka)),
            ("CHAT__ENGINES__STORE".into(), database_url.clone()),
            ("CHAT__ENGINES__REALTIME".into(), s.redis.clone()),
            ("CHAT__KAFKA__TOPIC_PREFIX".into(), format!("it{id}.")),
            ("CHAT__KAFKA__PARTITIONS".into(), "4".into()),
            ("CHAT__REDIS__PREFIX".into(), format!("it{id}:")),
            ("CHAT__GATEWAY__JWT_SECRET".into(), "cluster-secret".into()),
            // Off by default outside the embedded mode; the tests log in with it.
            ("CHAT__GATEWAY__DEV_LOGIN".into(), "true".into()),
            ("CHAT__GATEWAY__SEND_RATE_PER_SEC".into(), "1000".into()),
            ("CHAT__GATEWAY__SEND_BURST".into(), "1000".into()),
            ("RUST_LOG".into(), "warn".into()),
        ];
        Self {
            env,
            processes: Vec::new(),
        }
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
            println!("skipped: redis-server cannot be started here ({e})");
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

/// A Kafka-protocol broker of a test's own (tansu with its sqlite engine,
/// `TANSU_SQLITE_BIN`), whose topics and offsets survive its restart.
pub struct OwnBroker {
    pub port: u16,
    bin: String,
    db: std::path::PathBuf,
    _dir: tempfile::TempDir,
    child: Option<Child>,
}

impl OwnBroker {
    pub fn start() -> Option<Self> {
        let Some(bin) = std::env::var("TANSU_SQLITE_BIN")
            .ok()
            .filter(|b| !b.is_empty())
        else {
            println!(
                "skipped: TANSU_SQLITE_BIN is not set (./infra/test.sh builds tansu with its sqlite engine)"
            );
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let mut b = Self {
            port,
            bin,
            db: dir.path().join("tansu.db"),
            _dir: dir,
            child: None,
        };
        if let Err(e) = b.restart() {
            println!("skipped: the sqlite broker cannot be started here ({e})");
            return None;
        }
        Some(b)
    }

    /// The broker's log file.
    pub fn log(&self) -> std::path::PathBuf {
        self.db.with_file_name("broker.log")
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// SIGKILL.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it (again) on the same port and file, and waits for the port.
    pub fn restart(&mut self) -> std::io::Result<()> {
        let url = format!("tcp://127.0.0.1:{}", self.port);
        // tansu reads a sqlite:// path relative to its working directory.
        let dir = self.db.parent().expect("the database is in a folder");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("broker.log"))?;
        let child = Command::new(&self.bin)
            .current_dir(dir)
            .args([
                "broker",
                "--listener-url",
                &url,
                "--advertised-listener-url",
                &url,
            ])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        wait_port(self.port, "the broker")
    }
}

impl Drop for OwnBroker {
    fn drop(&mut self) {
        self.kill();
    }
}
