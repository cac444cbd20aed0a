//! The offsets endpoints (KIP-875) and status gauges, shared by both herders: source offsets live
//! in the worker's offset store (a file or a topic), sink offsets in the `connect-NAME` group.

use sluice_api::{PluginType, Props, SourceMap};

use super::standalone::{check_source_map, sink_offset, sink_partition};
use super::{ConnectorOffset, HerderError};
use crate::runtime::Worker;
use crate::status::State;

/// The message when offsets are changed on a connector that is not STOPPED.
pub(crate) const STOPPED_REQUIRED: &str = "Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint";

fn sink_client(worker: &Worker, name: &str, config: &Props) -> (Props, String) {
    let props = crate::runtime::kafka::admin_props(worker.config.props(), config);
    (props, format!("connect-{name}"))
}

/// A source connector's offsets from the worker's offset store.
pub(crate) fn source_offsets(worker: &Worker, name: &str) -> Vec<ConnectorOffset> {
    worker
        .offsets
        .entries()
        .into_iter()
        .filter_map(|(key, value)| {
            let key: serde_json::Value = serde_json::from_str(&key).ok()?;
            let [
                serde_json::Value::String(connector),
                serde_json::Value::Object(partition),
            ] = key.as_array()?.as_slice()
            else {
                return None;
            };
            if connector != name {
                return None;
            }
            let offset = match serde_json::from_str::<serde_json::Value>(&value).ok()? {
                serde_json::Value::Object(o) => Some(o),
                _ => None,
            };
            Some(ConnectorOffset {
                partition: partition.clone(),
                offset,
            })
        })
        .collect()
}

/// A connector's committed offsets.
pub(crate) async fn read(
    worker: &Worker,
    name: &str,
    plugin_type: PluginType,
    config: &Props,
) -> Result<Vec<ConnectorOffset>, HerderError> {
    if plugin_type == PluginType::Source {
        return Ok(source_offsets(worker, name));
    }
    let (props, group) = sink_client(worker, name, config);
    let subscription =
        crate::runtime::subscription(config).map_err(|e| HerderError::BadRequest(e.to_string()))?;
    let committed = crate::runtime::group_offsets::committed(props, group, subscription)
        .await
        .map_err(|e| HerderError::Internal(e.to_string()))?;
    Ok(committed
        .into_iter()
        .map(|(tp, offset)| {
            let mut partition = SourceMap::new();
            partition.insert("kafka_topic".into(), tp.topic.into());
            partition.insert("kafka_partition".into(), tp.partition.into());
            let mut o = SourceMap::new();
            o.insert("kafka_offset".into(), offset.into());
            ConnectorOffset {
                partition,
                offset: Some(o),
            }
        })
        .collect())
}

/// Alters a (STOPPED) connector's offsets.
pub(crate) async fn alter(
    worker: &Worker,
    name: &str,
    plugin_type: PluginType,
    config: &Props,
    offsets: Vec<ConnectorOffset>,
) -> Result<String, HerderError> {
    if offsets.is_empty() {
        return Err(HerderError::BadRequest(
            "The offsets to be modified must not be null or empty".into(),
        ));
    }
    match plugin_type {
        PluginType::Sink => {
            let mut commits = Vec::new();
            for o in &offsets {
                let tp = sink_partition(&o.partition)?;
                match &o.offset {
                    Some(offset) => commits.push((tp, sink_offset(offset)?)),
                    None => {
                        return Err(HerderError::BadRequest(format!(
                            "Removing the offset of one sink partition ({tp}) is not supported yet; reset all of the connector's offsets with DELETE /connectors/{name}/offsets"
                        )));
                    }
                }
            }
            let (props, group) = sink_client(worker, name, config);
            crate::runtime::group_offsets::commit(props, group, commits)
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?;
        }
        _ => {
            let mut writes = Vec::new();
            for o in &offsets {
                if o.partition.is_empty() {
                    return Err(HerderError::BadRequest(
                        "Source partitions may not be null or empty".into(),
                    ));
                }
                check_source_map("partition", &o.partition)?;
                if let Some(offset) = &o.offset {
                    check_source_map("offset", offset)?;
                }
                writes.push((
                    crate::runtime::offsets::offset_key(name, &o.partition),
                    o.offset
                        .as_ref()
                        .map(|m| serde_json::Value::Object(m.clone()).to_string()),
                ));
            }
            worker
                .offsets
                .set(writes)
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?;
        }
    }
    Ok("The offsets for this connector have been altered successfully".into())
}

/// Resets a (STOPPED) connector's offsets.
pub(crate) async fn reset(
    worker: &Worker,
    name: &str,
    plugin_type: PluginType,
    config: &Props,
) -> Result<String, HerderError> {
    match plugin_type {
        PluginType::Sink => {
            let (props, group) = sink_client(worker, name, config);
            crate::runtime::group_offsets::delete_group(props, group)
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?;
        }
        _ => {
            let tombstones = source_offsets(worker, name)
                .into_iter()
                .map(|o| {
                    (
                        crate::runtime::offsets::offset_key(name, &o.partition),
                        None,
                    )
                })
                .collect();
            worker
                .offsets
                .set(tombstones)
                .await
                .map_err(|e| HerderError::Internal(e.to_string()))?;
        }
    }
    Ok("The offsets for this connector have been reset successfully".into())
}

/// Refreshes the gauges computed from statuses, for these connectors.
pub(crate) fn refresh_metrics(worker: &Worker, names: &[String]) {
    let worker = &worker;
    let m = &worker.metrics;
    m.connector_count.set(names.len() as i64);
    let all_tasks = worker.status.all_tasks();
    m.task_count.set(all_tasks.len() as i64);
    m.status.clear();
    m.connector_task_counts.clear();
    for name in names {
        if let Some(s) = worker.status.connector(name) {
            m.status
                .get_or_create(&crate::metrics::StatusLabels {
                    connector: name.clone(),
                    task: String::new(),
                    status: s.state.name().to_ascii_lowercase(),
                })
                .set(1);
        }
        let tasks = worker.status.tasks_of(name);
        for state in [
            State::Running,
            State::Paused,
            State::Failed,
            State::Unassigned,
            State::Restarting,
        ] {
            let n = tasks.iter().filter(|(_, s)| s.state == state).count();
            m.connector_task_counts
                .get_or_create(&crate::metrics::StatusLabels {
                    connector: name.clone(),
                    task: String::new(),
                    status: state.name().to_ascii_lowercase(),
                })
                .set(n as i64);
        }
        for (i, s) in tasks {
            m.status
                .get_or_create(&crate::metrics::StatusLabels {
                    connector: name.clone(),
                    task: i.to_string(),
                    status: s.state.name().to_ascii_lowercase(),
                })
                .set(1);
        }
    }
}
