//! The push processor's consumer side: sequenced messages → pending
//! notifications in the collapser. It reads the recipients' device lists
//! and nothing else, and never waits on the webhook.

use super::collapser::{Enqueued, Key};
use super::notification::Latest;
use super::{outcome, Push};
use crate::{Processor, Result};
use async_trait::async_trait;
use chat_domain::Event;
use chat_events::topics::EVENTS;
use chat_events::MessageSequenced;
use chat_ports::LogRecord;
use futures::stream::{self, StreamExt, TryStreamExt};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

/// Device-list reads in flight at once while handling a batch.
const LOOKUPS: usize = 32;

/// The members a message notifies: its recipients (the members at its
/// seq) but the sender.
fn notified(m: &MessageSequenced) -> impl Iterator<Item = &str> {
    m.recipients
        .iter()
        .map(|u| u.as_str())
        .filter(move |u| *u != m.sender)
}

impl Push {
    /// The sequenced messages of the batch that are recent enough to push.
    fn messages(&self, records: &[LogRecord]) -> Vec<MessageSequenced> {
        let cutoff = chat_domain::time::now_ms()
            .saturating_sub(i64::try_from(self.config.max_age_ms).unwrap_or(i64::MAX));
        let mut out = Vec::new();
        for r in records {
            let Some(m) = self
                .codec
                .decode_event(&r.payload)
                .ok()
                .and_then(Event::into_sequenced)
            else {
                continue;
            };
            if m.ts < cutoff {
                self.metrics.push(outcome::STALE);
                continue;
            }
            out.push(m);
        }
        out
    }

    /// The devices of each user, read a few users at a time.
    async fn devices_of(&self, users: Vec<String>) -> Result<HashMap<String, Vec<String>>> {
        let devices = &self.stores.devices;
        stream::iter(users)
            .map(|user| async move {
                let found = devices.devices(&user).await?;
                Ok::<_, crate::Error>((user, found))
            })
            .buffer_unordered(LOOKUPS)
            .try_collect()
            .await
    }
}

#[async_trait]
impl Processor for Push {
    fn group(&self) -> &'static str {
        crate::groups::PUSH
    }

    fn topics(&self) -> &'static [&'static str] {
        &[EVENTS]
    }

    /// Queues one pending notification per (recipient device, message);
    /// returns once they are queued. Every store read happens before the
    /// first one is queued, so a failed batch, handled again, counts its
    /// messages once.
    async fn handle(&self, records: &[LogRecord]) -> Result<()> {
        let messages = self.messages(records);
        let users: BTreeSet<&str> = messages.iter().flat_map(notified).collect();
        let devices = self
            .devices_of(users.into_iter().map(String::from).collect())
            .await?;
        let mut opened = false;
        {
            let mut queue = self.queue.lock().expect("push queue lock");
            let now = Instant::now();
            for m in &messages {
                let latest = Arc::new(Latest {
                    seq: m.seq.max(0) as u64,
                    sender: m.sender.to_string(),
                    body: m.body.clone(),
                    has_attachments: !m.attachments.is_empty(),
                });
                for user in notified(m) {
                    for device in devices.get(user).into_iter().flatten() {
                        let key = Key {
                            user: user.to_string(),
                            device: device.clone(),
                            conv: m.conv.to_string(),
                        };
                        match queue.enqueue(key, &latest, now) {
                            Enqueued::Opened => opened = true,
                            Enqueued::Full => self.metrics.push(outcome::DROPPED),
                            Enqueued::Merged | Enqueued::Repeated => {}
                        }
                    }
                }
            }
        }
        if opened {
            self.wake.notify_one();
        }
        Ok(())
    }
}
