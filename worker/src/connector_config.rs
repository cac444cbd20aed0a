//! The settings the framework reads from every connector config (Kafka's `ConnectorConfig`,
//! `SinkConnectorConfig`, `SourceConnectorConfig`), and whole-config validation: framework keys,
//! the connector's own keys, converters, transforms and predicates.

use regex::Regex;
use sluice_api::config::strip_prefix;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConfigValue, DefaultValue, Importance, PluginType, Props,
    Validator, Width,
};

use crate::plugins::PluginRegistry;

/// Group names shown by the validate call, in Kafka's order.
pub const COMMON_GROUP: &str = "Common";
/// Transforms group.
pub const TRANSFORMS_GROUP: &str = "Transforms";
/// Predicates group.
pub const PREDICATES_GROUP: &str = "Predicates";
/// Error handling group.
pub const ERROR_GROUP: &str = "Error Handling";

// Mirrors the positional form of Kafka's ConfigDef.define, so the table below reads like Kafka's.
#[allow(clippy::too_many_arguments)]
fn key(
    name: &str,
    t: ConfigType,
    default: DefaultValue,
    importance: Importance,
    doc: &str,
    group: &str,
    order: i32,
    display: &str,
) -> ConfigKey {
    ConfigKey::new(name, t, default, importance, doc).in_group(group, order, Width::Medium, display)
}

fn value(v: &str) -> DefaultValue {
    DefaultValue::Value(v.to_owned())
}

/// Keys every connector has.
pub fn common_config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    let g = COMMON_GROUP;
    ConfigDef::new()
        .define(
            key("name", String, DefaultValue::Required, High, "Globally unique name to use for this connector.", g, 1, "Connector name")
                .validator(Validator::NonEmptyString),
        )
        .define(key("connector.class", String, DefaultValue::Required, High, "Name or alias of the class for this connector.", g, 2, "Connector class"))
        .define(
            key("tasks.max", Int, value("1"), High, "Maximum number of tasks to use for this connector.", g, 3, "Tasks max")
                .validator(Validator::at_least(1.0)),
        )
        .define(key("tasks.max.enforce", Boolean, value("true"), Low, "Whether to fail tasks when a connector generates more task configs than tasks.max.", g, 4, "Enforce tasks max"))
        .define(key("key.converter", Class, DefaultValue::Null, Low, "Converter class for record keys; overrides the worker's.", g, 5, "Key converter class"))
        .define(key("value.converter", Class, DefaultValue::Null, Low, "Converter class for record values; overrides the worker's.", g, 6, "Value converter class"))
        .define(key("header.converter", Class, DefaultValue::Null, Low, "Converter class for header values; overrides the worker's.", g, 7, "Header converter class"))
        .define(
            key("config.action.reload", String, value("restart"), Low, "What to do when a config provider says a value changed: restart or none.", g, 8, "Reload action")
                .validator(Validator::one_of_ignore_case(&["none", "restart"])),
        )
        .define(key("transforms", List, value(""), Low, "Aliases for the transformations to be applied to records.", TRANSFORMS_GROUP, 1, "Transforms"))
        .define(key("predicates", List, value(""), Low, "Aliases for the predicates used by transformations.", PREDICATES_GROUP, 1, "Predicates"))
        .define(
            key("errors.retry.timeout", Long, value("0"), Medium, "Maximum duration in milliseconds that a failed operation will be reattempted; -1 retries forever.", ERROR_GROUP, 1, "Retry Timeout for Errors")
                .validator(Validator::at_least(-1.0)),
        )
        .define(
            key("errors.retry.delay.max.ms", Long, value("60000"), Medium, "Maximum delay in milliseconds between consecutive retry attempts.", ERROR_GROUP, 2, "Maximum Delay Between Retries for Errors")
                .validator(Validator::at_least(0.0)),
        )
        .define(
            key("errors.tolerance", String, value("none"), Medium, "none fails the task on the first error; all skips problematic records.", ERROR_GROUP, 3, "Error Tolerance")
                .validator(Validator::one_of_ignore_case(&["none", "all"])),
        )
        .define(key("errors.log.enable", Boolean, value("false"), Medium, "Log each error with the failed operation and record.", ERROR_GROUP, 4, "Log Errors"))
        .define(key("errors.log.include.messages", Boolean, value("false"), Medium, "Include the record's topic, partition, offset and timestamp in error logs.", ERROR_GROUP, 5, "Log Error Details"))
}

/// Keys of sink connectors on top of the common ones.
pub fn sink_config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    common_config_def()
        .define(key(
            "topics",
            List,
            value(""),
            High,
            "List of topics to consume, separated by commas.",
            COMMON_GROUP,
            4,
            "Topics",
        ))
        .define(key(
            "topics.regex",
            String,
            value(""),
            High,
            "Regular expression giving topics to consume.",
            COMMON_GROUP,
            4,
            "Topics regex",
        ))
        .define(key(
            "errors.deadletterqueue.topic.name",
            String,
            value(""),
            Medium,
            "Topic to write records that failed conversion or transformation to.",
            ERROR_GROUP,
            6,
            "Dead Letter Queue Topic Name",
        ))
        .define(key(
            "errors.deadletterqueue.topic.replication.factor",
            Short,
            value("3"),
            Medium,
            "Replication factor of the dead letter queue topic when it is created.",
            ERROR_GROUP,
            7,
            "Dead Letter Queue Topic Replication Factor",
        ))
        .define(key(
            "errors.deadletterqueue.context.headers.enable",
            Boolean,
            value("false"),
            Medium,
            "Add __connect.errors.* headers describing the error to dead letter queue records.",
            ERROR_GROUP,
            8,
            "Enable Error Context Headers",
        ))
}

/// Keys of source connectors on top of the common ones.
pub fn source_config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    common_config_def()
        .define(
            key(
                "exactly.once.support",
                String,
                value("requested"),
                Medium,
                "Whether the connector must support exactly-once delivery (distributed mode).",
                COMMON_GROUP,
                9,
                "Exactly once support",
            )
            .validator(Validator::one_of_ignore_case(&["requested", "required"])),
        )
        .define(key(
            "offsets.storage.topic",
            String,
            DefaultValue::Null,
            Low,
            "A connector-specific offsets topic (distributed mode).",
            COMMON_GROUP,
            10,
            "Offsets topic",
        ))
}

/// One entry of a validation answer: the key's definition (`None` for keys nothing defines) and
/// its checked value.
#[derive(Debug, Clone)]
pub struct ValidatedKey {
    /// Definition, when the framework or a plugin defines the key.
    pub definition: Option<ConfigKey>,
    /// Value and errors.
    pub value: ConfigValue,
}

/// The answer to validating a whole connector config (REST `ConfigInfos`).
#[derive(Debug, Clone)]
pub struct ValidationReport {
    /// The connector class as given.
    pub connector_class: String,
    /// Whether the connector is a source or a sink.
    pub plugin_type: PluginType,
    /// Groups in display order.
    pub groups: Vec<String>,
    /// One entry per key.
    pub configs: Vec<ValidatedKey>,
}

impl ValidationReport {
    /// Number of error messages.
    pub fn error_count(&self) -> usize {
        self.configs.iter().map(|c| c.value.errors.len()).sum()
    }

    /// Every error message, prefixed by its key.
    pub fn error_messages(&self) -> Vec<String> {
        self.configs
            .iter()
            .flat_map(|c| {
                c.value
                    .errors
                    .iter()
                    .map(move |e| format!("{}: {e}", c.value.name))
            })
            .collect()
    }
}

/// Why a config could not be validated at all.
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    /// `connector.class` is absent.
    #[error("Connector config {0} contains no connector type")]
    NoConnectorClass(String),
    /// No connector plugin has that name.
    #[error("{0}")]
    UnknownConnector(String),
}

fn push_error(values: &mut [ValidatedKey], name: &str, message: String) {
    if let Some(v) = values.iter_mut().find(|v| v.value.name == name) {
        v.value.errors.push(message);
    }
}

/// Validates a connector config: `shown` is what the user wrote (values are reported from it),
/// `resolved` the same with config-provider references resolved (values are checked on it).
pub fn validate(
    registry: &PluginRegistry,
    shown: &Props,
    resolved: &Props,
) -> Result<ValidationReport, ValidationError> {
    let class = resolved
        .get("connector.class")
        .map(|c| c.trim().to_owned())
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ValidationError::NoConnectorClass(format!(
                "with keys {:?}",
                shown.keys().collect::<Vec<_>>()
            ))
        })?;
    let plugin = registry
        .connector(&class)
        .map_err(|e| ValidationError::UnknownConnector(e.to_string()))?;
    let (framework_def, connector_def, connector_values, plugin_type) = match plugin.factory {
        sluice_api::PluginFactory::Source { connector, .. } => {
            let c = connector();
            (
                source_config_def(),
                c.config_def(),
                c.validate(resolved),
                PluginType::Source,
            )
        }
        sluice_api::PluginFactory::Sink { connector, .. } => {
            let c = connector();
            (
                sink_config_def(),
                c.config_def(),
                c.validate(resolved),
                PluginType::Sink,
            )
        }
        _ => unreachable!("the registry only returns connectors here"),
    };

    let mut def = framework_def.clone();
    let mut values: Vec<ValidatedKey> = framework_def
        .validate(resolved)
        .into_iter()
        .map(|value| ValidatedKey {
            definition: framework_def.get(&value.name).cloned(),
            value,
        })
        .collect();
    for value in connector_values {
        if values.iter().any(|v| v.value.name == value.name) {
            continue;
        }
        values.push(ValidatedKey {
            definition: connector_def.get(&value.name).cloned(),
            value,
        });
    }
    def = def.merge(&connector_def);

    if plugin_type == PluginType::Sink {
        validate_sink_topics(resolved, &mut values);
    } else if let Err(e) = crate::runtime::topic_creation::check(resolved) {
        values.push(ValidatedKey {
            definition: None,
            value: ConfigValue {
                name: "topic.creation.default.replication.factor".into(),
                value: resolved
                    .get("topic.creation.default.replication.factor")
                    .cloned(),
                recommended_values: Vec::new(),
                errors: vec![e.to_string()],
                visible: true,
            },
        });
    }
    validate_plugins(registry, resolved, &mut values);
    validate_transforms(registry, resolved, &mut def, &mut values);

    // Report what the user wrote (placeholders, not secrets) and hide passwords.
    for v in &mut values {
        let is_password = v
            .definition
            .as_ref()
            .is_some_and(|d| d.config_type == ConfigType::Password);
        if is_password {
            if v.value.value.is_some() {
                v.value.value = Some(sluice_api::config::HIDDEN.to_owned());
            }
        } else if let Some(raw) = shown.get(&v.value.name) {
            v.value.value = Some(raw.clone());
        }
    }
    // Keys nothing defines are listed with no definition, as Kafka does.
    for (k, raw) in shown {
        if !values.iter().any(|v| &v.value.name == k) && def.get(k).is_none() {
            values.push(ValidatedKey {
                definition: None,
                value: ConfigValue {
                    name: k.clone(),
                    value: Some(raw.clone()),
                    recommended_values: Vec::new(),
                    errors: Vec::new(),
                    visible: true,
                },
            });
        }
    }
    let mut groups = vec![
        COMMON_GROUP.to_owned(),
        TRANSFORMS_GROUP.to_owned(),
        PREDICATES_GROUP.to_owned(),
        ERROR_GROUP.to_owned(),
    ];
    for g in def.groups() {
        if !groups.contains(&g) {
            groups.push(g);
        }
    }
    Ok(ValidationReport {
        connector_class: class,
        plugin_type,
        groups,
        configs: values,
    })
}

fn validate_sink_topics(props: &Props, values: &mut [ValidatedKey]) {
    let topics: Vec<&str> = props
        .get("topics")
        .map(|t| {
            t.split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let regex = props
        .get("topics.regex")
        .map(|r| r.trim())
        .filter(|r| !r.is_empty());
    match (topics.is_empty(), regex) {
        (true, None) => {
            let msg = "Must configure one of topics or topics.regex".to_owned();
            push_error(values, "topics", msg.clone());
            push_error(values, "topics.regex", msg);
        }
        (false, Some(_)) => {
            let msg = "topics and topics.regex are mutually exclusive options, but both are set."
                .to_owned();
            push_error(values, "topics", msg.clone());
            push_error(values, "topics.regex", msg);
        }
        (true, Some(r)) => {
            if let Err(e) = Regex::new(r) {
                push_error(values, "topics.regex", format!("Invalid regex: {e}"));
            }
        }
        (false, None) => {}
    }
    if let Some(dlq) = props
        .get("errors.deadletterqueue.topic.name")
        .map(|d| d.trim())
        .filter(|d| !d.is_empty())
        && topics.contains(&dlq)
    {
        push_error(
            values,
            "errors.deadletterqueue.topic.name",
            format!(
                "The DLQ topic '{dlq}' may not be included in the list of topics ('topics=...') consumed by the connector"
            ),
        );
    }
}

fn validate_plugins(registry: &PluginRegistry, props: &Props, values: &mut [ValidatedKey]) {
    for k in ["key.converter", "value.converter"] {
        if let Some(class) = props.get(k).filter(|c| !c.trim().is_empty()) {
            match registry.converter(class) {
                Ok(mut c) => {
                    let is_key = k == "key.converter";
                    if let Err(e) = c.configure(&strip_prefix(props, &format!("{k}.")), is_key) {
                        push_error(values, k, e.to_string());
                    }
                }
                Err(e) => push_error(values, k, e.to_string()),
            }
        }
    }
    if let Some(class) = props
        .get("header.converter")
        .filter(|c| !c.trim().is_empty())
    {
        match registry.header_converter(class) {
            Ok(mut c) => {
                if let Err(e) = c.configure(&strip_prefix(props, "header.converter.")) {
                    push_error(values, "header.converter", e.to_string());
                }
            }
            Err(e) => push_error(values, "header.converter", e.to_string()),
        }
    }
}

/// The items of a comma-separated setting, trimmed, empty items dropped.
pub(crate) fn list(props: &Props, key: &str) -> Vec<String> {
    props
        .get(key)
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

fn add_value(values: &mut Vec<ValidatedKey>, def: &ConfigKey, props: &Props, errors: Vec<String>) {
    values.push(ValidatedKey {
        definition: Some(def.clone()),
        value: ConfigValue {
            name: def.name.clone(),
            value: props.get(&def.name).cloned(),
            recommended_values: Vec::new(),
            errors,
            visible: true,
        },
    });
}

fn validate_transforms(
    registry: &PluginRegistry,
    props: &Props,
    def: &mut ConfigDef,
    values: &mut Vec<ValidatedKey>,
) {
    let predicates = list(props, "predicates");
    for alias in list(props, "transforms") {
        let prefix = format!("transforms.{alias}.");
        let type_key = ConfigKey::new(
            format!("{prefix}type"),
            ConfigType::Class,
            DefaultValue::Required,
            Importance::High,
            "Class for the transformation.",
        )
        .in_group(
            format!("Transforms: {alias}"),
            0,
            Width::Long,
            "Transformation type for {alias}",
        );
        let mut errors = Vec::new();
        match props.get(&type_key.name) {
            None => errors.push(format!(
                "Missing required configuration \"{}\" which has no default value.",
                type_key.name
            )),
            Some(class) => match registry.transform(class) {
                Ok(mut t) => {
                    let own = strip_prefix(props, &prefix);
                    for v in t.config_def().validate(&own) {
                        let name = format!("{prefix}{}", v.name);
                        let mut k = t.config_def().get(&v.name).cloned().unwrap_or_else(|| {
                            ConfigKey::new(
                                &name,
                                ConfigType::String,
                                DefaultValue::Null,
                                Importance::Low,
                                "",
                            )
                        });
                        k.name = name.clone();
                        k.group = Some(format!("Transforms: {alias}"));
                        values.push(ValidatedKey {
                            definition: Some(k.clone()),
                            value: ConfigValue { name, ..v },
                        });
                        *def = std::mem::take(def).define(k);
                    }
                    if let Err(e) = t.configure(&own) {
                        errors.push(e.to_string());
                    }
                }
                Err(e) => errors.push(e.to_string()),
            },
        }
        add_value(values, &type_key, props, errors);
        *def = std::mem::take(def).define(type_key);
        if let Some(p) = props.get(&format!("{prefix}predicate")) {
            let pk = ConfigKey::new(
                format!("{prefix}predicate"),
                ConfigType::String,
                DefaultValue::Null,
                Importance::Medium,
                "The alias of a predicate used to determine whether to apply this transformation.",
            );
            let errors = if predicates.iter().any(|q| q == p.trim()) {
                Vec::new()
            } else {
                vec![format!(
                    "Predicate '{}' is not defined in 'predicates'",
                    p.trim()
                )]
            };
            add_value(values, &pk, props, errors);
            *def = std::mem::take(def).define(pk);
        }
    }
    for alias in predicates {
        let prefix = format!("predicates.{alias}.");
        let type_key = ConfigKey::new(
            format!("{prefix}type"),
            ConfigType::Class,
            DefaultValue::Required,
            Importance::High,
            "Class for the predicate.",
        )
        .in_group(
            format!("Predicates: {alias}"),
            0,
            Width::Long,
            "Predicate type for {alias}",
        );
        let mut errors = Vec::new();
        match props.get(&type_key.name) {
            None => errors.push(format!(
                "Missing required configuration \"{}\" which has no default value.",
                type_key.name
            )),
            Some(class) => match registry.predicate(class) {
                Ok(mut p) => {
                    if let Err(e) = p.configure(&strip_prefix(props, &prefix)) {
                        errors.push(e.to_string());
                    }
                }
                Err(e) => errors.push(e.to_string()),
            },
        }
        add_value(values, &type_key, props, errors);
        *def = std::mem::take(def).define(type_key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn sink_needs_topics() {
        let r = PluginRegistry::builtin();
        let p = props(&[("name", "s"), ("connector.class", "FileStreamSink")]);
        let report = validate(&r, &p, &p).unwrap();
        assert_eq!(report.plugin_type, PluginType::Sink);
        assert_eq!(report.error_count(), 2, "{:?}", report.error_messages());
        assert!(
            report.error_messages()[0].contains("Must configure one of topics or topics.regex")
        );
    }

    #[test]
    fn unknown_transform_and_bad_tasks_max_are_errors() {
        let r = PluginRegistry::builtin();
        let p = props(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("topics", "t"),
            ("tasks.max", "zero"),
            ("transforms", "x"),
            ("transforms.x.type", "com.example.Nope"),
        ]);
        let report = validate(&r, &p, &p).unwrap();
        let errors = report.error_messages().join("\n");
        assert!(errors.contains("tasks.max"), "{errors}");
        assert!(
            errors.contains("transforms.x.type") && errors.contains("com.example.Nope"),
            "{errors}"
        );
    }

    #[test]
    fn no_connector_class_is_refused() {
        let r = PluginRegistry::builtin();
        let p = props(&[("name", "s")]);
        assert!(matches!(
            validate(&r, &p, &p),
            Err(ValidationError::NoConnectorClass(_))
        ));
        let p = props(&[("name", "s"), ("connector.class", "com.example.Nope")]);
        assert!(matches!(
            validate(&r, &p, &p),
            Err(ValidationError::UnknownConnector(_))
        ));
    }

    #[test]
    fn unknown_keys_are_listed_without_definition() {
        let r = PluginRegistry::builtin();
        let p = props(&[
            ("name", "s"),
            ("connector.class", "FileStreamSink"),
            ("topics", "t"),
            ("x.custom", "1"),
        ]);
        let report = validate(&r, &p, &p).unwrap();
        let custom = report
            .configs
            .iter()
            .find(|c| c.value.name == "x.custom")
            .unwrap();
        assert!(custom.definition.is_none());
        assert_eq!(report.error_count(), 0, "{:?}", report.error_messages());
    }
}
