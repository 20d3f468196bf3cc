//! The `reconnect-storm` scenario (ours): devices in direct pairs chat,
//! then every connection drops at once; all reconnect immediately and
//! resync while the others keep sending. Reports how long until every
//! device had its `synced` again, and checks that nothing acknowledged was
//! lost or reordered across the storm.

use super::messaging::{direct_world, target_notes};
use super::setup::prepare;
use super::{finish, Env, Fleet, SendPlan, Target};
use crate::clock;
use crate::device::Phase;
use crate::record::Recorder;
use crate::report::RunOutput;
use anyhow::bail;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// Runs the storm: `before` of traffic, the drop, `after` of traffic.
pub async fn run(
    env: &Env,
    devices: usize,
    plan: SendPlan,
    before: Duration,
    after: Duration,
    drain: Duration,
) -> anyhow::Result<RunOutput> {
    if !matches!(env.target, Target::Chat(_)) {
        bail!("reconnect-storm drives our server only (XMPP anonymous logins cannot resume)");
    }
    let world = direct_world(env, devices / 2);
    let n = world.devices.len();
    let mut figures = BTreeMap::new();
    prepare(env, &world, &mut figures).await?;
    figures.insert("devices".into(), n as f64);
    let world = Arc::new(world);
    let recorder = Arc::new(Recorder::new());
    let fleet = Fleet::launch(env, world.clone(), recorder.clone(), plan).await;
    if !fleet.wait_ready(n, env.ready_timeout).await {
        fleet.stop().await;
        bail!("not every device connected before the storm");
    }
    fleet.set(Phase::Send);
    tokio::time::sleep(before).await;
    let acked_before = world.total_acked();

    let a = fleet.sampler.now();
    let t_drop = clock::now_us();
    fleet.set(Phase::Drop);
    let all_down = fleet.wait_all_down(Duration::from_secs(30)).await;
    let down_secs = (clock::now_us() - t_drop) as f64 / 1e6;
    fleet.set(Phase::Send);
    let all_back = fleet.wait_ready(n, env.ready_timeout).await;
    let resync_secs = (clock::now_us() - t_drop) as f64 / 1e6;
    let b = fleet.sampler.now();
    let back = fleet.ctx.ready.load(Relaxed);

    tokio::time::sleep(after).await;
    let drain_secs = fleet.drain(drain).await;
    let (server_cpu, generator_cpu) = fleet.sampler.cpu_pct(&a, &b);
    super::part_figures(&fleet.sampler, &a, &b, &mut figures);
    figures.insert("target_rate_per_sec".into(), plan.rate);
    figures.insert("acked_before_drop".into(), acked_before as f64);
    figures.insert("sends_acked".into(), world.total_acked() as f64);
    figures.insert("drop_secs".into(), down_secs);
    figures.insert("resync_all_secs".into(), resync_secs);
    figures.insert("devices_back".into(), back as f64);
    figures.insert("drain_secs".into(), drain_secs);
    if let Some(cpu) = server_cpu {
        figures.insert("server_cpu_storm_pct".into(), cpu);
    }
    figures.insert("generator_cpu_storm_pct".into(), generator_cpu);
    let mut notes = vec![
        "resync_all_secs = from the drop order until every device had `synced` on its new connection".to_string(),
        "resync latency = one device's reconnect: TCP connect → `synced` (its backlog sent)".to_string(),
        "redelivered = messages sent again after the reconnect because their `delivered` receipt had not reached the server (allowed by the protocol)".to_string(),
    ];
    notes.extend(target_notes(&env.target));
    notes.push(match plan.receipts {
        Some(every) if matches!(env.target, Target::Chat(_)) => format!(
            "devices sent `delivered` receipts every {} ms (the server fans receipt frames out to the members)",
            every.as_millis()
        ),
        _ => "no delivery receipts were sent".to_string(),
    });
    if !all_down {
        notes.push("not every connection had dropped within 30 s".into());
    }
    if !all_back {
        notes.push(format!(
            "only {back} of {n} devices resynced within the ready timeout"
        ));
    }
    let (redelivered, sampler) = fleet.stop().await;
    figures.insert("redelivered".into(), redelivered as f64);
    let mut out = finish(&env.target, &recorder, &world, &sampler, figures, notes);
    if !all_down || !all_back {
        out.incomplete = Some(format!(
            "{back} of {n} devices came back after the drop (all dropped: {all_down})"
        ));
    }
    Ok(out)
}
