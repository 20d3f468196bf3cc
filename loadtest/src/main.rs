//! `chat-load`: a load generator for the chat service, and for ejabberd
//! beside it. Virtual devices speak the client protocol (or XMPP over
//! WebSocket) over real connections from many loopback addresses, check
//! every delivery, and leave a report with charts. See loadtest/README.md.
//!
//! # Layout
//!
//! - `cli`: the command line. `main`: runs a scenario on each target and
//!   writes the report.
//! - `scenario/`: `connections`, `messaging` (`direct`, `groups`),
//!   `storm` (`reconnect-storm`), `hostile`, and what they share (`mod`: the fleet of
//!   device tasks; `setup`: logins and conversations).
//! - `runner` (a device across reconnects), `device` (one connection's
//!   loop and the `Codec` trait), `check` (the correctness check), `body`
//!   (what a message carries), `world` (devices and conversations).
//! - `chat/` (our HTTP setup and WebSocket frames), `xmpp/` (XMPP over
//!   WebSocket: XML, stanzas, the login handshake, the codec).
//! - `record` (HDR histograms, per-second counts), `sampler` and `procfs`
//!   (CPU and memory from `/proc`), `net` (sockets bound to 127.0.0.x),
//!   `fdlimit`, `clock`.
//! - `cell` (`--cell`: a distributed cell started for the run, its
//!   components measured bare after it).
//! - `report/`: `report.json`, `summary.md` (`markdown`, `compare`), PNG
//!   charts (`charts`).

mod body;
mod cell;
mod chat;
mod check;
mod cli;
mod clock;
mod device;
mod fdlimit;
mod net;
mod procfs;
mod record;
mod report;
mod runner;
mod sampler;
mod scenario;
mod world;
mod xmpp;

use anyhow::Context;
use clap::Parser;
use cli::{Cli, Common, Scenario, TargetChoice};
use report::{Machine, Report, RunOutput};
use scenario::{Env, SendPlan, Target};
use std::time::Duration;

fn main() -> anyhow::Result<std::process::ExitCode> {
    clock::epoch();
    let cli = Cli::parse();
    if let Scenario::Render { dir } = &cli.scenario {
        let report = Report::read(&dir.join("report.json"))?;
        report.render(dir)?;
        println!("rendered {}", dir.display());
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let fd = fdlimit::raise(1 << 20)?;
    eprintln!("open-file limit: {} (hard {})", fd.soft, fd.hard);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run(&cli, fd.soft))?;
    runtime.shutdown_timeout(Duration::from_secs(2));
    let dir = report.fresh_dir(&cli.common.out);
    report.write(&dir)?;
    print!("{}", report::markdown::summary(&report));
    println!("\nresults: {}", dir.display());
    let violations: u64 = report.runs.iter().map(RunOutput::violation_count).sum();
    if violations > 0 {
        eprintln!("{violations} correctness violations");
        return Ok(std::process::ExitCode::from(2));
    }
    if let Some(why) = report.runs.iter().find_map(|r| r.incomplete.as_ref()) {
        eprintln!("incomplete run: {why}");
        return Ok(std::process::ExitCode::from(3));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn run(cli: &Cli, fd_limit: u64) -> anyhow::Result<Report> {
    let c = &cli.common;
    let targets = match c.target {
        TargetChoice::Chat => vec![TargetChoice::Chat],
        TargetChoice::Ejabberd => vec![TargetChoice::Ejabberd],
        TargetChoice::Both => vec![TargetChoice::Chat, TargetChoice::Ejabberd],
    };
    let prefix = c.prefix.clone().unwrap_or_else(|| {
        // A name for this run's users, not a timestamp anyone reads.
        #[allow(clippy::disallowed_methods)]
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        format!("lt{:x}", secs ^ u64::from(std::process::id()) << 20)
    });
    let started_at = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let mut cell = match c.cell.cell {
        Some(store) => {
            if c.target != TargetChoice::Chat {
                anyhow::bail!("--cell drives our server only (--target chat)");
            }
            Some(cell::RunningCell::start(&c.cell, store).await?)
        }
        None => None,
    };
    if let Some(cell) = &cell {
        warm_up(c, cell, &prefix).await?;
    }
    let mut runs = Vec::new();
    for (i, t) in targets.iter().enumerate() {
        let env = env_for(c, *t, format!("{prefix}{i}"), cell.as_ref())?;
        eprintln!(
            "running {} against {} (server pid {})",
            cli.scenario.name(),
            env.target.name(),
            env.server_pid
                .map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into())
        );
        runs.push(run_one(&cli.scenario, &env).await?);
    }
    if let Some(cell) = cell.as_mut().filter(|_| !c.cell.no_baseline) {
        cell.baseline(c.cell.baseline_count).await?;
    }
    if let Some(cell) = cell.as_mut().filter(|_| c.cell.replay) {
        let acked: f64 = runs
            .iter()
            .filter_map(|r| r.figures.get("sends_acked"))
            .sum();
        cell.replay(acked as u64).await?;
    }
    Ok(Report {
        scenario: cli.scenario.name().to_string(),
        label: c.label.clone(),
        started_at,
        command: std::env::args().collect::<Vec<_>>().join(" "),
        machine: Machine::describe(fd_limit),
        params: params(cli, &prefix),
        runs,
        cell: cell.as_ref().map(cell::RunningCell::report),
    })
}

/// A few messages through a fresh cell before the measured run, so that
/// neither the consumer groups' first assignment, the topics' creation
/// nor the JVMs' warm-up count in its figures.
async fn warm_up(c: &Common, cell: &cell::RunningCell, prefix: &str) -> anyhow::Result<()> {
    let env = env_for(c, TargetChoice::Chat, format!("{prefix}w"), Some(cell))?;
    let world = scenario::messaging::direct_world(&env, 8);
    let plan = SendPlan {
        rate: 40.0,
        direct_share: 1.0,
        body_bytes: 100,
        receipts: None,
    };
    let t0 = std::time::Instant::now();
    let out = scenario::messaging::run(
        &env,
        world,
        plan,
        Duration::from_secs(3),
        Duration::from_secs(120),
    )
    .await
    .context("warming the cell up")?;
    let p99 = out
        .latency
        .get("delivered")
        .map(|l| l.p99_ms)
        .unwrap_or(0.0);
    eprintln!(
        "cell: warmed up in {:.1}s (delivery p99 {p99:.0} ms, {} violation(s))",
        t0.elapsed().as_secs_f64(),
        out.violation_count()
    );
    Ok(())
}

fn params(cli: &Cli, prefix: &str) -> serde_json::Value {
    let mut p = serde_json::to_value(&cli.scenario)
        .ok()
        .and_then(|v| v.as_object().and_then(|o| o.values().next().cloned()))
        .unwrap_or_else(|| serde_json::json!({}));
    if let Some(o) = p.as_object_mut() {
        o.insert(
            "target".into(),
            serde_json::to_value(cli.common.target).unwrap_or_default(),
        );
        o.insert("source_addrs".into(), cli.common.source_addrs.into());
        o.insert("connect_rate".into(), cli.common.connect_rate.into());
        o.insert("xmpp_sm".into(), cli.common.xmpp_sm.into());
        o.insert("prefix".into(), prefix.into());
    }
    p
}

fn port_of(url: &str) -> Option<u16> {
    reqwest::Url::parse(url).ok()?.port_or_known_default()
}

fn env_for(
    c: &Common,
    t: TargetChoice,
    prefix: String,
    cell: Option<&cell::RunningCell>,
) -> anyhow::Result<Env> {
    let parts = std::sync::Arc::new(cell.map(cell::RunningCell::parts).unwrap_or_default());
    let (target, pid) = match t {
        TargetChoice::Ejabberd => (
            Target::Xmpp(xmpp::XmppTarget {
                url: c.ejabberd_url.clone(),
                domain: c.xmpp_domain.clone(),
                muc: c.xmpp_muc.clone(),
                sm: c.xmpp_sm,
            }),
            c.ejabberd_pid.or_else(|| find_pid(&c.ejabberd_url)),
        ),
        TargetChoice::Chat | TargetChoice::Both => match cell {
            // A cell's processes are sampled part by part.
            Some(cell) => (
                Target::Chat(chat::ChatTarget {
                    bases: cell.bases(),
                }),
                None,
            ),
            None => {
                let bases = c.chat_url.clone();
                anyhow::ensure!(!bases.is_empty(), "--chat-url names no server");
                let pid = match bases.as_slice() {
                    [one] => c.chat_pid.or_else(|| find_pid(one)),
                    _ => c.chat_pid,
                };
                (Target::Chat(chat::ChatTarget { bases }), pid)
            }
        },
    };
    Ok(Env {
        target,
        server_pid: pid,
        parts,
        sources: net::SourceAddrs::new(c.source_addrs),
        prefix,
        seed: c.seed,
        setup_concurrency: c.setup_concurrency.max(1),
        connect_rate: c.connect_rate,
        ready_timeout: Duration::from_secs(c.ready_timeout),
    })
}

fn find_pid(url: &str) -> Option<u32> {
    let port = port_of(url)?;
    match procfs::pid_listening_on(port) {
        Ok(pid) => Some(pid),
        Err(e) => {
            eprintln!("warning: {e}; server CPU and memory will not be reported");
            None
        }
    }
}

async fn run_one(scenario: &Scenario, env: &Env) -> anyhow::Result<RunOutput> {
    let traffic_plan = |t: &cli::Traffic, direct_share: f64, receipts_ms: u64| {
        let ms = t.receipts_ms.unwrap_or(receipts_ms);
        SendPlan {
            rate: t.rate,
            direct_share,
            body_bytes: t.body_bytes,
            receipts: (ms > 0).then(|| Duration::from_millis(ms)),
        }
    };
    let secs = Duration::from_secs;
    match scenario {
        Scenario::Connections { devices, hold } => {
            scenario::connections::run(env, *devices, secs(*hold)).await
        }
        Scenario::Direct { pairs, traffic } => {
            let world = scenario::messaging::direct_world(env, *pairs);
            messaging(env, world, traffic_plan(traffic, 1.0, 0), traffic).await
        }
        Scenario::Groups {
            devices,
            group_size,
            direct_share,
            traffic,
        } => {
            let world = scenario::messaging::groups_world(env, *devices, *group_size);
            messaging(env, world, traffic_plan(traffic, *direct_share, 0), traffic).await
        }
        Scenario::ReconnectStorm {
            devices,
            before,
            traffic,
        } => {
            let plan = traffic_plan(traffic, 1.0, 1000);
            scenario::storm::run(
                env,
                *devices,
                plan,
                secs(*before),
                secs(traffic.duration),
                secs(traffic.drain),
            )
            .await
        }
        Scenario::Hostile {
            duration,
            pingers,
            flood_devices,
            idle,
            others,
        } => {
            let attackers = scenario::hostile::Attackers {
                pingers: *pingers,
                flood_devices: *flood_devices,
                idle: *idle,
                others: *others,
            };
            scenario::hostile::run(env, attackers, secs(*duration)).await
        }
        Scenario::Render { .. } => unreachable!("handled before the runtime starts"),
    }
    .with_context(|| format!("{} against {}", scenario.name(), env.target.name()))
}

/// `direct` and `groups`: `world` sends by `plan` for the traffic's
/// duration, then drains.
async fn messaging(
    env: &Env,
    world: world::World,
    plan: SendPlan,
    traffic: &cli::Traffic,
) -> anyhow::Result<RunOutput> {
    let secs = Duration::from_secs;
    scenario::messaging::run(
        env,
        world,
        plan,
        secs(traffic.duration),
        secs(traffic.drain),
    )
    .await
}
