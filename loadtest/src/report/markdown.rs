//! `summary.md`: the figures of each target, the side-by-side comparison
//! when both ran, latency percentiles, errors and correctness.

use super::compare;
use super::Report;
use std::fmt::Write;

/// A number printed with sensible precision.
pub fn num(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 {
        "0".into()
    } else if a >= 1000.0 || (x.fract() == 0.0 && a < 1e15) {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 0.1 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// The whole summary.
pub fn summary(r: &Report) -> String {
    let mut s = String::new();
    let label = r
        .label
        .as_deref()
        .map(|l| format!(" ({l})"))
        .unwrap_or_default();
    let _ = writeln!(s, "# {}{label} — {}\n", r.scenario, r.started_at);
    let _ = writeln!(s, "Command: `{}`\n", r.command);
    let _ = writeln!(
        s,
        "Machine: {} CPUs, {} MiB, Linux {}; generator open-file limit {}. \
         The generator and the server share this machine.\n",
        r.machine.cpus, r.machine.memory_mib, r.machine.kernel, r.machine.fd_limit
    );
    if let Some(params) = r.params.as_object() {
        let _ = writeln!(s, "| parameter | value |\n|---|---|");
        for (k, v) in params {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        s.push('\n');
    }
    let lines = compare::lines(r);
    if !lines.is_empty() {
        let _ = writeln!(
            s,
            "## Ours and ejabberd, same run, same machine\n\n\
             | figure | ours | ejabberd | ours ÷ ejabberd | ahead |\n|---|---:|---:|---:|---|"
        );
        for l in &lines {
            let ratio = l.ratio.map(num).unwrap_or_else(|| "—".into());
            let _ = writeln!(
                s,
                "| {} | {} | {} | {ratio} | {} |",
                l.figure,
                num(l.ours),
                num(l.theirs),
                l.ahead
            );
        }
        s.push('\n');
    }
    super::cell::section(&mut s, r);
    for run in &r.runs {
        run_section(&mut s, run);
    }
    let _ = writeln!(
        s,
        "![latency distribution](latency.png)\n\n![throughput over time](throughput.png)"
    );
    s
}

fn run_section(s: &mut String, run: &super::RunOutput) {
    let _ = writeln!(s, "## {}\n\n| figure | value |\n|---|---:|", run.target);
    for (k, v) in &run.figures {
        let _ = writeln!(s, "| {k} | {} |", num(*v));
    }
    if !run.latency.is_empty() {
        let _ = writeln!(
            s,
            "\nLatency, ms:\n\n| kind | samples | p50 | p90 | p95 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|---:|---:|---:|"
        );
        for (k, l) in &run.latency {
            let _ = writeln!(
                s,
                "| {k} | {} | {} | {} | {} | {} | {} | {} |",
                l.count,
                num(l.p50_ms),
                num(l.p90_ms),
                num(l.p95_ms),
                num(l.p99_ms),
                num(l.p999_ms),
                num(l.max_ms)
            );
        }
    }
    if let Some(why) = &run.incomplete {
        let _ = writeln!(s, "\n**Incomplete run**: {why}.");
    }
    let total: u64 = run.violations.values().sum();
    if total == 0 {
        let _ = writeln!(
            s,
            "\nCorrectness: no violations (every acknowledged message reached every member device once, in order)."
        );
    } else {
        let _ = writeln!(s, "\nCorrectness: **{total} violations**:");
        for (k, v) in run.violations.iter().filter(|(_, v)| **v > 0) {
            let _ = writeln!(s, "- {k}: {v}");
        }
    }
    if !run.errors.is_empty() {
        let _ = writeln!(s, "\nErrors:");
        for (k, v) in &run.errors {
            let _ = writeln!(s, "- {k}: {v}");
        }
    }
    if !run.notes.is_empty() {
        let _ = writeln!(s, "\nNotes:");
        for n in &run.notes {
            let _ = writeln!(s, "- {n}");
        }
    }
    s.push('\n');
}
