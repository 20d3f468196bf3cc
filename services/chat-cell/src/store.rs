//! The cell's store: one Apache Cassandra node (infra/cassandra/node.sh)
//! or one PostgreSQL server (initdb into the cell's folder), started in the
//! foreground so that its process group is the cell's to signal.

use crate::error::{io, CellError, Result};
use crate::process::{free_port, free_port_where, Proc, Spec};
use crate::tools::Tools;
use crate::wait::{loopback, wait_until};
use std::path::Path;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Which store engine the cell runs.
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

impl StoreKind {
    /// The process of the store in `dir` and its client port; Cassandra's
    /// JVM gets `heap`.
    pub(crate) async fn process(
        self,
        tools: &Tools,
        dir: &Path,
        heap: &str,
    ) -> Result<(Proc, u16)> {
        Ok(match self {
            StoreKind::Cassandra => {
                let port = cassandra_port()?;
                let spec = Spec::new(
                    "bash",
                    &[
                        &tools.script("cassandra/node.sh"),
                        &port.to_string(),
                        &dir.join("cassandra").to_string_lossy(),
                    ],
                )
                .env("CASSANDRA_CLASSPATH", &tools.cassandra_classpath)
                .env("CASSANDRA_HEAP", heap);
                (Proc::new("store", spec, dir.join("cassandra.out")), port)
            }
            StoreKind::Postgres => {
                let port = free_port()?;
                let spec = postgres_spec(tools, dir, port).await?;
                (Proc::new("store", spec, dir.join("postgres.log")), port)
            }
        })
    }

    /// The store URL of a client at `port` (the store's or a proxy's);
    /// Cassandra's keyspace is `keyspace`.
    pub(crate) fn url(self, port: u16, keyspace: &str) -> String {
        match self {
            StoreKind::Cassandra => format!("cassandra://127.0.0.1:{port}/{keyspace}"),
            StoreKind::Postgres => format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        }
    }

    /// Makes an empty store named `name` (letters, digits, `_`) in the
    /// server at `port`, beside the cell's own, and returns its URL:
    /// Cassandra's store creates its keyspace when it opens; PostgreSQL's
    /// database is created here (`psql`, logged in `dir`).
    pub(crate) async fn fresh(
        self,
        tools: &Tools,
        dir: &Path,
        port: u16,
        name: &str,
    ) -> Result<String> {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(CellError::Missing(format!(
                "{name:?} is not a store name (letters, digits and _)"
            )));
        }
        match self {
            StoreKind::Cassandra => Ok(self.url(port, name)),
            StoreKind::Postgres => {
                let bin = tools
                    .pg_bin
                    .as_ref()
                    .ok_or_else(|| CellError::Missing("no PostgreSQL binaries".into()))?;
                let psql = [
                    bin.join("psql").to_string_lossy().to_string(),
                    "-h".into(),
                    "127.0.0.1".into(),
                    "-p".into(),
                    port.to_string(),
                    "-U".into(),
                    "postgres".into(),
                    "-d".into(),
                    "postgres".into(),
                    "-c".into(),
                    format!("CREATE DATABASE {name}"),
                ];
                run_logged(&psql, &dir.join(format!("createdb-{name}.log")), "createdb").await?;
                Ok(format!("postgres://postgres@127.0.0.1:{port}/{name}"))
            }
        }
    }

    /// Waits until the store at `port` answers.
    pub(crate) async fn wait(self, tools: &Tools, proc: &mut Proc, port: u16) -> Result<()> {
        match self {
            StoreKind::Cassandra => wait_until(proc, || cql_ready(port)).await,
            StoreKind::Postgres => {
                let isready = tools
                    .pg_bin
                    .as_ref()
                    .map(|b| b.join("pg_isready"))
                    .unwrap_or_default();
                wait_until(proc, || {
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
}

/// A CQL port whose storage (+1000) and JMX (+2000) ports are free too
/// (all three below the ephemeral range, like every port of the cell).
fn cassandra_port() -> Result<u16> {
    free_port_where(|p| {
        p < 28_000
            && std::net::TcpListener::bind(("127.0.0.1", p + 1000)).is_ok()
            && std::net::TcpListener::bind(("127.0.0.1", p + 2000)).is_ok()
    })
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

/// Runs `argv` to the end with its output in `log`; fails naming `what`.
async fn run_logged(argv: &[String], log: &Path, what: &str) -> Result<()> {
    let out = std::fs::File::create(log).map_err(io(format!("creating {}", log.display())))?;
    let err = out
        .try_clone()
        .map_err(io(format!("creating {}", log.display())))?;
    let ok = tokio::process::Command::new(&argv[0])
        .args(&argv[1..])
        .stdout(out)
        .stderr(err)
        .status()
        .await
        .map_err(io(format!("running {}", argv[0])))?
        .success();
    if ok {
        Ok(())
    } else {
        Err(CellError::Start {
            part: "store".into(),
            what: format!("{what} failed"),
            log: log.to_path_buf(),
        })
    }
}

/// initdb into `dir/pg` (owned by the postgres user when running as root,
/// since the server refuses root) and the spec of the server itself, in the
/// foreground, so that its pid (and process group) is the postmaster's.
async fn postgres_spec(tools: &Tools, dir: &Path, port: u16) -> Result<Spec> {
    let bin = tools
        .pg_bin
        .clone()
        .ok_or_else(|| CellError::Missing("no PostgreSQL binaries".into()))?;
    let data = dir.join("pg");
    let sockets = dir.join("pg-run");
    std::fs::create_dir_all(&sockets).map_err(io(format!("creating {}", sockets.display())))?;
    let root = tokio::process::Command::new("id")
        .arg("-u")
        .output()
        .await
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    let mut prefix: Vec<String> = Vec::new();
    if root {
        for d in [dir, &sockets] {
            let chown = ["chown", "postgres:postgres", &d.to_string_lossy()].map(String::from);
            run_logged(&chown, &dir.join("chown.log"), "chown postgres").await?;
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
    let path = |p: &Path| p.to_string_lossy().to_string();
    let mut initdb = prefix.clone();
    initdb.extend([
        path(&bin.join("initdb")),
        "-D".into(),
        path(&data),
        "-U".into(),
        "postgres".into(),
        "--encoding=UTF8".into(),
        "--no-locale".into(),
        "--auth-local=trust".into(),
        "--auth-host=trust".into(),
    ]);
    run_logged(&initdb, &dir.join("initdb.log"), "initdb").await?;
    let mut args = prefix;
    args.extend([
        path(&bin.join("postgres")),
        "-D".into(),
        path(&data),
        "-p".into(),
        port.to_string(),
        "-k".into(),
        path(&sockets),
        "-c".into(),
        "listen_addresses=127.0.0.1".into(),
        "-c".into(),
        "max_connections=200".into(),
    ]);
    let program = args.remove(0);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Ok(Spec::new(program, &args))
}
