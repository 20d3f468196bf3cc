//! Records a processor can never apply. A batch that fails with a
//! permanent error (`Error::is_permanent`: a value the store refuses for
//! good, a record that does not decode) is handled again record by record;
//! a record that still fails alone, after a few tries, goes to
//! `chat.deadletter` with its reason and counts in
//! `chat_dead_letters_total`, and its partition moves on. Any other failure
//! (the store or the broker down or failing, a record of a newer schema) is
//! retried with backoff and never set aside.

use crate::runner::backoff;
use crate::{Error, Processor};
use chat_domain::events::DeadLettered;
use chat_events::{topics::DEADLETTER, Codec, Record};
use chat_ports::{EventLog, LogRecord, OutRecord};
use chat_telemetry::Metrics;
use std::fmt::Write as _;
use tokio_util::sync::CancellationToken;

/// Tries of a failure that is not transient before the record is set aside.
pub(crate) const PERMANENT_TRIES: u32 = 3;

/// What isolating a batch needs.
pub(crate) struct Isolation<'a> {
    pub(crate) processor: &'a dyn Processor,
    pub(crate) log: &'a dyn EventLog,
    pub(crate) codec: &'a Codec,
    pub(crate) metrics: &'a Metrics,
    pub(crate) shutdown: &'a CancellationToken,
}

impl Isolation<'_> {
    /// Handles `batch` one record at a time, setting aside the records that
    /// can never be applied. False when it stopped for a shutdown first
    /// (the batch is then handled again after the restart).
    pub(crate) async fn run(&self, batch: &[LogRecord]) -> bool {
        let group = self.processor.group();
        for r in batch {
            let mut failures = 0u32;
            loop {
                let e = match self.processor.start(std::slice::from_ref(r)).await {
                    Ok(()) => break,
                    Err(e) => e,
                };
                failures += 1;
                self.metrics.processor_failure(group);
                if self.shutdown.is_cancelled() {
                    return false;
                }
                if e.is_permanent() && failures >= PERMANENT_TRIES {
                    if !self.set_aside(r, &e).await {
                        return false;
                    }
                    break;
                }
                tracing::warn!(group, partition = r.partition, offset = r.offset, error = %e, failures, "A record failed alone; handling it again.");
                backoff(failures, self.shutdown).await;
            }
        }
        true
    }

    /// Appends the record to the dead-letter topic, retrying until it is
    /// there: a record is never skipped without its trace. False on a
    /// shutdown first.
    async fn set_aside(&self, r: &LogRecord, why: &Error) -> bool {
        let group = self.processor.group();
        let record = Record::from(DeadLettered {
            topic: r.topic.clone(),
            partition: i64::from(r.partition),
            offset: i64::try_from(r.offset).unwrap_or(i64::MAX),
            key: r.key.clone(),
            group: group.to_string(),
            reason: why.to_string(),
            payload_hex: hex(&r.payload),
            ts: chat_domain::time::now_ms(),
        });
        let payload = match self.codec.encode(&record) {
            Ok(p) => p,
            Err(e) => {
                // Only a schema missing from this build; nothing to retry.
                tracing::error!(group, error = %e, "A dead letter could not be encoded.");
                return true;
            }
        };
        let out = OutRecord {
            topic: DEADLETTER.to_string(),
            key: r.key.clone(),
            payload,
            headers: r.headers.clone(),
            timestamp: chat_domain::time::now_ms(),
        };
        let mut records = vec![out];
        records.extend(self.processor.set_aside(r, &why.to_string()));
        let mut failures = 0u32;
        loop {
            match self.log.append(records.clone()).await {
                Ok(_) => break,
                Err(e) => {
                    failures += 1;
                    tracing::warn!(group, error = %e, "A dead letter could not be appended; retrying.");
                    if self.shutdown.is_cancelled() {
                        return false;
                    }
                    backoff(failures, self.shutdown).await;
                }
            }
        }
        self.metrics.dead_letter(group);
        tracing::error!(
            group,
            topic = %r.topic,
            partition = r.partition,
            offset = r.offset,
            reason = %why,
            "A record that can never be applied was set aside on the dead-letter topic."
        );
        true
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}
