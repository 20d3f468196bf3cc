//! Dead-lettering: a notification every attempt failed for becomes a
//! `PushDeadLettered` record on `chat.push.deadletter`, keyed by its user.

use super::collapser::Pending;
use super::webhook::AttemptError;
use super::{outcome, Push};
use chat_events::topics::PUSH_DEADLETTER;
use chat_events::{PushDeadLettered, Record};
use chat_ports::OutRecord;

impl Push {
    /// Appends the dead-letter record of `p`, retrying the append like a
    /// request; when even that fails the notification is lost (and logged).
    pub(crate) async fn dead_letter(&self, p: &Pending, attempts: u32, error: &AttemptError) {
        let ts = chat_domain::time::now_ms();
        let record: Record = PushDeadLettered {
            conv: p.key.conv.as_str().into(),
            user: p.key.user.as_str().into(),
            device: p.key.device.as_str().into(),
            seq: i64::try_from(p.latest.seq).unwrap_or(i64::MAX),
            sender: p.latest.sender.as_str().into(),
            count: i64::try_from(p.count).unwrap_or(i64::MAX),
            attempts: i32::try_from(attempts).unwrap_or(i32::MAX),
            error: error.to_string(),
            ts,
        }
        .into();
        tracing::warn!(
            conv = %p.key.conv,
            device = %p.key.device,
            attempts,
            error = %error,
            "A push failed every attempt; dead-lettering it."
        );
        let payload = match self.codec.encode(&record) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!(error = %e, "Cannot encode a dead-lettered push.");
                self.metrics.push(outcome::LOST);
                return;
            }
        };
        let out = OutRecord {
            topic: PUSH_DEADLETTER.to_string(),
            key: p.key.user.clone(),
            payload,
            headers: Vec::new(),
            timestamp: ts,
        };
        for n in 1..=self.config.attempts {
            match self.log.append(vec![out.clone()]).await {
                Ok(_) => {
                    self.metrics.push(outcome::DEAD_LETTERED);
                    return;
                }
                Err(e) => {
                    tracing::warn!(error = %e, "Cannot append a dead-lettered push; retrying.");
                    if n < self.config.attempts {
                        tokio::time::sleep(self.config.backoff(n)).await;
                    }
                }
            }
        }
        tracing::error!(conv = %p.key.conv, "A dead-lettered push is lost: the log refused it.");
        self.metrics.push(outcome::LOST);
    }
}
