//! Where a cell finds its programs: chatctl, redis-server, the Kafka and
//! Cassandra classpaths (Maven, through the repository's infra scripts),
//! PostgreSQL's server binaries.

use crate::error::{io, CellError, Result};
use crate::store::StoreKind;
use std::path::{Path, PathBuf};

/// The programs a cell runs.
#[derive(Clone, Debug)]
pub struct Tools {
    pub chatctl: PathBuf,
    /// The repository (its `infra/` scripts start the broker and Cassandra).
    pub repo: PathBuf,
    /// The Kafka and Cassandra classpaths, resolved once per process.
    pub kafka_classpath: String,
    pub cassandra_classpath: String,
    pub pg_bin: Option<PathBuf>,
}

impl Tools {
    /// Finds everything a cell on `store` needs; a `CellError::Missing`
    /// says what is missing (a skip locally, a failure under CI).
    pub async fn find(chatctl: PathBuf, store: StoreKind) -> Result<Self> {
        let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        let repo = repo.canonicalize().unwrap_or(repo);
        let chatctl = chatctl.canonicalize().unwrap_or(chatctl);
        if !chatctl.is_file() {
            return Err(CellError::Missing(format!(
                "no chatctl at {} (cargo build -p chat-server --bin chatctl)",
                chatctl.display()
            )));
        }
        if which("redis-server").is_none() {
            return Err(CellError::Missing(
                "redis-server is not installed (./infra/redis/start.sh installs it)".into(),
            ));
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
            StoreKind::Postgres => tools.pg_bin = Some(pg_bin()?),
        }
        Ok(tools)
    }

    /// A script of the repository's `infra/`.
    pub(crate) fn script(&self, path: &str) -> String {
        self.repo.join("infra").join(path).to_string_lossy().into()
    }
}

/// The newest PostgreSQL server binaries under /usr/lib/postgresql.
fn pg_bin() -> Result<PathBuf> {
    let mut bins: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin"))
                .collect()
        })
        .unwrap_or_default();
    bins.retain(|b| b.join("initdb").is_file());
    bins.sort();
    bins.pop().ok_or_else(|| {
        CellError::Missing(
            "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin \
             (./infra/postgres/start.sh installs them)"
                .into(),
        )
    })
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
        .map_err(io(format!("running {}", script.display())))?;
    if !out.status.success() {
        return Err(CellError::Missing(format!(
            "{} failed (Java and Maven are needed)",
            script.display()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
