//! Creating the topics a source connector writes to (KIP-158), when the worker allows it
//! (`topic.creation.enable`, default true) and the connector asks for it with
//! `topic.creation.default.replication.factor` and `topic.creation.default.partitions`.
//!
//! Groups refine the default: `topic.creation.groups=g1,g2`, each with `include`/`exclude` regex
//! lists and its own `replication.factor`, `partitions` and topic settings (any other key, e.g.
//! `topic.creation.g1.cleanup.policy=compact`). The first group whose `include` matches (and whose
//! `exclude` does not) wins; otherwise the default group applies. A topic that exists is left as
//! it is.

use std::collections::HashSet;
use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::types::RDKafkaErrorCode;
use regex::Regex;
use sluice_api::config::strip_prefix;
use sluice_api::{ConnectError, Props};

const PREFIX: &str = "topic.creation.";
/// Keys of a group that are not topic settings.
const GROUP_KEYS: &[&str] = &["include", "exclude", "replication.factor", "partitions"];

/// How to create topics of one group.
#[derive(Debug, Clone)]
struct Group {
    name: String,
    include: Vec<Regex>,
    exclude: Vec<Regex>,
    /// -1: the broker's default.
    replication_factor: i32,
    /// -1: the broker's default.
    partitions: i32,
    settings: Vec<(String, String)>,
}

impl Group {
    fn matches(&self, topic: &str) -> bool {
        // The regexes are anchored like Java's Matcher.matches.
        self.include.iter().any(|r| r.is_match(topic))
            && !self.exclude.iter().any(|r| r.is_match(topic))
    }
}

fn regex_list(props: &Props, key: &str) -> Result<Vec<Regex>, ConnectError> {
    crate::connector_config::list(props, key)
        .iter()
        .map(|r| {
            Regex::new(&format!("^(?:{r})$")).map_err(|e| {
                ConnectError::config(format!("Invalid value {r} for configuration {key}: {e}"))
            })
        })
        .collect()
}

fn number(props: &Props, key: &str, required: bool) -> Result<Option<i32>, ConnectError> {
    match props.get(key).map(|v| v.trim()) {
        None | Some("") if required => Err(ConnectError::config(format!(
            "Missing required configuration \"{key}\" which has no default value."
        ))),
        None | Some("") => Ok(None),
        Some(v) => match v.parse::<i32>() {
            Ok(n) if n == -1 || n >= 1 => Ok(Some(n)),
            _ => Err(ConnectError::config(format!(
                "Invalid value {v} for configuration {key}: must be -1 (the broker's default) or at least 1"
            ))),
        },
    }
}

fn group(props: &Props, name: &str, default: Option<&Group>) -> Result<Group, ConnectError> {
    let prefix = format!("{PREFIX}{name}.");
    let own = strip_prefix(props, &prefix);
    let is_default = default.is_none();
    let replication_factor = number(props, &format!("{prefix}replication.factor"), is_default)?
        .or(default.map(|d| d.replication_factor))
        .unwrap_or(-1);
    let partitions = number(props, &format!("{prefix}partitions"), is_default)?
        .or(default.map(|d| d.partitions))
        .unwrap_or(-1);
    let mut settings: Vec<(String, String)> =
        default.map(|d| d.settings.clone()).unwrap_or_default();
    for (k, v) in own
        .iter()
        .filter(|(k, _)| !GROUP_KEYS.contains(&k.as_str()))
    {
        settings.retain(|(existing, _)| existing != k);
        settings.push((k.clone(), v.clone()));
    }
    Ok(Group {
        name: name.to_owned(),
        include: if is_default {
            vec![Regex::new(".*").map_err(|e| ConnectError::config(e.to_string()))?]
        } else {
            regex_list(props, &format!("{prefix}include"))?
        },
        exclude: regex_list(props, &format!("{prefix}exclude"))?,
        replication_factor,
        partitions,
        settings,
    })
}

/// Checks a connector's topic creation settings without connecting to Kafka.
pub fn check(connector: &Props) -> Result<(), ConnectError> {
    if !requested(connector) {
        return Ok(());
    }
    let default = group(connector, "default", None)?;
    for g in crate::connector_config::list(connector, "topic.creation.groups") {
        group(connector, &g, Some(&default))?;
    }
    Ok(())
}

/// Whether a connector config asks for topic creation at all.
pub fn requested(connector: &Props) -> bool {
    connector.keys().any(|k| k.starts_with(PREFIX))
}

/// Creates missing topics for one source task.
pub struct TopicCreator {
    admin: AdminClient<DefaultClientContext>,
    groups: Vec<Group>,
    default: Group,
    done: HashSet<String>,
}

impl TopicCreator {
    /// A creator for a connector, or `None` when topic creation is off (worker) or not asked for
    /// (connector). Bad settings are config errors.
    pub fn new(
        worker: &Props,
        enabled: bool,
        connector: &Props,
    ) -> Result<Option<Self>, ConnectError> {
        if !enabled || !requested(connector) {
            return Ok(None);
        }
        let default = group(connector, "default", None)?;
        let groups = crate::connector_config::list(connector, "topic.creation.groups")
            .iter()
            .filter(|g| g.as_str() != "default")
            .map(|g| group(connector, g, Some(&default)))
            .collect::<Result<Vec<_>, _>>()?;
        let admin = super::kafka::client_config(&super::kafka::admin_props(worker, connector))
            .create()
            .map_err(|e| ConnectError::config(format!("Could not create an admin client: {e}")))?;
        Ok(Some(Self {
            admin,
            groups,
            default,
            done: HashSet::new(),
        }))
    }

    fn group_for(&self, topic: &str) -> &Group {
        self.groups
            .iter()
            .find(|g| g.matches(topic))
            .unwrap_or(&self.default)
    }

    /// Makes sure `topic` exists (once per topic and task).
    pub async fn ensure(&mut self, topic: &str) -> Result<(), ConnectError> {
        if self.done.contains(topic) {
            return Ok(());
        }
        let group = self.group_for(topic).clone();
        let replication = TopicReplication::Fixed(group.replication_factor);
        let mut new_topic = NewTopic::new(topic, group.partitions, replication);
        for (k, v) in &group.settings {
            new_topic = new_topic.set(k, v);
        }
        let options = AdminOptions::new().request_timeout(Some(Duration::from_secs(30)));
        let results = self
            .admin
            .create_topics([&new_topic], &options)
            .await
            .map_err(|e| ConnectError::retriable(format!("Could not create topic {topic}: {e}")))?;
        for result in results {
            match result {
                Ok(_) => {
                    tracing::info!(topic, group = %group.name, partitions = group.partitions, replication_factor = group.replication_factor, "created topic")
                }
                Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
                Err((t, code)) => {
                    return Err(ConnectError::connect(format!(
                        "Could not create topic {t} (topic.creation group {}): {code}",
                        group.name
                    )));
                }
            }
        }
        self.done.insert(topic.to_owned());
        Ok(())
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
    fn groups_refine_the_default() {
        let p = props(&[
            ("topic.creation.default.replication.factor", "1"),
            ("topic.creation.default.partitions", "3"),
            ("topic.creation.default.cleanup.policy", "delete"),
            ("topic.creation.groups", "compacted"),
            ("topic.creation.compacted.include", "state-.*, config"),
            ("topic.creation.compacted.exclude", "state-tmp"),
            ("topic.creation.compacted.partitions", "1"),
            ("topic.creation.compacted.cleanup.policy", "compact"),
        ]);
        let default = group(&p, "default", None).unwrap();
        let compacted = group(&p, "compacted", Some(&default)).unwrap();
        assert!(compacted.matches("state-a") && compacted.matches("config"));
        assert!(!compacted.matches("state-tmp") && !compacted.matches("configs"));
        assert_eq!((compacted.partitions, compacted.replication_factor), (1, 1));
        assert_eq!(
            compacted.settings,
            vec![("cleanup.policy".to_owned(), "compact".to_owned())]
        );
        assert_eq!(default.partitions, 3);
    }

    #[test]
    fn the_default_group_needs_both_numbers() {
        let p = props(&[("topic.creation.default.partitions", "3")]);
        let err = group(&p, "default", None)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            err.contains("topic.creation.default.replication.factor"),
            "{err}"
        );
        let p = props(&[
            ("topic.creation.default.partitions", "0"),
            ("topic.creation.default.replication.factor", "1"),
        ]);
        assert!(group(&p, "default", None).is_err());
        assert!(!requested(&props(&[("topic", "x")])));
    }
}
