//! Verifiable source and sink connectors for reliability tests, mirroring Kafka's org.apache.kafka.connect.tools.
//!
//! * [`VerifiableSourceConnector`] / [`VerifiableSourceTask`]: each task produces records numbered
//!   by a per-task sequence number (`seqno`) that it stores as its source offset, so a restarted
//!   task continues without gaps and a checker can spot lost or duplicated records.
//! * [`VerifiableSinkConnector`] / [`VerifiableSinkTask`]: appends one JSON line per record it
//!   receives (task, topic, partition, offset, key, value) to a file, synced on flush, so a checker
//!   can compare what was produced with what was delivered.

mod json;
mod sink;
mod source;

use sluice_api::{PluginDesc, PluginFactory, SinkConnector, SinkTask, SourceConnector, SourceTask};

pub use json::value_to_json;
pub use sink::{VerifiableSinkConnector, VerifiableSinkTask, sink_config_def};
pub use source::{
    ID_FIELD, SEQNO_FIELD, VerifiableSourceConnector, VerifiableSourceTask, source_config_def,
};

/// Task config key carrying the task number, set by both connectors.
pub const ID_CONFIG: &str = "id";
/// Java class name of the source connector.
pub const SOURCE_CLASS: &str = "org.apache.kafka.connect.tools.VerifiableSourceConnector";
/// Java class name of the sink connector.
pub const SINK_CLASS: &str = "org.apache.kafka.connect.tools.VerifiableSinkConnector";

/// The plugins this crate offers: the verifiable source and sink.
pub fn plugins() -> Vec<PluginDesc> {
    vec![
        PluginDesc {
            class: SOURCE_CLASS,
            aliases: &["VerifiableSource", "VerifiableSourceConnector"],
            version: env!("CARGO_PKG_VERSION"),
            factory: PluginFactory::Source {
                connector: || -> Box<dyn SourceConnector> {
                    Box::new(VerifiableSourceConnector::new())
                },
                task: || -> Box<dyn SourceTask> { Box::new(VerifiableSourceTask::new()) },
            },
        },
        PluginDesc {
            class: SINK_CLASS,
            aliases: &["VerifiableSink", "VerifiableSinkConnector"],
            version: env!("CARGO_PKG_VERSION"),
            factory: PluginFactory::Sink {
                connector: || -> Box<dyn SinkConnector> {
                    Box::new(VerifiableSinkConnector::new())
                },
                task: || -> Box<dyn SinkTask> { Box::new(VerifiableSinkTask::new()) },
            },
        },
    ]
}

/// Copies the connector's settings into `count` task configs, each with its own `id`.
fn numbered_task_configs(props: &sluice_api::Props, count: usize) -> Vec<sluice_api::Props> {
    (0..count)
        .map(|id| {
            let mut task_props = props.clone();
            task_props.insert(ID_CONFIG.to_owned(), id.to_string());
            task_props
        })
        .collect()
}

/// The task number from the `id` task config.
fn parse_task_id(props: &sluice_api::Props) -> sluice_api::Result<Option<i32>> {
    match props.get(ID_CONFIG) {
        None => Ok(None),
        Some(raw) => raw.trim().parse().map(Some).map_err(|_| {
            sluice_api::ConnectError::config(format!(
                "Invalid value {raw} for configuration {ID_CONFIG}: Not a number of type INT"
            ))
        }),
    }
}
