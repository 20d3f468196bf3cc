//! Reading one record at an offset, outside any consumer group: a client of
//! its own, assigned the partition at that offset. Slow (a connection per
//! call) and rare: the sequencer asks it when it checks that the log is the
//! one its cursor was written from.

use crate::consumer::record_of;
use crate::KafkaLog;
use chat_ports::{LogRecord, PortError, Result};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use std::time::Instant;

fn unavailable(e: impl std::fmt::Display) -> PortError {
    PortError::unavailable("event log", e)
}

pub(crate) async fn read_at(
    log: &KafkaLog,
    topic: &str,
    partition: u32,
    offset: u64,
) -> Result<Option<LogRecord>> {
    let name = log.full_name(topic);
    let prefix = log.options().topic_prefix.clone();
    let timeout = log.options().request_timeout();
    let mut config = log.options().client_config();
    // No group: the partition is assigned, nothing is committed. Never
    // reset to another offset: a fetch that misses the record is an error
    // (asked again), not an answer that it is not there.
    config
        .set("group.id", log.full_name("read-at"))
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("auto.offset.reset", "error")
        .set("enable.partition.eof", "true");
    let consumer: BaseConsumer = config.create().map_err(unavailable)?;
    let (Ok(p), Ok(wanted)) = (i32::try_from(partition), i64::try_from(offset)) else {
        return Ok(None);
    };
    tokio::task::spawn_blocking(move || {
        let (low, high) = consumer
            .fetch_watermarks(&name, p, timeout)
            .map_err(unavailable)?;
        if wanted < low || wanted >= high {
            // The only answer that the record is not there: the partition's
            // own bounds say so.
            return Ok(None);
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset(&name, p, Offset::Offset(wanted))
            .map_err(unavailable)?;
        consumer.assign(&tpl).map_err(unavailable)?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(unavailable(format!(
                    "no answer for offset {offset} of {name}[{p}] within {timeout:?}"
                )));
            }
            match consumer.poll(left) {
                Some(Ok(m)) if m.offset() == wanted => return Ok(Some(record_of(&prefix, &m))),
                Some(Ok(_)) => {}
                // The bounds said it is there: anything else is a failure
                // to read it, asked again by the caller.
                Some(Err(KafkaError::PartitionEOF(_))) => {
                    return Err(unavailable(format!(
                        "offset {offset} of {name}[{p}] is within its bounds but was not read"
                    )))
                }
                Some(Err(e)) => return Err(unavailable(e)),
                None => {}
            }
        }
    })
    .await
    .map_err(unavailable)?
}
