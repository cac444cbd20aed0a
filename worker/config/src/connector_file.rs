//! Connector files given to `sluice standalone` (Kafka's `ConnectStandalone`).

use std::path::Path;

use serde_json::{Map, Value};
use sluice_api::Props;

use crate::ConfigError;
use crate::properties::parse_properties;

const NAME: &str = "name";

/// One connector to create at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectorFile {
    /// The connector's name.
    pub name: String,
    /// Its configuration, always including `name`.
    pub config: Props,
    /// `RUNNING`, `PAUSED` or `STOPPED` when the file says so (upper-case); `None` means running.
    pub initial_state: Option<String>,
}

/// Reads a connector file, in any of the forms `connect-standalone` accepts:
///
/// * a JSON object of settings: `{"name": "x", "connector.class": "...", "tasks.max": 1}`;
/// * a JSON create request: `{"name": "x", "config": {...}, "initial_state": "PAUSED"}`;
/// * a Java properties file.
///
/// JSON numbers and booleans become their text (`1` → `"1"`, `false` → `"false"`). `name` is
/// mandatory. In a create request the name may be given at the top, in `config`, or both (then
/// they must match).
pub fn load_connector_file(path: &Path) -> Result<ConnectorFile, ConfigError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|source| ConfigError::Read {
        path: file.clone(),
        source,
    })?;
    let error = |message: String| ConfigError::ConnectorFile {
        path: file.clone(),
        message,
    };
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    if first == Some(b'{') {
        let json: Value =
            serde_json::from_slice(&bytes).map_err(|e| error(format!("not valid JSON: {e}")))?;
        let Value::Object(object) = json else {
            return Err(error("expected a JSON object".to_owned()));
        };
        return from_json(object, &error);
    }
    let config = parse_properties(&bytes, &file)?;
    let name = config
        .get(NAME)
        .filter(|n| !n.trim().is_empty())
        .cloned()
        .ok_or_else(|| missing_name(&error))?;
    Ok(ConnectorFile {
        name,
        config,
        initial_state: None,
    })
}

fn missing_name(error: &dyn Fn(String) -> ConfigError) -> ConfigError {
    error(format!(
        "the connector configuration is missing the mandatory '{NAME}' setting"
    ))
}

fn from_json(
    mut object: Map<String, Value>,
    error: &dyn Fn(String) -> ConfigError,
) -> Result<ConnectorFile, ConfigError> {
    // A create request is recognised by its `config` object; Kafka likewise first tries a flat
    // string map, which fails exactly when `config` holds an object.
    let Some(Value::Object(config)) = object.get("config").cloned() else {
        let config = stringify(object, error)?;
        let name = config
            .get(NAME)
            .filter(|n| !n.trim().is_empty())
            .cloned()
            .ok_or_else(|| missing_name(error))?;
        return Ok(ConnectorFile {
            name,
            config,
            initial_state: None,
        });
    };
    let mut config = stringify(config, error)?;
    let top_name = match object.remove(NAME) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s),
        Some(_) => return Err(error(format!("'{NAME}' must be a non-empty string"))),
    };
    let name = match (top_name, config.get(NAME)) {
        (Some(top), Some(inner)) if &top != inner => {
            return Err(error(format!(
                "the connector name in 'config' ('{inner}') doesn't match the one in '{NAME}' ('{top}')"
            )));
        }
        (Some(top), _) => top,
        (None, Some(inner)) if !inner.trim().is_empty() => inner.clone(),
        (None, _) => return Err(missing_name(error)),
    };
    config.insert(NAME.to_owned(), name.clone());
    let initial_state = match object.remove("initial_state") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            let upper = s.trim().to_ascii_uppercase();
            if !["RUNNING", "PAUSED", "STOPPED"].contains(&upper.as_str()) {
                return Err(error(format!(
                    "unknown initial_state '{s}' (RUNNING, PAUSED or STOPPED)"
                )));
            }
            Some(upper)
        }
        Some(_) => return Err(error("'initial_state' must be a string".to_owned())),
    };
    Ok(ConnectorFile {
        name,
        config,
        initial_state,
    })
}

/// JSON settings as strings: numbers and booleans by their text; nulls, arrays and objects are
/// errors naming the key.
fn stringify(
    object: Map<String, Value>,
    error: &dyn Fn(String) -> ConfigError,
) -> Result<Props, ConfigError> {
    object
        .into_iter()
        .map(|(key, value)| {
            let text = match value {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Null => return Err(error(format!("the value of '{key}' is null"))),
                Value::Array(_) | Value::Object(_) => {
                    return Err(error(format!(
                        "the value of '{key}' must be a string, number or boolean"
                    )));
                }
            };
            Ok((key, text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn flat_json_with_numbers_and_booleans() {
        let dir = tempfile::tempdir().unwrap();
        // The socksort MQTT source as submitted in the talk, plus a name.
        let path = write(
            &dir,
            "mqtt.json",
            r#"{
              "name": "mqtt-source",
              "connector.class" : "io.confluent.connect.mqtt.MqttConnector",
              "mqtt.server.uri" : "tcp://ml234-ml234-ml234-ml234:1883",
              "mqtt.topics" : "owntracks/#",
              "kafka.topic" : "data_mqtt",
              "key.converter" : "org.apache.kafka.connect.storage.StringConverter",
              "value.converter" : "org.apache.kafka.connect.converters.ByteArrayConverter",
              "tasks.max" : 1,
              "ratio": 0.5,
              "confluent.topic.replication.factor" : "1"
            }"#,
        );
        let c = load_connector_file(&path).unwrap();
        assert_eq!(c.name, "mqtt-source");
        assert_eq!(c.config["tasks.max"], "1");
        assert_eq!(c.config["ratio"], "0.5");
        assert_eq!(c.config["mqtt.topics"], "owntracks/#");
        assert_eq!(c.config["name"], "mqtt-source");
        assert_eq!(c.config.len(), 10);
        assert_eq!(c.initial_state, None);
    }

    #[test]
    fn create_request_json_from_socksort() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "es.json",
            r#"{
              "name": "es_sink_jfokus19",
              "config": {
                "connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
                "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": false,
                "topics": "lisa18",
                "key.ignore": "true",
                "schema.ignore": "true",
                "type.name": "type.name=kafkaconnect",
                "connection.url": "http://elasticsearch:9200"
              },
              "initial_state": "paused"
            }"#,
        );
        let c = load_connector_file(&path).unwrap();
        assert_eq!(c.name, "es_sink_jfokus19");
        assert_eq!(c.config["value.converter.schemas.enable"], "false");
        assert_eq!(c.config["type.name"], "type.name=kafkaconnect");
        assert_eq!(c.config["name"], "es_sink_jfokus19");
        assert_eq!(c.initial_state.as_deref(), Some("PAUSED"));
    }

    #[test]
    fn create_request_names_must_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "bad.json",
            r#"{"name": "a", "config": {"name": "b", "connector.class": "X"}}"#,
        );
        let err = load_connector_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("bad.json") && err.contains("doesn't match"),
            "{err}"
        );

        let inner_only = write(&dir, "inner.json", r#"{"config": {"name": "b"}}"#);
        assert_eq!(load_connector_file(&inner_only).unwrap().name, "b");

        let bad_state = write(
            &dir,
            "state.json",
            r#"{"name": "a", "config": {}, "initial_state": "SLEEPING"}"#,
        );
        let err = load_connector_file(&bad_state).unwrap_err().to_string();
        assert!(err.contains("SLEEPING"), "{err}");
    }

    #[test]
    fn properties_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            &dir,
            "file-source.properties",
            "name=local-file-source\nconnector.class=FileStreamSource\ntasks.max=1\nfile=/tmp/test.txt\ntopic=connect-test\n",
        );
        let c = load_connector_file(&path).unwrap();
        assert_eq!(c.name, "local-file-source");
        assert_eq!(c.config["topic"], "connect-test");
        assert_eq!(c.config.len(), 5);
    }

    #[test]
    fn missing_name_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        for (file, text) in [
            ("noname.json", r#"{"connector.class": "X"}"#),
            (
                "noname-request.json",
                r#"{"config": {"connector.class": "X"}}"#,
            ),
            ("noname.properties", "connector.class=X\n"),
        ] {
            let path = write(&dir, file, text);
            let err = load_connector_file(&path).unwrap_err().to_string();
            assert!(err.contains(file) && err.contains("'name'"), "{err}");
        }
    }

    #[test]
    fn bad_json_values_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(&dir, "n.json", r#"{"name": "a", "topics": ["x"]}"#);
        let err = load_connector_file(&path).unwrap_err().to_string();
        assert!(err.contains("'topics'"), "{err}");
        let path = write(&dir, "broken.json", r#"{"name": "a",#}"#);
        let err = load_connector_file(&path).unwrap_err().to_string();
        assert!(err.contains("broken.json: not valid JSON"), "{err}");
    }
}
