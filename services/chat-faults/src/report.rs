//! What a run prints and writes: one block per run (seed, faults, counts,
//! recovery, violations, the command that replays it) and a summary over
//! the runs (faults by kind, violations, recovery times).

use crate::checker::Violation;
use crate::nemesis::{Applied, Planned};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub seed: u64,
    pub store: String,
    pub duration_s: u64,
    pub plan: Vec<Planned>,
    pub applied: Vec<Applied>,
    pub acked: usize,
    pub history: usize,
    pub frames: usize,
    pub reconnects: u64,
    /// From the last heal until every probe reached every member device.
    pub recovery_ms: Option<u64>,
    /// From the end of traffic until every acknowledged message was in
    /// history and every member device had all of history.
    pub settle_ms: Option<u64>,
    pub bound_ms: u64,
    pub violations: Vec<Violation>,
    pub replay: String,
    pub dir: String,
}

impl RunResult {
    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "run seed={} store={} duration={}s faults={} acked={} history={} frames={} reconnects={} recovery={} settle={} violations={}",
            self.seed,
            self.store,
            self.duration_s,
            self.applied.len(),
            self.acked,
            self.history,
            self.frames,
            self.reconnects,
            self.recovery_ms
                .map(|r| format!("{:.1}s", r as f64 / 1000.0))
                .unwrap_or_else(|| "none".into()),
            self.settle_ms
                .map(|r| format!("{:.1}s", r as f64 / 1000.0))
                .unwrap_or_else(|| "none".into()),
            self.violations.len()
        );
        for a in &self.applied {
            let _ = writeln!(
                s,
                "  fault t+{:.1}s..t+{:.1}s {}{}",
                a.started_ms as f64 / 1000.0,
                a.healed_ms as f64 / 1000.0,
                a.fault,
                a.error
                    .as_deref()
                    .map(|e| format!(" (error: {e})"))
                    .unwrap_or_default()
            );
        }
        for v in self.violations.iter().take(30) {
            let _ = writeln!(s, "  VIOLATION [{}] {}", v.property, v.detail);
        }
        if self.violations.len() > 30 {
            let _ = writeln!(s, "  … and {} more", self.violations.len() - 30);
        }
        if !self.violations.is_empty() {
            let _ = writeln!(s, "  replay: {}", self.replay);
        }
        s
    }
}

pub fn summary(runs: &[RunResult]) -> String {
    let mut s = String::new();
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for r in runs {
        for a in &r.applied {
            *kinds.entry(a.fault.kind()).or_default() += 1;
        }
    }
    let violating: Vec<&RunResult> = runs.iter().filter(|r| !r.violations.is_empty()).collect();
    let mut rec: Vec<u64> = runs.iter().filter_map(|r| r.recovery_ms).collect();
    rec.sort_unstable();
    let _ = writeln!(
        s,
        "summary: {} run(s), {} fault(s), {} violation(s) in {} run(s)",
        runs.len(),
        kinds.values().sum::<usize>(),
        runs.iter().map(|r| r.violations.len()).sum::<usize>(),
        violating.len()
    );
    let _ = writeln!(
        s,
        "faults by kind: {}",
        kinds
            .iter()
            .map(|(k, n)| format!("{k}={n}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    if !rec.is_empty() {
        let sec = |ms: u64| format!("{:.1}s", ms as f64 / 1000.0);
        let _ = writeln!(
            s,
            "recovery after the last heal: min {} median {} max {} (bound {})",
            sec(rec[0]),
            sec(rec[rec.len() / 2]),
            sec(rec[rec.len() - 1]),
            sec(runs[0].bound_ms)
        );
    }
    for r in violating {
        let mut props: BTreeMap<&str, usize> = BTreeMap::new();
        for v in &r.violations {
            *props.entry(v.property).or_default() += 1;
        }
        let _ = writeln!(
            s,
            "violating seed {}: {:?}; replay: {}",
            r.seed, props, r.replay
        );
    }
    s
}
