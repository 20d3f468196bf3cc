//! One run: a fresh cell, traffic, the nemesis's schedule, the recovery
//! probe after the last heal, a quiet settle, history, the checker.

use crate::checker::{self, Observed, Violation};
use crate::client::Http;
use crate::nemesis;
use crate::report::RunResult;
use crate::traffic::{self, Phase, Traffic};
use anyhow::Result;
use chat_cell::{Cell, CellSpec, StoreKind, Tools};
use std::path::PathBuf;
use std::time::Duration;
use tokio::time::Instant;

pub struct RunConfig {
    pub store: StoreKind,
    pub duration: Duration,
    pub seed: u64,
    pub bound: Duration,
    /// The run's folder (process logs, data); removed after a clean run
    /// unless `keep`.
    pub dir: PathBuf,
    pub keep: bool,
}

/// Traffic before the first fault, and after the fault window at least.
const WARMUP: Duration = Duration::from_secs(5);
const TAIL: Duration = Duration::from_secs(8);

pub fn replay_command(store: StoreKind, duration: Duration, seed: u64, bound: Duration) -> String {
    format!(
        "cargo run -p chat-faults -- --store {store} --duration {} --bound {} --seed {seed}",
        duration.as_secs(),
        bound.as_secs()
    )
}

/// Attempts at starting a run's cell: a part can fail to start for a
/// reason of the machine's (a port taken meanwhile), which another attempt
/// on fresh ports does not meet.
const CELL_ATTEMPTS: u32 = 3;

/// The cell of a run: two gateways, two processors, each processor behind
/// proxies of its own (the nemesis's cuts and delays); sends are not rate
/// limited beyond what the traffic does.
fn cell_spec(store: StoreKind) -> CellSpec {
    let mut spec = CellSpec::new(store, "faults");
    spec.proxied = true;
    spec.log_filter = std::env::var("CHAT_FAULTS_LOG").unwrap_or_else(|_| "warn".into());
    spec.env = chat_cell::unthrottled();
    spec
}

/// Starts the run's cell, again on fresh ports and a fresh folder when a
/// part does not come up.
async fn start_cell(cfg: &RunConfig, tools: &Tools) -> Result<Cell> {
    let mut attempt = 1;
    loop {
        let dir = match attempt {
            1 => cfg.dir.clone(),
            n => cfg.dir.join(format!("attempt-{n}")),
        };
        match Cell::start(cell_spec(cfg.store), tools, &dir).await {
            Ok(cell) => return Ok(cell),
            Err(e) if attempt < CELL_ATTEMPTS => {
                eprintln!("cell: did not start ({e}); starting it again on fresh ports");
                attempt += 1;
            }
            Err(e) => {
                return Err(anyhow::Error::from(e).context(format!(
                    "the cell did not start in {CELL_ATTEMPTS} attempts"
                )))
            }
        }
    }
}

pub async fn run(cfg: &RunConfig, tools: &Tools) -> Result<Box<RunResult>> {
    let replay = replay_command(cfg.store, cfg.duration, cfg.seed, cfg.bound);
    let window_end = cfg.duration.saturating_sub(TAIL).max(WARMUP);
    let plan = nemesis::schedule(
        cfg.seed,
        WARMUP.as_millis() as u64,
        window_end.as_millis() as u64,
        cfg.store == StoreKind::Cassandra,
    );
    eprintln!(
        "run seed={} store={} duration={}s, {} fault(s) planned:",
        cfg.seed,
        cfg.store,
        cfg.duration.as_secs(),
        plan.len()
    );
    for p in &plan {
        eprintln!("  {p}");
    }
    eprintln!("  (replay: {replay})");

    let began = Instant::now();
    let mut cell = start_cell(cfg, tools).await?;
    eprintln!(
        "cell: up in {:.1}s, logs in {}",
        began.elapsed().as_secs_f64(),
        cfg.dir.display()
    );
    let bases = cell.gateway_bases();
    let http = Http::new();
    let world = traffic::setup(&http, &bases[0]).await?;
    let mut traffic = Traffic::start(&world, &bases, cfg.seed, &http);
    let t0 = Instant::now();

    let mut extra: Vec<Violation> = Vec::new();
    // The cuts are real only if no processor connection bypasses its proxies.
    tokio::time::sleep(WARMUP / 2).await;
    let direct = cell.direct_links().await;
    if !direct.is_empty() {
        extra.push(Violation {
            property: "harness: cuts are real",
            detail: format!("processor connections bypass the proxies: {direct:?}"),
        });
    }

    let applied = nemesis::run(&mut cell, &plan, t0).await;
    cell.heal_links();
    let last_heal = Instant::now();

    // Property 4: the probe after the last heal.
    let deadline = last_heal + cfg.bound * 2;
    let (probe_acks, done) =
        traffic::probe(&world, &traffic, &http, &bases, "recovery", deadline).await;
    let recovery = done.map(|d| d.duration_since(last_heal));
    eprintln!(
        "recovery: {} after the last heal (t+{:.1}s)",
        recovery
            .map(|r| format!("{:.1}s", r.as_secs_f64()))
            .unwrap_or_else(|| "none".into()),
        last_heal.duration_since(t0).as_secs_f64()
    );

    tokio::time::sleep_until((t0 + cfg.duration).max(Instant::now() + Duration::from_secs(2)))
        .await;
    traffic.set(Phase::Quiet);
    let settle_end = Instant::now() + cfg.bound;
    while traffic.any_pending() && Instant::now() < settle_end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Every acknowledged message reaches history and every member device
    // catches up with history (or the bound passes). History is read again
    // each time: a send acknowledged at the end may be sequenced later.
    let quiet_at = Instant::now();
    let mut settled = None;
    loop {
        let mut acked: Vec<String> = traffic
            .acks
            .lock()
            .map(|a| a.iter().map(|a| a.msg_id.clone()).collect())
            .unwrap_or_default();
        acked.extend(probe_acks.iter().map(|a| a.msg_id.clone()));
        let hist = traffic::history(&world, &http, &bases).await?;
        let in_history: std::collections::HashSet<&str> = hist
            .values()
            .flat_map(|msgs| msgs.iter().map(|m| m.msg_id.as_str()))
            .collect();
        let unsequenced = acked.iter().any(|id| !in_history.contains(id.as_str()));
        let behind = hist.iter().any(|(conv, msgs)| {
            world.convs[conv].iter().any(|u| {
                msgs.iter()
                    .any(|m| traffic.has(u, &m.msg_id).iter().any(|b| !b))
            })
        });
        if !unsequenced && !behind {
            settled = Some(quiet_at.elapsed());
            break;
        }
        if Instant::now() > settle_end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    eprintln!(
        "settle: {}",
        settled
            .map(|d| format!(
                "everything delivered {:.1}s after traffic stopped",
                d.as_secs_f64()
            ))
            .unwrap_or_else(|| format!("not everything delivered within {:?}", cfg.bound))
    );
    traffic.stop().await;
    // Again: a send retried during the settle may have landed since.
    let history = traffic::history(&world, &http, &bases).await?;

    let mut acks = traffic.acks.lock().map(|a| a.clone()).unwrap_or_default();
    acks.extend(probe_acks);
    let observed = Observed {
        devices: traffic.logs(),
        acks,
        receipt_reads: traffic
            .receipt_reads
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default(),
        history,
        members: world.convs.clone(),
    };
    let mut violations = checker::check(&observed, recovery, cfg.bound);
    violations.extend(extra);
    for a in &applied {
        if let Some(e) = &a.error {
            violations.push(Violation {
                property: "harness: fault applied and healed",
                detail: format!("{}: {e}", a.fault),
            });
        }
    }

    let result = RunResult {
        seed: cfg.seed,
        store: cfg.store.to_string(),
        duration_s: cfg.duration.as_secs(),
        plan,
        applied,
        acked: observed.acks.len(),
        history: observed.history.values().map(Vec::len).sum(),
        frames: observed.devices.iter().map(|d| d.messages.len()).sum(),
        reconnects: traffic.reconnects(),
        recovery_ms: recovery.map(|r| r.as_millis() as u64),
        settle_ms: settled.map(|d| d.as_millis() as u64),
        bound_ms: cfg.bound.as_millis() as u64,
        violations,
        replay,
        dir: cfg.dir.display().to_string(),
    };
    // The evidence of a violating run stays with its logs.
    if !result.violations.is_empty() || cfg.keep {
        let path = cfg.dir.join("observed.json");
        if let Ok(text) = serde_json::to_string(&observed) {
            let _ = std::fs::write(path, text);
        }
    }
    drop(cell);
    Ok(Box::new(result))
}
