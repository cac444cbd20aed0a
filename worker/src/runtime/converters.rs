//! The converters of one task: the connector's choice where it makes one, else the worker's.

use sluice_api::config::strip_prefix;
use sluice_api::{ConnectError, Converter, HeaderConverter, Props};

use crate::plugins::PluginRegistry;

/// Key, value and header converters, configured.
pub struct RecordConverters {
    /// Converts record keys.
    pub key: Box<dyn Converter>,
    /// Converts record values.
    pub value: Box<dyn Converter>,
    /// Converts header values.
    pub header: Box<dyn HeaderConverter>,
}

/// Default header converter, as in Kafka.
pub const DEFAULT_HEADER_CONVERTER: &str = "org.apache.kafka.connect.storage.SimpleHeaderConverter";

/// Picks the class and settings of one converter: a connector that names the converter brings its
/// own `PREFIX.*` settings; otherwise the worker's class and settings apply.
fn choose(key: &str, worker: &Props, connector: &Props) -> Option<(String, Props)> {
    let prefix = format!("{key}.");
    let from = |props: &Props| {
        props
            .get(key)
            .map(|c| c.trim().to_owned())
            .filter(|c| !c.is_empty())
            .map(|c| (c, strip_prefix(props, &prefix)))
    };
    from(connector).or_else(|| from(worker))
}

impl RecordConverters {
    /// Builds and configures the converters for a connector.
    pub fn build(
        registry: &PluginRegistry,
        worker: &Props,
        connector: &Props,
    ) -> Result<Self, ConnectError> {
        let make = |key: &str, is_key: bool| -> Result<Box<dyn Converter>, ConnectError> {
            let (class, mut props) = choose(key, worker, connector).ok_or_else(|| {
                ConnectError::config(format!(
                    "Missing required configuration \"{key}\" which has no default value."
                ))
            })?;
            props.insert(
                "converter.type".into(),
                if is_key { "key" } else { "value" }.into(),
            );
            let mut c = registry.converter(&class).map_err(|e| {
                ConnectError::config(format!(
                    "Invalid value {class} for configuration {key}: {e}"
                ))
            })?;
            c.configure(&props, is_key)?;
            Ok(c)
        };
        let key = make("key.converter", true)?;
        let value = make("value.converter", false)?;
        let (class, mut props) = choose("header.converter", worker, connector)
            .unwrap_or_else(|| (DEFAULT_HEADER_CONVERTER.to_owned(), Props::new()));
        props.insert("converter.type".into(), "header".into());
        let mut header = registry.header_converter(&class).map_err(|e| {
            ConnectError::config(format!(
                "Invalid value {class} for configuration header.converter: {e}"
            ))
        })?;
        header.configure(&props)?;
        Ok(Self { key, value, header })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connector_choice_brings_its_own_settings() {
        let worker: Props = [
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("key.converter.schemas.enable", "false"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let connector: Props = [("key.converter", "StringConverter")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let (class, props) = choose("key.converter", &worker, &connector).unwrap();
        assert_eq!(class, "StringConverter");
        assert!(
            props.is_empty(),
            "worker settings do not leak into the connector's converter"
        );
        let (class, props) = choose("key.converter", &worker, &Props::new()).unwrap();
        assert_eq!(class, "org.apache.kafka.connect.json.JsonConverter");
        assert_eq!(props["schemas.enable"], "false");
    }
}
