//! The `connections` scenario: ramp to N idle connections at the connect
//! rate, hold them, and report the connect rate, failures, the server's
//! resident memory per connection and the generator's CPU.

use super::setup::prepare;
use super::{finish, Env, Fleet, SendPlan};
use crate::record::Recorder;
use crate::report::RunOutput;
use crate::sampler;
use crate::world::World;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// Runs the scenario with `devices` connections held for `hold`.
pub async fn run(env: &Env, devices: usize, hold: Duration) -> anyhow::Result<RunOutput> {
    let world = World::new(&env.prefix, devices);
    let mut figures = BTreeMap::new();
    prepare(env, &world, &mut figures).await?;
    figures.insert("devices".into(), devices as f64);
    figures.insert("source_addrs".into(), env.sources.count() as f64);
    let world = Arc::new(world);
    // Let the server settle after the logins before the baseline.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let base = sampler::read(env.server_pid, &env.parts);
    let recorder = Arc::new(Recorder::new());
    let fleet = Fleet::launch(env, world.clone(), recorder.clone(), SendPlan::default()).await;
    let all_up = fleet.wait_ready(devices, env.ready_timeout).await;
    let up = fleet.sampler.now();
    let ready = fleet.ctx.ready.load(Relaxed);
    let ramp_secs = (up.t_us - base.t_us) as f64 / 1e6;
    tokio::time::sleep(hold).await;
    let held = fleet.sampler.now();
    let still = fleet.ctx.ready.load(Relaxed);
    let (server_ramp_cpu, gen_ramp_cpu) = fleet.sampler.cpu_pct(&base, &up);
    let (server_hold_cpu, gen_hold_cpu) = fleet.sampler.cpu_pct(&up, &held);
    let failures: u64 = recorder
        .errors()
        .iter()
        .filter(|(k, _)| k.starts_with("connect"))
        .map(|(_, v)| v)
        .sum();
    figures.insert("connections_ready".into(), ready as f64);
    figures.insert("connections_held".into(), still as f64);
    super::part_figures(&fleet.sampler, &up, &held, &mut figures);
    figures.insert("connect_failures".into(), failures as f64);
    figures.insert("ramp_secs".into(), ramp_secs);
    figures.insert(
        "connect_rate_per_sec".into(),
        ready as f64 / ramp_secs.max(1e-9),
    );
    figures.insert("target_connect_rate_per_sec".into(), env.connect_rate);
    if let Some(cpu) = server_ramp_cpu {
        figures.insert("server_cpu_ramp_pct".into(), cpu);
    }
    if let Some(cpu) = server_hold_cpu {
        figures.insert("server_cpu_idle_pct".into(), cpu);
    }
    figures.insert("generator_cpu_ramp_pct".into(), gen_ramp_cpu);
    figures.insert("generator_cpu_idle_pct".into(), gen_hold_cpu);
    figures.insert(
        "generator_cpu_secs".into(),
        (held.generator.cpu_ticks - base.generator.cpu_ticks) as f64
            / crate::procfs::clock_ticks_per_sec() as f64,
    );
    let per_conn = |a: u64, b: u64| (b as f64 - a as f64) / still.max(1) as f64;
    if let (Some(a), Some(b)) = (base.server, held.server) {
        figures.insert("server_rss_base_mib".into(), a.rss_kib as f64 / 1024.0);
        figures.insert("server_rss_mib".into(), b.rss_kib as f64 / 1024.0);
        figures.insert(
            "server_rss_per_conn_kib".into(),
            per_conn(a.rss_kib, b.rss_kib),
        );
    }
    figures.insert(
        "generator_rss_per_conn_kib".into(),
        per_conn(base.generator.rss_kib, held.generator.rss_kib),
    );
    let mut notes = vec![
        "ready = connected and through the handshake (ours: `synced`; XMPP: SASL, bind, stream management, presence)".to_string(),
        "server memory per connection = (RSS after the hold − RSS before connecting) ÷ connections held".to_string(),
    ];
    if !all_up {
        notes.push(format!(
            "only {ready} of {devices} connections were up within the ready timeout"
        ));
    }
    if env.server_pid.is_none() {
        notes.push("server pid unknown: no server CPU or memory figures".into());
    }
    let (_, sampler) = fleet.stop().await;
    let mut out = finish(&env.target, &recorder, &world, &sampler, figures, notes);
    if !all_up {
        out.incomplete = Some(format!("only {ready} of {devices} connections came up"));
    }
    Ok(out)
}
