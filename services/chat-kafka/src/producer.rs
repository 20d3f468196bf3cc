//! Appends: every record is queued in order, then the call waits for the
//! broker's acknowledgement of all of them.

use crate::{KafkaLog, KafkaOptions};
use chat_ports::{OutRecord, PortError, Position, Result};
use rdkafka::error::KafkaError;
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::types::RDKafkaErrorCode;

/// A producer as the invariants want it: acks from all in-sync replicas,
/// idempotent (no duplicates or reordering on retry), murmur2 partitioning.
pub(crate) fn create(options: &KafkaOptions) -> Result<FutureProducer> {
    let mut c = options.client_config();
    c.set("acks", "all")
        .set("enable.idempotence", "true")
        .set("partitioner", "murmur2_random")
        .set("linger.ms", "2")
        .set("message.timeout.ms", options.produce_timeout_ms.to_string())
        .set("queue.buffering.max.messages", "100000");
    c.create()
        .map_err(|e| PortError::unavailable("event log", e))
}

pub(crate) async fn append(
    log: &KafkaLog,
    producer: &FutureProducer,
    records: Vec<OutRecord>,
) -> Result<Vec<Position>> {
    let mut pending = Vec::with_capacity(records.len());
    for r in &records {
        let topic = log.full_name(&r.topic);
        let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
        for (k, v) in &r.headers {
            headers = headers.insert(Header {
                key: k,
                value: Some(v),
            });
        }
        let record = FutureRecord::to(&topic)
            .key(r.key.as_bytes())
            .payload(&r.payload)
            .headers(headers)
            .timestamp(r.timestamp);
        match producer.send_result(record) {
            Ok(delivery) => pending.push((r.topic.clone(), delivery)),
            Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), _)) => {
                return Err(PortError::Overloaded("event log"));
            }
            Err((e, _)) => return Err(PortError::unavailable("event log", e)),
        }
    }
    let mut positions = Vec::with_capacity(pending.len());
    for (topic, delivery) in pending {
        let outcome = delivery
            .await
            .map_err(|_| PortError::unavailable("event log", "the producer was dropped"))?;
        match outcome {
            Ok(d) => positions.push(Position {
                topic,
                partition: d.partition as u32,
                offset: d.offset as u64,
            }),
            Err((e, _)) => {
                tracing::warn!(error = %e, "Kafka did not acknowledge an append.");
                return Err(PortError::unavailable("event log", e));
            }
        }
    }
    let _ = log.options();
    Ok(positions)
}
