//! Topic creation, idempotent: an existing topic is left as it is.

use crate::KafkaOptions;
use chat_events::topics::TopicSpec;
use chat_ports::{PortError, Result};
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use std::time::Duration;

pub(crate) struct Admin {
    client: AdminClient<DefaultClientContext>,
}

impl Admin {
    pub(crate) fn create(options: &KafkaOptions) -> Result<Self> {
        let client = options
            .client_config()
            .create()
            .map_err(|e| PortError::unavailable("event log", e))?;
        Ok(Self { client })
    }

    /// Creates `name` unless it exists; true when it was created.
    pub(crate) async fn ensure(
        &self,
        name: &str,
        partitions: i32,
        options: &KafkaOptions,
        spec: Option<&TopicSpec>,
    ) -> Result<bool> {
        let retention = spec.map(|s| s.retention_ms.to_string());
        let mut topic = NewTopic::new(
            name,
            partitions,
            TopicReplication::Fixed(options.replication),
        );
        if let Some(spec) = spec {
            topic = topic.set("cleanup.policy", &spec.cleanup_policy);
        }
        if let Some(r) = &retention {
            topic = topic.set("retention.ms", r);
        }
        let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
        let results = self
            .client
            .create_topics([&topic], &opts)
            .await
            .map_err(|e| PortError::unavailable("event log", e))?;
        match results.into_iter().next() {
            Some(Ok(_)) => {
                tracing::info!(topic = name, partitions, "Created a Kafka topic.");
                Ok(true)
            }
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) | None => Ok(false),
            Some(Err((_, code))) => Err(PortError::unavailable(
                "event log",
                format!("cannot create topic {name}: {code}"),
            )),
        }
    }
}
