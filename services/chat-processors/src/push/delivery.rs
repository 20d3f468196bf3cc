//! Delivering one due notification: the checks that make it unnecessary
//! (made again before every retry), the preview rules, and the webhook
//! requests with exponential backoff; what still fails is dead-lettered.

use super::collapser::Pending;
use super::notification::Notification;
use super::webhook::AttemptError;
use super::{outcome, Push};

impl Push {
    /// Delivers `p`, or finds it unnecessary, or dead-letters it.
    pub(crate) async fn deliver(&self, p: Pending) {
        if let Some(skip) = self.unnecessary(&p).await {
            self.metrics.push(skip);
            return;
        }
        let preview = self.preview(&p).await;
        let notification = Notification {
            user: &p.key.user,
            device: &p.key.device,
            conv: &p.key.conv,
            seq: p.latest.seq,
            sender: &p.latest.sender,
            count: p.count,
            preview,
        };
        let mut failed = 0u32;
        let error: AttemptError = loop {
            let error = match self.webhook.post(&notification).await {
                Ok(()) => {
                    self.metrics.push(outcome::SENT);
                    return;
                }
                Err(e) => e,
            };
            failed += 1;
            if failed >= self.config.attempts {
                break error;
            }
            tracing::debug!(error = %error, failed, "A push request failed; retrying.");
            self.metrics.push(outcome::RETRIED);
            tokio::time::sleep(self.config.backoff(failed)).await;
            if let Some(skip) = self.unnecessary(&p).await {
                self.metrics.push(skip);
                return;
            }
        };
        self.dead_letter(&p, failed, &error).await;
    }

    /// Why `p` need not be pushed, if it need not: the device is online, or
    /// it has the message already. A check that cannot be made does not
    /// stop the push (a needless notification beats a missing one).
    async fn unnecessary(&self, p: &Pending) -> Option<&'static str> {
        let k = &p.key;
        match self.presence.online_devices(&k.user).await {
            Ok(online) if online.contains(&k.device) => return Some(outcome::SKIPPED_ONLINE),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "Push cannot read presence; pushing anyway."),
        }
        match self
            .stores
            .receipts
            .device_delivered(&k.user, &k.device)
            .await
        {
            Ok(w) if w.get(&k.conv).is_some_and(|s| *s >= p.latest.seq) => {
                Some(outcome::SKIPPED_DELIVERED)
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "Push cannot read receipts; pushing anyway.");
                None
            }
        }
    }

    /// The preview `p` may carry under its user's settings: none when
    /// previews are off or the conversation is muted, when the message was
    /// deleted for everyone in the meantime, or when any of that cannot be
    /// read (no text leaks on a doubt).
    async fn preview(&self, p: &Pending) -> Option<String> {
        let k = &p.key;
        let settings = match self.stores.devices.push_settings(&k.user).await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!(error = %e, "Push cannot read push settings; no preview.");
                return None;
            }
        };
        if !settings.previews || settings.muted.contains(&k.conv) {
            return None;
        }
        match self.stores.messages.message(&k.conv, p.latest.seq).await {
            Ok(Some(m)) if !m.deleted => p.latest.preview(self.config.preview_chars),
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(error = %e, "Push cannot read the message; no preview.");
                None
            }
        }
    }
}
