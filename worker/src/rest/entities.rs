//! JSON shapes of the REST API, field for field as Kafka Connect renders them.

use serde::Serialize;
use serde_json::{Map, Value, json};
use sluice_api::Props;

use crate::connector_config::ValidationReport;
use crate::herder::{ConnectorInfo, ConnectorStatus};
use crate::status::Status;

/// `{"connector":..,"task":..}`.
#[derive(Serialize)]
pub struct TaskRef<'a> {
    /// Connector name.
    pub connector: &'a str,
    /// Task number.
    pub task: u32,
}

/// ConnectorInfo JSON.
pub fn connector_info(info: &ConnectorInfo) -> Value {
    json!({
        "name": info.name,
        "config": info.config,
        "tasks": info.tasks.iter().map(|t| TaskRef { connector: &info.name, task: *t }).collect::<Vec<_>>(),
        "type": info.connector_type.rest_name(),
    })
}

fn status_json(status: &Status) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("state".into(), json!(status.state.name()));
    if let Some(trace) = status.trace.as_ref().filter(|t| !t.is_empty()) {
        m.insert("trace".into(), json!(trace));
    }
    m.insert("worker_id".into(), json!(status.worker_id));
    m
}

/// TaskState JSON.
pub fn task_state(id: u32, status: &Status) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    m.extend(status_json(status));
    Value::Object(m)
}

/// ConnectorStateInfo JSON.
pub fn connector_state(status: &ConnectorStatus) -> Value {
    json!({
        "name": status.name,
        "connector": Value::Object(status_json(&status.connector)),
        "tasks": status.tasks.iter().map(|(i, s)| task_state(*i, s)).collect::<Vec<_>>(),
        "type": status.connector_type.rest_name(),
    })
}

/// `[{"id":{..},"config":{..}}]`.
pub fn tasks(name: &str, configs: &[(u32, Props)]) -> Value {
    Value::Array(
        configs
            .iter()
            .map(|(i, c)| json!({"id": TaskRef { connector: name, task: *i }, "config": c}))
            .collect(),
    )
}

/// ConfigKeyInfo JSON: one setting's definition.
pub fn config_key(d: &sluice_api::ConfigKey) -> Value {
    json!({
        "name": d.name,
        "type": d.config_type.name(),
        "required": d.is_required(),
        "default_value": match &d.default {
            sluice_api::DefaultValue::Value(v) => Value::String(v.clone()),
            _ => Value::Null,
        },
        "importance": d.importance.name(),
        "documentation": d.documentation,
        "group": d.group,
        "order": d.order_in_group,
        "width": d.width.name(),
        "display_name": d.display_name.clone().unwrap_or_else(|| d.name.clone()),
        "dependents": d.dependents,
    })
}

/// ConfigInfos JSON of a validation.
pub fn config_infos(report: &ValidationReport) -> Value {
    let configs: Vec<Value> = report
        .configs
        .iter()
        .map(|c| {
            let definition = c.definition.as_ref().map(config_key);
            json!({
                "definition": definition,
                "value": {
                    "name": c.value.name,
                    "value": c.value.value,
                    "recommended_values": c.value.recommended_values,
                    "errors": c.value.errors,
                    "visible": c.value.visible,
                }
            })
        })
        .collect();
    json!({
        "name": report.connector_class,
        "error_count": report.error_count(),
        "groups": report.groups,
        "configs": configs,
    })
}

/// Converts a JSON config object to string properties: numbers and booleans become their text
/// (connector JSON written for Java often has `"tasks.max": 1`), `null` is refused.
pub fn props_from_json(value: &Value) -> Result<Props, String> {
    let Value::Object(map) = value else {
        return Err("The connector config must be a JSON object".into());
    };
    let mut props = Props::new();
    for (k, v) in map {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => {
                return Err(format!(
                    "Config value for '{k}' is null; use a string value"
                ));
            }
            other => {
                return Err(format!(
                    "Config value for '{k}' must be a string, number or boolean, not {other}"
                ));
            }
        };
        props.insert(k.clone(), s);
    }
    Ok(props)
}
