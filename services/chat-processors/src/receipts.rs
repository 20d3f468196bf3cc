//! The receipts processor: reads receipt commands and max-merges them into
//! the watermarks, so a lower or repeated value changes nothing and a
//! replay writes the same values. A user-level watermark that moved is
//! published as a `ReceiptAdvanced` event.
//!
//! A processor killed between its store write and its publish leaves
//! watermarks that moved with no event; the records are redelivered (their
//! offsets were not committed) but move nothing. So a record this processor
//! has not handled before, whose value is the stored watermark of its kind,
//! is announced again: at the stored value, so no announced watermark goes
//! back, and at worst a device sees one it had. No outbox is needed.

use crate::{event_records, Processor, Result};
use async_trait::async_trait;
use chat_domain::ReceiptKind;
use chat_domain::{Command, Event};
use chat_events::topics::COMMANDS;
use chat_events::{Codec, ReceiptAdvanced};
use chat_ports::{EventLog, LogRecord, ReceiptUpdate, Stores};
use std::collections::HashMap;
use std::sync::Arc;

pub struct Receipts {
    /// Per (topic, partition), one past the last record whose events this
    /// processor published: a record below it is a retry of its own, not a
    /// redelivery after another one's crash, and is not announced again.
    handled: tokio::sync::Mutex<HashMap<(String, u32), u64>>,
    stores: Stores,
    log: Arc<dyn EventLog>,
    codec: Arc<Codec>,
    /// Publish derived events (off when replaying into a new store: the
    /// events topic has them already).
    publish: bool,
}

impl Receipts {
    pub fn new(stores: Stores, log: Arc<dyn EventLog>, codec: Arc<Codec>) -> Self {
        Self {
            handled: Default::default(),
            stores,
            log,
            codec,
            publish: true,
        }
    }

    /// The same, publishing no events: for rebuilding a store from the log.
    pub fn without_events(mut self) -> Self {
        self.publish = false;
        self
    }
}

#[async_trait]
impl Processor for Receipts {
    fn group(&self) -> &'static str {
        crate::groups::RECEIPTS
    }

    fn topics(&self) -> &'static [&'static str] {
        &[COMMANDS]
    }

    async fn handle(&self, records: &[LogRecord]) -> Result<()> {
        let mut handled = self.handled.lock().await;
        let mut updates = Vec::new();
        // Per update: its record's trace, and whether this processor has
        // not handled the record before.
        let mut origins = Vec::new();
        for r in records {
            // (Every other command is the sequencer's.)
            let Some(c) = self
                .codec
                .decode_command(&r.payload)
                .ok()
                .and_then(Command::into_receipt)
            else {
                continue;
            };
            let Some(kind) = ReceiptKind::parse(&c.kind) else {
                continue;
            };
            if c.seq <= 0 {
                continue;
            }
            let mark = handled.get(&(r.topic.clone(), r.partition)).copied();
            origins.push((r.traceparent(), mark.is_none_or(|m| r.offset >= m)));
            updates.push(ReceiptUpdate {
                conv: c.conv.into_string(),
                user: c.user.into_string(),
                device: c.device.into_string(),
                kind,
                seq: c.seq as u64,
            });
        }
        if !updates.is_empty() {
            let moved = self.stores.receipts.advance(&updates).await?;
            if self.publish {
                self.announce(updates, moved, origins).await?;
            }
        }
        for r in records {
            let mark = handled.entry((r.topic.clone(), r.partition)).or_default();
            *mark = (*mark).max(r.offset + 1);
        }
        Ok(())
    }
}

impl Receipts {
    /// Publishes the watermarks that moved, and those a record new to this
    /// processor finds already at its value (moved by one killed before its
    /// publish).
    async fn announce(
        &self,
        updates: Vec<ReceiptUpdate>,
        moved: Vec<bool>,
        origins: Vec<(Option<String>, bool)>,
    ) -> Result<()> {
        let mut stored: HashMap<(String, String), (u64, u64)> = HashMap::new();
        for ((u, moved), (_, new)) in updates.iter().zip(&moved).zip(&origins) {
            let key = (u.conv.clone(), u.user.clone());
            if !moved && *new && !stored.contains_key(&key) {
                let marks = self.stores.receipts.watermarks(&u.conv, &u.user).await?;
                stored.insert(key, marks);
            }
        }
        let at_watermark = |u: &ReceiptUpdate| {
            let (delivered, read) = stored
                .get(&(u.conv.clone(), u.user.clone()))
                .copied()
                .unwrap_or((0, 0));
            match u.kind {
                ReceiptKind::Delivered => delivered == u.seq,
                ReceiptKind::Read => read == u.seq,
            }
        };
        let ts = chat_domain::time::now_ms();
        let mut events: Vec<Event> = Vec::new();
        let mut traces = Vec::new();
        for ((u, moved), (trace, new)) in updates.into_iter().zip(moved).zip(origins) {
            if moved || (new && at_watermark(&u)) {
                traces.push(trace);
                events.push(
                    ReceiptAdvanced {
                        conv: u.conv.into(),
                        user: u.user.into(),
                        device: u.device.into(),
                        kind: u.kind.as_str().into(),
                        seq: u.seq as i64,
                        ts,
                    }
                    .into(),
                );
            }
        }
        if !events.is_empty() {
            self.log
                .append(event_records(&self.codec, &events, &traces)?)
                .await?;
        }
        Ok(())
    }
}
