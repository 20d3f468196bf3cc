//! The receipts processor: reads receipt commands and max-merges them into
//! the watermarks, so a lower or repeated value changes nothing and a
//! replay writes the same values. A user-level watermark that moved is
//! published as a `ReceiptAdvanced` event.

use crate::{event_records, Processor, Result};
use async_trait::async_trait;
use chat_domain::ReceiptKind;
use chat_domain::{Command, Event};
use chat_events::topics::COMMANDS;
use chat_events::{Codec, ReceiptAdvanced};
use chat_ports::{EventLog, LogRecord, ReceiptUpdate, Stores};
use std::sync::Arc;

pub struct Receipts {
    /// Events derived from watermarks already stored whose publish failed:
    /// the retry of the batch finds nothing left to advance, so they are
    /// kept here and published first.
    unpublished: tokio::sync::Mutex<Vec<chat_ports::OutRecord>>,
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
            unpublished: Default::default(),
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
        let mut unpublished = self.unpublished.lock().await;
        if !unpublished.is_empty() {
            self.log.append(unpublished.clone()).await?;
            unpublished.clear();
        }
        if updates.is_empty() {
            return Ok(());
        }
        let moved = self.stores.receipts.advance(&updates).await?;
        let ts = chat_domain::time::now_ms();
        let traces: Vec<Option<String>> = traces
            .into_iter()
            .zip(&moved)
            .filter(|(_, moved)| **moved)
            .map(|(t, _)| t)
            .collect();
        let events: Vec<Event> = updates
            .into_iter()
            .zip(moved)
            .filter(|(_, moved)| *moved)
            .map(|(u, _)| {
                ReceiptAdvanced {
                    conv: u.conv.into(),
                    user: u.user.into(),
                    device: u.device.into(),
                    kind: u.kind.as_str().into(),
                    seq: u.seq as i64,
                    ts,
                }
                .into()
            })
            .collect();
        if self.publish && !events.is_empty() {
            let records = event_records(&self.codec, &events, &traces)?;
            if let Err(e) = self.log.append(records.clone()).await {
                *unpublished = records;
                return Err(e.into());
            }
        }
        Ok(())
    }
}
