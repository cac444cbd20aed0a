//! Creating and checking the internal topics (reference §3.4): created when missing with
//! `cleanup.policy=compact` and the worker's `*.storage.*` settings; an existing topic that is
//! not compacted (or a config topic with several partitions) stops the worker, as in Kafka since
//! KAFKA-9216, because deleting old records would lose connector configs or offsets.

use std::time::Duration;

use rdkafka::admin::{
    AdminClient, AdminOptions, ConfigResource, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use sluice_api::Props;

use crate::runtime::kafka::client_config;

/// What one internal topic must look like.
pub struct InternalTopic {
    /// `config`, `offset` or `status`: the settings prefix is `<kind>.storage.`.
    pub kind: &'static str,
    /// Topic name.
    pub name: String,
    /// Partitions when created (`None`: exactly 1 and enforced, for the config topic).
    pub partitions: Option<i32>,
    /// Replication factor when created (-1: broker default).
    pub replication: i32,
    /// Extra topic configs (`<kind>.storage.<config>` worker settings).
    pub configs: Vec<(String, String)>,
}

impl InternalTopic {
    /// The topic described by the worker settings for `kind`.
    pub fn from_worker(props: &Props, kind: &'static str, default_partitions: Option<i32>) -> Self {
        let prefix = format!("{kind}.storage.");
        let get = |k: &str| props.get(&format!("{prefix}{k}")).map(|v| v.trim());
        let configs = props
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?, v)))
            .filter(|(k, _)| {
                !matches!(
                    *k,
                    "topic" | "partitions" | "replication.factor" | "cleanup.policy"
                )
            })
            .map(|(k, v)| (k.to_owned(), v.clone()))
            .collect();
        Self {
            kind,
            name: get("topic").unwrap_or_default().to_owned(),
            partitions: default_partitions
                .map(|d| get("partitions").and_then(|p| p.parse().ok()).unwrap_or(d)),
            replication: get("replication.factor")
                .and_then(|r| r.parse().ok())
                .unwrap_or(3),
            configs,
        }
    }
}

/// Errors preparing the internal topics.
#[derive(Debug, thiserror::Error)]
pub enum TopicError {
    /// The admin client failed.
    #[error("{0}")]
    Kafka(String),
    /// A topic exists with settings that would lose data.
    #[error("{0}")]
    Unsafe(String),
}

/// Creates the topics that are missing, then checks every one.
pub async fn ensure(client: &Props, topics: &[InternalTopic]) -> Result<(), TopicError> {
    let admin: AdminClient<DefaultClientContext> = client_config(client)
        .create()
        .map_err(|e| TopicError::Kafka(format!("could not create an admin client: {e}")))?;
    let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
    let new: Vec<NewTopic<'_>> = topics
        .iter()
        .map(|t| {
            let mut n = NewTopic::new(
                &t.name,
                t.partitions.unwrap_or(1),
                TopicReplication::Fixed(t.replication),
            )
            .set("cleanup.policy", "compact");
            for (k, v) in &t.configs {
                n = n.set(k, v);
            }
            n
        })
        .collect();
    let results = admin
        .create_topics(new.iter(), &options)
        .await
        .map_err(|e| TopicError::Kafka(format!("could not create the internal topics: {e}")))?;
    for r in results {
        match r {
            Ok(t) => tracing::info!(topic = %t, "created internal topic"),
            Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((t, e)) => {
                return Err(TopicError::Kafka(format!(
                    "could not create internal topic {t}: {e}"
                )));
            }
        }
    }
    for t in topics {
        check(&admin, &options, t).await?;
    }
    Ok(())
}

async fn check(
    admin: &AdminClient<DefaultClientContext>,
    options: &AdminOptions,
    topic: &InternalTopic,
) -> Result<(), TopicError> {
    let setting = format!("{}.storage.topic", topic.kind);
    let configs = admin
        .describe_configs([&ResourceSpecifier::Topic(&topic.name)], options)
        .await
        .map_err(|e| TopicError::Kafka(format!("could not describe topic {}: {e}", topic.name)))?;
    let policy = configs
        .into_iter()
        .filter_map(Result::ok)
        .find_map(|r: ConfigResource| r.get("cleanup.policy").and_then(|e| e.value.clone()));
    if let Some(policy) = policy
        && policy.split(',').map(str::trim).collect::<Vec<_>>() != ["compact"]
    {
        return Err(TopicError::Unsafe(format!(
            "Topic '{}' supplied via the '{setting}' property is required to have 'cleanup.policy=compact' to guarantee consistency and durability of source connector offsets, but found the topic currently has 'cleanup.policy={policy}'. Continuing would likely result in eventually losing source connector offsets and problems restarting this Connect cluster in the future. Change the '{setting}' property in the Connect worker configurations to use a topic with 'cleanup.policy=compact'.",
            topic.name
        )));
    }
    if topic.partitions.is_none() {
        let metadata = admin
            .inner()
            .fetch_metadata(Some(&topic.name), Duration::from_secs(30))
            .map_err(|e| {
                TopicError::Kafka(format!("could not read metadata of {}: {e}", topic.name))
            })?;
        let count = metadata
            .topics()
            .iter()
            .map(|t| t.partitions().len())
            .sum::<usize>();
        if count != 1 {
            return Err(TopicError::Unsafe(format!(
                "Topic '{}' supplied via the '{setting}' property is required to have a single partition in order to guarantee consistency of connector configurations, but it has {count} partitions. Delete it, or use another topic with a single partition.",
                topic.name
            )));
        }
    }
    Ok(())
}
