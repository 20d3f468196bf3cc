//! `--cell`: a distributed cell (`chat-cell`) started for the run, driven
//! through all its gateways, its components measured bare afterwards with
//! `chatctl baseline`, and stopped.

use crate::cli::CellOpts;
use anyhow::Context;
use chat_cell::{Cell, CellSpec, StoreKind, Tools};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// What the report keeps of the cell.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CellReport {
    /// `cassandra` or `postgres`.
    pub store: String,
    pub gateways: usize,
    pub processors: usize,
    pub partitions: u32,
    /// `chatctl baseline all`'s figures, measured on the same cell after
    /// the scenario (absent with `--no-baseline`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<serde_json::Value>,
    /// `chatctl replay`'s figures (with `--replay`): the cell's log
    /// rebuilt into an empty store beside its own, after the run, plus
    /// `wall_secs`, the whole command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<serde_json::Value>,
}

/// A started cell and its folder.
pub struct RunningCell {
    pub cell: Cell,
    tools: Tools,
    report: CellReport,
    /// Removed on drop unless the user named it.
    _temp: Option<tempfile::TempDir>,
}

impl RunningCell {
    /// Starts the cell `opts` describe on `store`.
    pub async fn start(opts: &CellOpts, store: StoreKind) -> anyhow::Result<Self> {
        let tools = Tools::find(opts.chatctl.clone(), store)
            .await
            .context("the cell cannot start here")?;
        let (dir, temp) = match &opts.cell_dir {
            Some(d) => (d.clone(), None),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("chat-load-cell.")
                    .tempdir()?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        open_to_postgres(&dir)?;
        let mut spec = CellSpec::new(store, "load");
        spec.gateways = opts.cell_gateways.max(1);
        spec.processors = opts.cell_processors.max(1);
        spec.partitions = opts.cell_partitions.max(1);
        spec.store_heap = opts.cell_store_heap.clone();
        // The generator decides the rate; the gateways' per-device limit
        // must not (the scenarios keep each device far below 1000/s).
        spec.env = chat_cell::unthrottled();
        eprintln!(
            "cell: starting {} gateway(s), {} processor(s), {} partitions on {store} in {}",
            spec.gateways,
            spec.processors,
            spec.partitions,
            dir.display()
        );
        let t0 = std::time::Instant::now();
        let cell = Cell::start(spec.clone(), &tools, &dir)
            .await
            .context("starting the cell")?;
        eprintln!("cell: up in {:.1}s", t0.elapsed().as_secs_f64());
        Ok(Self {
            cell,
            tools,
            report: CellReport {
                store: store.to_string(),
                gateways: spec.gateways,
                processors: spec.processors,
                partitions: spec.partitions,
                baseline: None,
                replay: None,
            },
            _temp: temp,
        })
    }

    /// The gateways' base URLs.
    pub fn bases(&self) -> Vec<String> {
        self.cell.gateway_bases()
    }

    /// The parts to sample, by name.
    pub fn parts(&self) -> Vec<(String, u32)> {
        self.cell.processes()
    }

    /// Runs `chatctl baseline all` against the cell's engines and keeps
    /// its figures.
    pub async fn baseline(&mut self, count: u64) -> anyhow::Result<()> {
        eprintln!("cell: measuring the components bare (chatctl baseline all --count {count})");
        let out = tokio::process::Command::new(&self.tools.chatctl)
            .args(["baseline", "all", "--count", &count.to_string()])
            .envs(self.cell.client_env())
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .context("running chatctl baseline")?;
        if !out.status.success() {
            anyhow::bail!("chatctl baseline all failed ({})", out.status);
        }
        let figures: serde_json::Value = serde_json::from_slice(&out.stdout)
            .context("chatctl baseline printed no JSON object")?;
        self.report.baseline = Some(figures);
        Ok(())
    }

    /// Rebuilds the cell's store from its log into an empty store beside
    /// it (`chatctl replay`) and keeps its figures; fails when it replayed
    /// fewer commands than the `acked` sends the run had acknowledged.
    pub async fn replay(&mut self, acked: u64) -> anyhow::Result<()> {
        let env = self
            .cell
            .client_env_on_fresh_store(&self.tools, "chat_replayed")
            .await
            .context("making an empty store to replay into")?;
        eprintln!("cell: rebuilding the store from the log (chatctl replay)");
        let t0 = std::time::Instant::now();
        let out = tokio::process::Command::new(&self.tools.chatctl)
            .arg("replay")
            .envs(env)
            .stderr(std::process::Stdio::inherit())
            .output()
            .await
            .context("running chatctl replay")?;
        let wall = t0.elapsed().as_secs_f64();
        if !out.status.success() {
            anyhow::bail!("chatctl replay failed ({})", out.status);
        }
        let mut figures: serde_json::Value =
            serde_json::from_slice(&out.stdout).context("chatctl replay printed no JSON object")?;
        if let Some(o) = figures.as_object_mut() {
            o.insert("wall_secs".into(), wall.into());
        }
        eprintln!("cell: replay {figures}");
        let replayed = figures["sequencer_records"].as_u64().unwrap_or(0);
        self.report.replay = Some(figures);
        if replayed < acked {
            anyhow::bail!(
                "the replay read {replayed} commands, fewer than the {acked} acknowledged sends"
            );
        }
        Ok(())
    }

    /// What the report keeps.
    pub fn report(&self) -> CellReport {
        self.report.clone()
    }
}

/// A PostgreSQL server runs as the postgres user under the cell's folder,
/// which it must be able to walk through (a temporary folder is 0700).
fn open_to_postgres(dir: &PathBuf) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir)?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("opening {} to the postgres user", dir.display()))
}
