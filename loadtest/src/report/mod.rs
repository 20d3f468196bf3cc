//! The report of one invocation: `report.json` with every figure, a
//! Markdown summary and PNG charts, in `<out>/<date>-<scenario>[-label]/`.

pub mod cell;
pub mod charts;
pub mod compare;
pub mod markdown;

use crate::record::{LatencySummary, Second};
use anyhow::Context;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What one target did in one scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunOutput {
    /// `chat` or `ejabberd`.
    pub target: String,
    /// Named figures; the suffix says the unit (`_ms`, `_per_sec`, …).
    pub figures: BTreeMap<String, f64>,
    /// Latency percentiles by kind (`sent`, `delivered`, `connect`, `resync`).
    pub latency: BTreeMap<String, LatencySummary>,
    /// Errors by code.
    pub errors: BTreeMap<String, u64>,
    /// Correctness violations by kind (all zero when all is well).
    pub violations: BTreeMap<String, u64>,
    /// Per-second counts and process figures.
    pub timeline: Vec<Second>,
    /// What a reader must know to read the figures.
    pub notes: Vec<String>,
    /// Why the run did not reach its whole population (devices that never
    /// connected, or never came back), if it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

impl RunOutput {
    /// Total violations.
    pub fn violation_count(&self) -> u64 {
        self.violations.values().sum()
    }
}

/// The machine the run was made on.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Machine {
    /// Logical CPUs.
    pub cpus: usize,
    /// Total memory, MiB.
    pub memory_mib: u64,
    /// `uname -r`.
    pub kernel: String,
    /// The generator's open-file limit after raising it.
    pub fd_limit: u64,
}

impl Machine {
    /// Reads the machine's figures.
    pub fn describe(fd_limit: u64) -> Self {
        let memory_mib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            })
            .unwrap_or(0)
            / 1024;
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        Machine {
            cpus: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            memory_mib,
            kernel,
            fd_limit,
        }
    }
}

/// One invocation's report.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// `connections`, `direct`, `groups`, `reconnect-storm` or `hostile`.
    pub scenario: String,
    /// A distinguishing label (e.g. `g100`), if any.
    pub label: Option<String>,
    /// When the run started (local time, RFC 3339).
    pub started_at: String,
    /// The command line, to reproduce it.
    pub command: String,
    /// Where it ran.
    pub machine: Machine,
    /// The scenario's parameters.
    pub params: serde_json::Value,
    /// One run per target, in the order they ran.
    pub runs: Vec<RunOutput>,
    /// The distributed cell the run started, and its components' bare
    /// rates (`--cell`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cell: Option<crate::cell::CellReport>,
}

impl Report {
    /// `<out>/<date>-<scenario>[-label]`, with `-2`, `-3`… if taken.
    pub fn fresh_dir(&self, out: &Path) -> PathBuf {
        let date = self.started_at.get(..10).unwrap_or("undated");
        let mut name = format!("{date}-{}", self.scenario);
        if let Some(l) = &self.label {
            name.push('-');
            name.push_str(l);
        }
        let mut dir = out.join(&name);
        let mut k = 2;
        while dir.exists() {
            dir = out.join(format!("{name}-{k}"));
            k += 1;
        }
        dir
    }

    /// Writes `report.json`, `summary.md`, `latency.png` and
    /// `throughput.png` into `dir`.
    pub fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        std::fs::write(dir.join("report.json"), serde_json::to_string_pretty(self)?)?;
        self.render(dir)
    }

    /// Writes the summary and charts from this report (also used to
    /// redraw them from a `report.json`).
    pub fn render(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::write(dir.join("summary.md"), markdown::summary(self))?;
        charts::latency(self, &dir.join("latency.png"))?;
        charts::throughput(self, &dir.join("throughput.png"))?;
        Ok(())
    }

    /// Reads a `report.json`.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        Ok(serde_json::from_str(&text)?)
    }
}
