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
        ratio_table(s, run, &r.params, &cell.baseline);
    }
    replay_table(s, cell);
}

/// `chatctl replay`'s rate beside the store's bare rate (`--replay`).
fn replay_table(s: &mut String, cell: &crate::cell::CellReport) {
    let Some(replay) = &cell.replay else {
        return;
    };
    let fig = |k: &str| replay.get(k).and_then(|v| v.as_f64());
    let _ = writeln!(
        s,
        "### Replay (`chatctl replay` of the whole log into an empty store, after the run)\n\n\
         | processor | records | seconds | records/s |\n|---|---:|---:|---:|"
    );
    for (name, key) in [("sequencer", "sequencer"), ("receipts", "receipt")] {
        let (Some(n), Some(secs), Some(rate)) = (
            fig(&format!("{key}_records")),
            fig(&format!("{key}_secs")),
            fig(&format!("{key}_per_sec")),
        ) else {
            continue;
        };
        let _ = writeln!(s, "| {name} | {} | {} | {} |", num(n), num(secs), num(rate));
    }
    if let Some(wall) = fig("wall_secs") {
        let _ = writeln!(s, "\nThe whole command took {} s.", num(wall));
    }
    let bare = cell
        .baseline
        .as_ref()
        .and_then(|b| b.get("store")?.get("messages_per_sec")?.as_f64());
    if let (Some(rate), Some(bare)) = (fig("sequencer_per_sec"), bare) {
        let _ = writeln!(
            s,
            "The sequencer replayed at **{}** of the store's bare rate ({}/s).",
            num(rate / bare),
            num(bare)
        );
    }
    s.push('\n');
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
///
/// The pipeline's rate is what it delivered, in messages (deliveries ÷
/// recipients per message), and at most what it acknowledged: a pipeline
/// that falls behind acknowledges more than it delivers.
fn allowances(
    run: &RunOutput,
    params: &serde_json::Value,
    baseline: &serde_json::Value,
) -> Option<(f64, Vec<Allowance>)> {
    let fig = |k: &str| run.figures.get(k).copied();
    let acked = fig("acked_per_sec")?;
    let recipients = params
        .get("group_size")
        .and_then(|g| g.as_f64())
        .map_or(1.0, |g| (g - 1.0).max(1.0));
    let delivered = fig("deliveries_per_sec").unwrap_or(0.0) / recipients;
    let acked = acked.min(delivered);
    if acked <= 0.0 {
        return None;
    }
    let per_msg_deliveries = recipients + 1.0;
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

fn ratio_table(
    s: &mut String,
    run: &RunOutput,
    params: &serde_json::Value,
    baseline: &Option<serde_json::Value>,
) {
    let Some((rate, rows)) = baseline.as_ref().and_then(|b| allowances(run, params, b)) else {
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
            "\nThe pipeline delivered **{} messages/s** (deliveries ÷ recipients per \
             message, at most what it acknowledged): **{}** of the slowest \
             component's allowance ({name}, {}/s). At an offered rate the pipeline \
             keeps up with, this is a floor of what it could do, not its ceiling.\n",
            num(rate),
            num(rate / least),
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
