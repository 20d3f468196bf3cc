//! The cell's part of `summary.md`: its shape, each component's bare rate
//! (`chatctl baseline`) beside the pipeline's, and CPU per process.

use super::markdown::num;
use super::{Report, RunOutput};
use std::fmt::Write;

/// The cell section, empty when the run had no cell.
pub fn section(s: &mut String, r: &Report) {
    let Some(cell) = &r.cell else {
        return;
    };
    let _ = writeln!(
        s,
        "## The cell\n\n{} gateway(s), {} processor instance(s), {} partitions, on {} \
         (one Kafka broker, one Redis), every process on this machine with the generator.\n",
        cell.gateways, cell.processors, cell.partitions, cell.store
    );
    if let Some(run) = r.runs.first() {
        parts_table(s, run, r.machine.cpus);
    }
    let Some(base) = cell.baseline.as_ref().and_then(|b| b.as_object()) else {
        return;
    };
    let _ = writeln!(
        s,
        "### Its components, bare (`chatctl baseline all`, same cell, after the run)\n\n\
         | component | figure | value |\n|---|---|---:|"
    );
    for (component, figures) in base {
        let Some(figures) = figures.as_object() else {
            continue;
        };
        for (k, v) in figures {
            if let Some(v) = v.as_f64() {
                let _ = writeln!(s, "| {component} | {k} | {} |", num(v));
            }
            // Latencies: {p50, p95, p99, max}, ms.
            for (p, v) in v.as_object().into_iter().flatten() {
                if let Some(v) = v.as_f64() {
                    let _ = writeln!(s, "| {component} | {k} {p} | {} |", num(v));
                }
            }
        }
    }
    s.push('\n');
    if let Some(run) = r.runs.first() {
        ratio_table(s, run, &cell.baseline);
    }
}

/// A component, its bare rate, what one message costs it, and so the
/// messages per second it allows.
type Allowance = (&'static str, f64, f64, f64);

/// What each component allows, in messages per second, and the pipeline's
/// rate as a share of the least of them.
///
/// Per message the pipeline appends two records (the command, then its
/// event), writes one message to the store, and publishes one delivery to
/// each member's channel (the members other than the sender, whose
/// deliveries the run counted, and the sender's own).
fn allowances(run: &RunOutput, baseline: &serde_json::Value) -> Option<(f64, Vec<Allowance>)> {
    let fig = |k: &str| run.figures.get(k).copied();
    let acked = fig("acked_per_sec")?;
    if acked <= 0.0 {
        return None;
    }
    let per_msg_deliveries = fig("deliveries_per_sec").unwrap_or(0.0) / acked + 1.0;
    let bare = |c: &str, k: &str| baseline.get(c)?.get(k)?.as_f64();
    let rows: Vec<Allowance> = [
        ("log (appends)", bare("log", "appends_per_sec"), 2.0),
        ("store (messages)", bare("store", "messages_per_sec"), 1.0),
        (
            "channels (deliveries)",
            bare("channels", "received_per_sec"),
            per_msg_deliveries,
        ),
    ]
    .into_iter()
    .filter_map(|(name, rate, per)| Some((name, rate?, per, rate? / per)))
    .collect();
    Some((acked, rows))
}

fn ratio_table(s: &mut String, run: &RunOutput, baseline: &Option<serde_json::Value>) {
    let Some((acked, rows)) = baseline.as_ref().and_then(|b| allowances(run, b)) else {
        return;
    };
    let _ = writeln!(
        s,
        "What each component allows the pipeline (its bare rate ÷ what one message costs it):\n\n\
         | component | bare rate /s | per message | messages/s it allows |\n|---|---:|---:|---:|"
    );
    for (name, rate, per, allows) in &rows {
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} |",
            num(*rate),
            num(*per),
            num(*allows)
        );
    }
    if let Some((name, _, _, least)) = rows.iter().min_by(|a, b| a.3.total_cmp(&b.3)) {
        let _ = writeln!(
            s,
            "\nThe pipeline acknowledged **{} messages/s**: **{}** of the slowest \
             component's allowance ({name}, {}/s). At an offered rate the pipeline \
             keeps up with, this is a floor of what it could do, not its ceiling.\n",
            num(acked),
            num(acked / least),
            num(*least)
        );
    }
}

/// CPU (percent of one core) and memory of each part over the measured
/// window, from the run's `part_*` figures.
fn parts_table(s: &mut String, run: &RunOutput, cpus: usize) {
    let mut rows: Vec<(&str, f64, Option<f64>)> = run
        .figures
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("part_")?.strip_suffix("_cpu_pct")?;
            let rss = run.figures.get(&format!("part_{name}_rss_mib")).copied();
            Some((name, *v, rss))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));
    let _ = writeln!(
        s,
        "CPU per process while sending (percent of one core; the machine has {} cores):\n\n\
         | process | CPU % | RSS MiB |\n|---|---:|---:|",
        cpus
    );
    for (name, cpu, rss) in rows {
        let rss = rss.map(num).unwrap_or_else(|| "—".into());
        let _ = writeln!(s, "| {name} | {} | {rss} |", num(cpu));
    }
    if let Some(g) = run.figures.get("generator_cpu_pct") {
        let _ = writeln!(s, "| generator | {} | |", num(*g));
    }
    s.push('\n');
}
