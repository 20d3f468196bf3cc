//! The `direct` and `groups` scenarios: devices come up, send at the
//! target rate for the duration, then wait for every message to arrive;
//! latency, throughput, server CPU, and every delivery checked.

use super::setup::prepare;
use super::{finish, Env, Fleet, SendPlan, Target};
use crate::device::Phase;
use crate::record::Recorder;
use crate::report::RunOutput;
use crate::world::{group_up, pair_up, ConvKind, World};
use anyhow::bail;
use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

/// The population of `direct`: `pairs` pairs in direct conversations.
pub fn direct_world(env: &Env, pairs: usize) -> World {
    let mut w = World::new(&env.prefix, pairs * 2);
    pair_up(&mut w, env.target.echo(ConvKind::Direct));
    w
}

/// The population of `groups`: every device in a direct conversation with
/// its neighbour and in one group of `group_size`.
pub fn groups_world(env: &Env, devices: usize, group_size: usize) -> World {
    let mut w = World::new(&env.prefix, devices);
    pair_up(&mut w, env.target.echo(ConvKind::Direct));
    group_up(&mut w, group_size, env.target.echo(ConvKind::Group));
    w
}

/// Runs a messaging scenario on `world`.
pub async fn run(
    env: &Env,
    world: World,
    plan: SendPlan,
    duration: Duration,
    drain: Duration,
) -> anyhow::Result<RunOutput> {
    let mut figures = BTreeMap::new();
    prepare(env, &world, &mut figures).await?;
    let n = world.devices.len();
    figures.insert("devices".into(), n as f64);
    figures.insert("conversations".into(), world.convs.len() as f64);
    let world = Arc::new(world);
    let recorder = Arc::new(Recorder::new());
    let fleet = Fleet::launch(env, world.clone(), recorder.clone(), plan).await;
    let mut notes = Vec::new();
    let mut incomplete = None;
    if !fleet.wait_ready(n, env.ready_timeout).await {
        let up = fleet.ctx.ready.load(Relaxed);
        if up == 0 {
            fleet.stop().await;
            bail!("no device could connect to {}", env.target.name());
        }
        incomplete = Some(format!(
            "only {up} of {n} devices were connected when sending began"
        ));
    }
    let a = fleet.sampler.now();
    fleet.set(Phase::Send);
    tokio::time::sleep(duration).await;
    let b = fleet.sampler.now();
    let drain_secs = fleet.drain(drain).await;
    let (server_cpu, generator_cpu) = fleet.sampler.cpu_pct(&a, &b);
    let secs = duration.as_secs_f64();
    let sends: u64 = recorder
        .timeline(0, usize::MAX)
        .iter()
        .map(|s| s.sends)
        .sum();
    let deliveries: u64 = recorder
        .timeline(0, usize::MAX)
        .iter()
        .map(|s| s.deliveries)
        .sum();
    let acked = world.total_acked();
    figures.insert("target_rate_per_sec".into(), plan.rate);
    figures.insert("sends".into(), sends as f64);
    figures.insert("sends_acked".into(), acked as f64);
    figures.insert("sends_per_sec".into(), sends as f64 / secs);
    figures.insert("acked_per_sec".into(), acked as f64 / secs);
    figures.insert("deliveries".into(), deliveries as f64);
    figures.insert("deliveries_per_sec".into(), deliveries as f64 / secs);
    figures.insert("drain_secs".into(), drain_secs);
    figures.insert(
        "sends_skipped".into(),
        fleet.ctx.skipped.load(Relaxed) as f64,
    );
    if let Some(cpu) = server_cpu {
        figures.insert("server_cpu_pct".into(), cpu);
    }
    if let Some(s) = b.server {
        figures.insert("server_rss_mib".into(), s.rss_kib as f64 / 1024.0);
    }
    figures.insert("generator_cpu_pct".into(), generator_cpu);
    super::part_figures(&fleet.sampler, &a, &b, &mut figures);
    notes.extend(target_notes(&env.target));
    notes.push(match plan.receipts {
        Some(every) if matches!(env.target, Target::Chat(_)) => format!(
            "devices sent `delivered` receipts every {} ms (the server fans receipt frames out to the members)",
            every.as_millis()
        ),
        _ => "no delivery receipts were sent".to_string(),
    });
    let (redelivered, sampler) = fleet.stop().await;
    figures.insert("redelivered".into(), redelivered as f64);
    let mut out = finish(&env.target, &recorder, &world, &sampler, figures, notes);
    out.incomplete = incomplete;
    Ok(out)
}

/// What the figures of a target mean.
pub fn target_notes(target: &Target) -> Vec<String> {
    match target {
        Target::Chat(_) => vec![
            "sent = the server's `sent` frame: the send is durable in the log (fsync per group commit)".into(),
            "delivered = the `message` frame at another member's device; the sender's own echo is checked but not timed".into(),
        ],
        Target::Xmpp(x) => {
            let mut n = vec![
                "delivered = the <message> at another member's session (chat to the peer's bare JID; groupchat reflected by the MUC room)".into(),
                "ejabberd keeps nothing on disk for a message delivered online (no MAM; offline storage only for offline users): see loadtest/ejabberd/README.md".into(),
            ];
            if x.sm {
                n.push("sent = XEP-0198 stream-management ack (<a h/> after <r/>): the server handled the stanza; nothing durable".into());
            } else {
                n.push("no sent latency: stream management was off (--xmpp-sm false)".into());
            }
            n
        }
    }
}
