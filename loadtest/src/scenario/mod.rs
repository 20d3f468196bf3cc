//! What every scenario shares: the target, a fleet of device tasks with
//! its phase switch, readiness and drain waits, and the figures every run
//! reports.

pub mod connections;
pub mod hostile;
pub mod messaging;
pub mod setup;
pub mod storm;

use crate::chat::{self, ChatTarget};
use crate::clock;
use crate::device::{Ctx, DeviceState, Phase, Report};
use crate::net::SourceAddrs;
use crate::record::Recorder;
use crate::report::RunOutput;
use crate::runner;
use crate::sampler::Sampler;
use crate::world::World;
use crate::xmpp::{self, XmppTarget};
use std::collections::BTreeMap;
use std::sync::atomic::{
    AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed, Ordering::SeqCst,
};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The server a run drives.
#[derive(Debug, Clone)]
pub enum Target {
    /// Ours.
    Chat(ChatTarget),
    /// ejabberd.
    Xmpp(XmppTarget),
}

impl Target {
    /// `chat` or `ejabberd`.
    pub fn name(&self) -> &'static str {
        match self {
            Target::Chat(_) => "chat",
            Target::Xmpp(_) => "ejabberd",
        }
    }

    /// Whether the sender's device receives its own message in a
    /// conversation of this kind.
    pub fn echo(&self, kind: crate::world::ConvKind) -> bool {
        match self {
            Target::Chat(_) => true,
            Target::Xmpp(_) => kind == crate::world::ConvKind::Group,
        }
    }
}

/// One run's setting.
#[derive(Debug, Clone)]
pub struct Env {
    /// The server.
    pub target: Target,
    /// Its pid, when known.
    pub server_pid: Option<u32>,
    /// The parts of a distributed cell (named processes, each with those below it), when the
    /// run started one; their CPU and memory are reported one by one.
    pub parts: crate::sampler::Parts,
    /// Source addresses.
    pub sources: SourceAddrs,
    /// Prefix of names.
    pub prefix: String,
    /// Random seed.
    pub seed: u64,
    /// Concurrent setup requests.
    pub setup_concurrency: usize,
    /// Connections per second while coming up.
    pub connect_rate: f64,
    /// How long to wait for everyone to be up.
    pub ready_timeout: Duration,
}

/// How devices of a fleet send.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendPlan {
    /// Aggregate sends per second.
    pub rate: f64,
    /// Share of sends to direct conversations.
    pub direct_share: f64,
    /// Body size.
    pub body_bytes: usize,
    /// Receipt interval (ours).
    pub receipts: Option<Duration>,
}

/// Device tasks of one run and the switch that steers them.
pub struct Fleet {
    /// Shared settings and counters.
    pub ctx: Arc<Ctx>,
    phase: watch::Sender<Phase>,
    tasks: JoinSet<DeviceState>,
    /// CPU and memory readings.
    pub sampler: Sampler,
}

impl Fleet {
    /// Starts every device of `world` (idle), `env.connect_rate` per second.
    pub async fn launch(
        env: &Env,
        world: Arc<World>,
        recorder: Arc<Recorder>,
        plan: SendPlan,
    ) -> Fleet {
        let n = world.devices.len();
        let (phase, phase_rx) = watch::channel(Phase::Idle);
        let period_us = if plan.rate > 0.0 && n > 0 {
            (n as f64 / plan.rate * 1e6) as u64
        } else {
            0
        };
        let ctx = Arc::new(Ctx {
            world: world.clone(),
            recorder,
            phase: phase_rx,
            period_us,
            direct_share: plan.direct_share,
            body_bytes: plan.body_bytes,
            receipt_every: plan.receipts,
            ready: AtomicUsize::new(0),
            outstanding: (0..n).map(|_| AtomicU64::new(u64::MAX)).collect(),
            unanswered: AtomicI64::new(0),
            sends_open: AtomicBool::new(true),
            drain_epoch: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
        });
        let sampler = Sampler::start(env.server_pid, env.parts.clone());
        let mut tasks = JoinSet::new();
        let gap = Duration::from_secs_f64(1.0 / env.connect_rate.max(1.0));
        let start = tokio::time::Instant::now();
        for me in 0..n {
            tokio::time::sleep_until(start + gap * me as u32).await;
            let st = DeviceState::new(me, period_us, env.seed);
            let (ctx, world, sources) = (ctx.clone(), world.clone(), env.sources);
            match &env.target {
                Target::Chat(t) => {
                    let t = t.clone();
                    tasks.spawn(runner::run(st, ctx, move |_| {
                        let (t, w) = (t.clone(), world.clone());
                        async move { chat::connect(&t, &w, me, sources).await }
                    }));
                }
                Target::Xmpp(t) => {
                    let t = t.clone();
                    tasks.spawn(runner::run(st, ctx, move |_| {
                        let (t, w) = (t.clone(), world.clone());
                        async move { xmpp::connect(&t, &w, me, sources).await }
                    }));
                }
            }
        }
        Fleet {
            ctx,
            phase,
            tasks,
            sampler,
        }
    }

    /// Tells every device what to do.
    pub fn set(&self, phase: Phase) {
        if phase == Phase::Send {
            self.ctx.sends_open.store(true, SeqCst);
        }
        let _ = self.phase.send(phase);
    }

    /// Waits until `n` connections are ready; false on timeout.
    pub async fn wait_ready(&self, n: usize, timeout: Duration) -> bool {
        self.wait_until(timeout, || self.ctx.ready.load(Relaxed) >= n)
            .await
    }

    /// Waits until no connection is ready (after a drop); false on timeout.
    pub async fn wait_all_down(&self, timeout: Duration) -> bool {
        self.wait_until(timeout, || self.ctx.ready.load(Relaxed) == 0)
            .await
    }

    async fn wait_until(&self, timeout: Duration, done: impl Fn() -> bool) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while !done() {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }

    /// Stops sending and waits until every send is answered and every
    /// device has every acknowledged message, or `timeout`; returns the
    /// seconds it took. Each device counts what it still waits for itself:
    /// a total over all devices could let a message that arrived without
    /// its acknowledgement (its connection dropped) stand in for one that
    /// is still missing elsewhere. Only counts taken after the last answer
    /// are believed: one taken just before the last `sent` arrived would
    /// say nothing is due while that message is still on its way.
    pub async fn drain(&self, timeout: Duration) -> f64 {
        let t0 = clock::now_us();
        let deadline = tokio::time::Instant::now() + timeout;
        self.set(Phase::Drain);
        let ctx = &self.ctx;
        // Before the count is read: a send whose timer fires now is not
        // made (`Ctx::begin_send`).
        ctx.close_sends();
        self.wait_until(timeout, || ctx.unanswered.load(SeqCst) <= 0)
            .await;
        let epoch = ctx.drain_epoch.fetch_add(1, SeqCst) + 1;
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        self.wait_until(left, || {
            ctx.outstanding
                .iter()
                .all(|o| Report::all_arrived(o.load(SeqCst), epoch))
        })
        .await;
        (clock::now_us() - t0) as f64 / 1e6
    }

    /// Stops every device and reconciles what each one received: missing
    /// messages become violations. Returns the messages resent after
    /// reconnects, and the sampler for the timeline.
    pub async fn stop(mut self) -> (u64, Sampler) {
        self.set(Phase::Stop);
        let mut redelivered = 0;
        let mut reported = 0;
        while let Some(res) = self.tasks.join_next().await {
            if let Ok(st) = res {
                for (conv, slot, acked, received) in st.check.reconcile(&self.ctx.world, st.me) {
                    if reported < 10 {
                        reported += 1;
                        eprintln!(
                            "missing: device {} got {received} of the {acked} acknowledged \
                             messages of member {slot} in conversation {conv} ({})",
                            st.me,
                            self.ctx.world.convs[conv].id()
                        );
                    }
                }
                redelivered += st.check.redelivered;
            }
        }
        (redelivered, self.sampler)
    }
}

/// Each part's CPU (percent of one core) and memory between two readings,
/// as `part_<name>_cpu_pct` and `part_<name>_rss_mib`, and their sums:
/// `pipeline_cpu_pct` (gateways and processors), `cell_cpu_pct` (every
/// part).
pub fn part_figures(
    sampler: &crate::sampler::Sampler,
    a: &crate::sampler::Reading,
    b: &crate::sampler::Reading,
    figures: &mut BTreeMap<String, f64>,
) {
    let parts = sampler.parts_use(a, b);
    if parts.is_empty() {
        return;
    }
    let (mut pipeline, mut cell) = (0.0, 0.0);
    for (name, cpu, rss) in parts {
        figures.insert(format!("part_{name}_cpu_pct"), cpu);
        figures.insert(format!("part_{name}_rss_mib"), rss);
        cell += cpu;
        if name.starts_with("gateway") || name.starts_with("processor") {
            pipeline += cpu;
        }
    }
    figures.insert("pipeline_cpu_pct".into(), pipeline);
    figures.insert("cell_cpu_pct".into(), cell);
}

/// Fills a run's latency, errors, violations and timeline from the
/// recorder, the world and the sampler; `figures` already has the
/// scenario's own figures.
pub fn finish(
    target: &Target,
    recorder: &Recorder,
    world: &World,
    sampler: &Sampler,
    mut figures: BTreeMap<String, f64>,
    notes: Vec<String>,
) -> RunOutput {
    let latency = recorder.summaries();
    for (kind, l) in &latency {
        figures.insert(format!("{kind}_p50_ms"), l.p50_ms);
        figures.insert(format!("{kind}_p95_ms"), l.p95_ms);
        figures.insert(format!("{kind}_p99_ms"), l.p99_ms);
        figures.insert(format!("{kind}_p999_ms"), l.p999_ms);
    }
    let secs = ((clock::now_us() - recorder.start_us()) / 1_000_000 + 1) as usize;
    let mut timeline = recorder.timeline(0, secs);
    sampler.fill(recorder.start_us(), &mut timeline);
    RunOutput {
        target: target.name().to_string(),
        figures,
        latency,
        errors: recorder.errors(),
        violations: world.violations.to_map(),
        timeline,
        notes,
        incomplete: None,
    }
}
