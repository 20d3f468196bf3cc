//! `chat-faults`: runs a real cell (two gateways, two processors, Kafka,
//! the store, Redis, all processes on loopback) under client traffic while
//! a seeded nemesis injects faults, and checks what the clients saw
//! (docs/operations.md, "Fault injection").
//!
//! ```text
//! chat-faults --store cassandra --runs 3 --duration 60 --out DIR
//! chat-faults --store postgres --duration 60 --seed 1234   # replays one run
//! ```
//!
//! Exit status: 0 when every run passed (or, outside CI, when a service it
//! needs cannot run here: it says skipped and why), 1 on any violation or
//! error.

mod checker;
mod client;
mod nemesis;
mod report;
mod run;
mod traffic;

use anyhow::{Context, Result};
use clap::Parser;
use std::hash::{BuildHasher, Hasher};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(about = "Fault-injection runs of a real chat cell, checked")]
struct Cli {
    /// The store of the cell.
    #[arg(long, value_enum, default_value = "cassandra")]
    store: chat_cell::StoreKind,
    /// Runs, each on a fresh cell; run i uses seed + i.
    #[arg(long, default_value_t = 1)]
    runs: u64,
    /// Seconds of traffic per run (faults in [5 s, duration - 8 s]).
    #[arg(long, default_value_t = 60)]
    duration: u64,
    /// The first run's seed (random when absent). With --runs 1 and the
    /// same --duration, replays a run.
    #[arg(long)]
    seed: Option<u64>,
    /// Seconds within which the pipeline must deliver the probes after the
    /// last heal.
    #[arg(long, default_value_t = 30)]
    bound: u64,
    /// Writes runs.jsonl, summary.txt and each run's logs (run-SEED/) here;
    /// default: a temporary folder, kept only for violating runs.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keeps every run's data and logs, not only a violating run's.
    #[arg(long)]
    keep: bool,
    /// The chatctl binary (default: $CHATCTL, else target/debug/chatctl).
    #[arg(long, env = "CHATCTL")]
    chatctl: Option<PathBuf>,
}

fn ci() -> bool {
    matches!(std::env::var("CI").as_deref(), Ok("true") | Ok("1"))
}

#[tokio::main]
async fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    // Interrupted: the series' future is dropped, and with it the cell,
    // whose processes are killed (no JVM outlives the harness).
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = series(cli) => r,
        _ = tokio::signal::ctrl_c() => {
            println!("interrupted");
            Ok(ExitCode::FAILURE)
        }
        _ = term.recv() => {
            println!("terminated");
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn series(cli: Cli) -> Result<ExitCode> {
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("target"));
    let chatctl = cli
        .chatctl
        .clone()
        .unwrap_or_else(|| target.join("debug/chatctl"));
    let tools = match chat_cell::Tools::find(chatctl, cli.store).await {
        Ok(t) => t,
        Err(e) if !ci() => {
            println!("skipped: the fault runs cannot run here: {e:#}");
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => {
            return Err(anyhow::Error::from(e)
                .context("under CI every service the fault runs need must run"))
        }
    };
    let base_seed = cli.seed.unwrap_or_else(|| {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(u64::from(std::process::id()));
        h.finish() % 1_000_000_000
    });
    // Without --out: a temporary folder, removed at the end unless a run
    // failed (its logs are the evidence).
    let (out, temporary) = match &cli.out {
        Some(o) => (o.clone(), false),
        None => (
            tempfile::Builder::new()
                .prefix("chat-faults.")
                .tempdir()?
                .keep(),
            true,
        ),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    // The PostgreSQL server runs as the postgres user, under this folder:
    // it must be able to walk through it (a temporary folder is 0700).
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("opening {} to the postgres user", out.display()))?;
    }
    let out = out.canonicalize()?;

    let mut results = Vec::new();
    let mut failed = false;
    for i in 0..cli.runs {
        let seed = base_seed.wrapping_add(i);
        let cfg = run::RunConfig {
            store: cli.store,
            duration: Duration::from_secs(cli.duration),
            seed,
            bound: Duration::from_secs(cli.bound),
            dir: out.join(format!("run-{seed}")),
            keep: cli.keep,
        };
        match run::run(&cfg, &tools).await {
            Ok(r) => {
                let r = *r;
                print!("{}", r.render());
                failed |= !r.violations.is_empty();
                if r.violations.is_empty() && !cli.keep {
                    for d in ["cassandra", "kafka", "pg", "pg-run"] {
                        let _ = std::fs::remove_dir_all(cfg.dir.join(d));
                    }
                }
                let line = serde_json::to_string(&r)?;
                append(&out.join("runs.jsonl"), &line)?;
                results.push(r);
            }
            Err(e) => {
                failed = true;
                println!(
                    "run seed={seed} store={} FAILED to run: {e:#}\n  logs: {}\n  replay: {}",
                    cli.store,
                    cfg.dir.display(),
                    run::replay_command(cli.store, cfg.duration, seed, cfg.bound)
                );
            }
        }
    }
    let summary = report::summary(&results);
    print!("{summary}");
    std::fs::write(out.join("summary.txt"), &summary)?;
    if cli.out.is_some() || failed {
        println!("results in {}", out.display());
    }
    if failed {
        return Ok(ExitCode::FAILURE);
    }
    if temporary {
        let _ = std::fs::remove_dir_all(&out);
    }
    Ok(ExitCode::SUCCESS)
}

fn append(path: &std::path::Path, line: &str) -> Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    writeln!(f, "{line}")?;
    Ok(())
}
