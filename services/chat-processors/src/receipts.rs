//! The receipts processor: reads receipt commands and max-merges them into
//! the watermarks, so a lower or repeated value changes nothing and a
//! replay writes the same values. A user-level watermark that moves is
//! published as a `ReceiptAdvanced` event.
//!
//! The events go to the log before the watermarks go to the store: which
//! updates move is computed from the stored watermarks read first. A
//! process killed between the two publishes them again on the retry (the
//! store still has the old values), so an advance is never lost, at worst
//! announced twice; a batch handled again after both finds nothing moving
//! and publishes nothing. (Stored first, a kill before the publish lost the
//! advance for good: the retry found nothing left to move.)

use crate::{event_records, Processor, Result};
use async_trait::async_trait;
use chat_domain::ReceiptKind;
use chat_domain::{Command, Event};
use chat_events::topics::COMMANDS;
use chat_events::{Codec, ReceiptAdvanced};
use chat_ports::{EventLog, LogRecord, ReceiptUpdate, Stores};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

pub struct Receipts {
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

impl Receipts {
    /// Which updates would move their user-level watermark, from the
    /// watermarks stored now (one read per conversation of the batch).
    async fn would_move(&self, updates: &[ReceiptUpdate]) -> Result<Vec<bool>> {
        let mut current: BTreeMap<(&str, &str), (u64, u64)> = BTreeMap::new();
        let convs: BTreeSet<&str> = updates.iter().map(|u| u.conv.as_str()).collect();
        for conv in convs {
            for m in self.stores.receipts.member_receipts(conv).await? {
                if let Some(u) = updates.iter().find(|u| u.conv == conv && u.user == *m.user) {
                    current.insert(
                        (u.conv.as_str(), u.user.as_str()),
                        (m.delivered_seq, m.read_seq),
                    );
                }
            }
        }
        Ok(chat_ports::merge_receipts(&mut current, updates).0)
    }
}

#[async_trait]
impl Processor for Receipts {
    fn group(&self) -> &'static str {
        "receipts"
    }

    fn topics(&self) -> &'static [&'static str] {
        &[COMMANDS]
    }

    async fn handle(&self, records: &[LogRecord]) -> Result<()> {
        let mut updates = Vec::new();
        let mut traces = Vec::new();
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
            traces.push(r.traceparent());
            updates.push(ReceiptUpdate {
                conv: c.conv.into_string(),
                user: c.user.into_string(),
                device: c.device.into_string(),
                kind,
                seq: c.seq as u64,
            });
        }
        if updates.is_empty() {
            return Ok(());
        }
        if self.publish {
            let moved = self.would_move(&updates).await?;
            let ts = chat_domain::time::now_ms();
            let traces: Vec<Option<String>> = traces
                .into_iter()
                .zip(&moved)
                .filter(|(_, moved)| **moved)
                .map(|(t, _)| t)
                .collect();
            let events: Vec<Event> = updates
                .iter()
                .zip(moved)
                .filter(|(_, moved)| *moved)
                .map(|(u, _)| {
                    ReceiptAdvanced {
                        conv: u.conv.as_str().into(),
                        user: u.user.as_str().into(),
                        device: u.device.as_str().into(),
                        kind: u.kind.as_str().into(),
                        seq: u.seq as i64,
                        ts,
                    }
                    .into()
                })
                .collect();
            if !events.is_empty() {
                let records = event_records(&self.codec, &events, &traces)?;
                self.log.append(records).await?;
            }
        }
        self.stores.receipts.advance(&updates).await?;
        Ok(())
    }
}
