//! The expiry sweeper: announces offline the users whose connections
//! expired without a `disconnected` (their gateway crashed, or Redis or the
//! store failed while it ran).
//!
//! Every [`SWEEP_EVERY`] each engine runs the sweep script, which takes the
//! users of the index whose latest expiry has passed and hands back those
//! left without a live connection, removing them from the index in the same
//! atomic step: among all the gateways sweeping, one only reports each
//! user. For each, last-seen is written (the expiry of its latest
//! connection) and, unless the user came back online meanwhile, `offline`
//! is announced. A user whose announcement failed is put back in the index
//! so that a later sweep tries again.

use crate::conn::Commands;
use crate::offline::Offline;
use crate::presence_lua::{LIVE, SWEEP};
use crate::script::LuaScript;
use chat_ports::{Channels, LastSeenStore, Result};
use futures::StreamExt;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// How often each engine sweeps.
pub(crate) const SWEEP_EVERY: Duration = Duration::from_millis(500);
/// How many users one run of the sweep script takes at most; a full batch
/// is followed by another run at once.
const BATCH: usize = 100;
/// How many reported users are announced at the same time.
const CONCURRENCY: usize = 16;

/// What the sweeper task needs; it shares the engine's connection.
pub(crate) struct Sweeper {
    pub(crate) commands: Arc<Commands>,
    pub(crate) prefix: String,
    pub(crate) index: String,
    pub(crate) channels: Arc<dyn Channels>,
    pub(crate) last_seen: Arc<dyn LastSeenStore>,
}

/// How one sweep went.
struct Outcome {
    /// Users the script reported.
    reported: usize,
    /// Users whose announcement failed (put back for a later sweep).
    failed: usize,
}

impl Sweeper {
    /// Sweeps until `stop` is cancelled. A sweep under way is finished
    /// first: the users it took are out of the index, so nobody else would
    /// announce them.
    pub(crate) async fn run(self, stop: CancellationToken) {
        let sweep = LuaScript::new("presence sweep", SWEEP);
        let live = LuaScript::new("presence live", LIVE);
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tick.tick() => {}
            }
            loop {
                let outcome = self.sweep(&sweep, &live).await;
                failing = self.log(outcome.as_ref(), failing);
                match outcome {
                    Ok(Outcome { reported, .. }) if reported >= BATCH && !stop.is_cancelled() => {}
                    _ => break,
                }
            }
        }
        tracing::debug!(index = %self.index, "The presence sweeper stopped.");
    }

    /// One run of the script, then the announcements of what it reported.
    async fn sweep(&self, sweep: &LuaScript, live: &LuaScript) -> Result<Outcome> {
        let due: Vec<(String, i64)> = sweep
            .run(
                &self.commands,
                &[&self.index],
                (self.prefix.as_str(), BATCH),
            )
            .await?;
        let reported = due.len();
        let failed = futures::stream::iter(due)
            .map(|(user, at)| self.report(live, user, at))
            .buffer_unordered(CONCURRENCY)
            .filter(|ok| std::future::ready(!ok))
            .count()
            .await;
        Ok(Outcome { reported, failed })
    }

    /// Announces one expired user; false when it failed and was put back.
    async fn report(&self, live: &LuaScript, user: String, at: i64) -> bool {
        let done = async {
            self.last_seen.set_last_seen(&user, at).await?;
            Offline {
                commands: &self.commands,
                live,
                channels: self.channels.as_ref(),
                prefix: &self.prefix,
            }
            .announce(&user, at)
            .await
        };
        match done.await {
            Ok(()) => {
                tracing::debug!(
                    user,
                    last_seen = at,
                    "The sweeper announced an expired user offline."
                );
                true
            }
            Err(e) => {
                tracing::debug!(user, error = %e, "An expired user could not be announced offline.");
                requeue(&self.commands, &self.index, &user, at).await;
                false
            }
        }
    }

    /// Logs a failing sweep once when failures start, and once when they
    /// stop; returns whether sweeps are failing now.
    fn log(&self, outcome: Result<&Outcome, &chat_ports::PortError>, failing: bool) -> bool {
        match outcome {
            Err(e) => {
                if !failing {
                    tracing::warn!(index = %self.index, error = %e, "The presence sweeper could not run; it will try again.");
                }
                true
            }
            Ok(Outcome { failed, .. }) if *failed > 0 => {
                if !failing {
                    tracing::warn!(index = %self.index, failed, "The presence sweeper could not announce some expired users offline; it will try again.");
                }
                true
            }
            Ok(_) => {
                if failing {
                    tracing::info!(index = %self.index, "The presence sweeper works again.");
                }
                false
            }
        }
    }
}

/// Puts `user` back in the index with `at` (unless it is indexed with a
/// later expiry), so that the sweeper announces it offline with that
/// last-seen once `at` has passed.
pub(crate) async fn requeue(commands: &Commands, index: &str, user: &str, at: i64) {
    let put: Result<i64> = commands
        .query(redis::cmd("ZADD").arg(index).arg("GT").arg(at).arg(user))
        .await;
    if let Err(e) = put {
        tracing::warn!(user, error = %e, "A user who could not be announced offline could not be put back for the sweeper either; it stays online for its watchers until it connects again.");
    }
}
