//! The flusher: takes notifications off the collapser as they fall due and
//! delivers them, at most `concurrency` at a time, apart from the consumer
//! so that a slow or dead webhook never holds up the log.

use super::collapser::Pending;
use super::Push;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

impl Push {
    /// Delivers due notifications until `shutdown` fires; then abandons
    /// the ones in flight or still pending (see the module docs). Spawn it
    /// beside the processor's [`crate::run`] loop.
    pub async fn run(self: Arc<Self>, shutdown: CancellationToken) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let mut deliveries = JoinSet::new();
        tracing::info!("The push flusher started.");
        loop {
            while let Some(done) = deliveries.try_join_next() {
                if let Err(e) = done {
                    tracing::error!(error = %e, "A push delivery panicked.");
                }
            }
            // A slot first, so that while every slot is busy the due
            // notifications stay in the collapser and keep collapsing.
            let slot = tokio::select! {
                _ = shutdown.cancelled() => break,
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            };
            let Some(pending) = self.next_due(&shutdown).await else {
                break;
            };
            let push = self.clone();
            deliveries.spawn(async move {
                push.deliver(pending).await;
                drop(slot);
            });
        }
        deliveries.shutdown().await;
        tracing::info!(abandoned = self.pending(), "The push flusher stopped.");
    }

    /// Waits for the next notification to fall due; `None` on shutdown.
    async fn next_due(&self, shutdown: &CancellationToken) -> Option<Pending> {
        loop {
            let next = self
                .queue
                .lock()
                .expect("push queue lock")
                .pop_due(Instant::now());
            let at = match next {
                Ok(p) => return Some(p),
                Err(at) => at,
            };
            let until_due = async {
                match at {
                    Some(t) => tokio::time::sleep_until(t.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = self.wake.notified() => {}
                _ = until_due => {}
            }
        }
    }
}
