//! The transform chain of a connector: `transforms=a,b` applied in order, each optionally guarded
//! by a predicate (`transforms.a.predicate=p`, `transforms.a.negate=true`).

use std::sync::Arc;

use sluice_api::config::strip_prefix;
use sluice_api::{ConnectError, ConnectRecord, Predicate, Props, Transform};

use crate::connector_config::list;
use crate::plugins::PluginRegistry;

struct Step {
    alias: String,
    transform: Box<dyn Transform>,
    predicate: Option<Arc<dyn Predicate>>,
    negate: bool,
}

/// Configured transforms, applied in order.
#[derive(Default)]
pub struct TransformChain {
    steps: Vec<Step>,
}

fn required<'a>(props: &'a Props, key: &str) -> Result<&'a str, ConnectError> {
    props
        .get(key)
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ConnectError::config(format!(
                "Missing required configuration \"{key}\" which has no default value."
            ))
        })
}

/// Settings of a transform or predicate: its prefix removed, and the framework's own keys dropped.
fn plugin_props(props: &Props, prefix: &str) -> Props {
    let mut own = strip_prefix(props, prefix);
    for k in ["type", "predicate", "negate"] {
        own.remove(k);
    }
    own
}

impl TransformChain {
    /// Builds the chain from a (resolved) connector config.
    pub fn build(registry: &PluginRegistry, props: &Props) -> Result<Self, ConnectError> {
        let mut predicates = std::collections::HashMap::new();
        for alias in list(props, "predicates") {
            let prefix = format!("predicates.{alias}.");
            let class = required(props, &format!("{prefix}type"))?;
            let mut p = registry.predicate(class).map_err(|e| {
                ConnectError::config(format!(
                    "Invalid value {class} for configuration {prefix}type: {e}"
                ))
            })?;
            p.configure(&plugin_props(props, &prefix))?;
            predicates.insert(alias, Arc::<dyn Predicate>::from(p));
        }
        let mut steps = Vec::new();
        for alias in list(props, "transforms") {
            let prefix = format!("transforms.{alias}.");
            let class = required(props, &format!("{prefix}type"))?;
            let mut transform = registry.transform(class).map_err(|e| {
                ConnectError::config(format!(
                    "Invalid value {class} for configuration {prefix}type: {e}"
                ))
            })?;
            transform.configure(&plugin_props(props, &prefix))?;
            let predicate = match props.get(&format!("{prefix}predicate")).map(|s| s.trim()) {
                None | Some("") => None,
                Some(name) => Some(predicates.get(name).cloned().ok_or_else(|| {
                    ConnectError::config(format!(
                        "Invalid value {name} for configuration {prefix}predicate: Predicate '{name}' is not defined in 'predicates'"
                    ))
                })?),
            };
            let negate = match props.get(&format!("{prefix}negate")).map(|s| s.trim()) {
                None | Some("") => false,
                Some(v) if v.eq_ignore_ascii_case("true") => true,
                Some(v) if v.eq_ignore_ascii_case("false") => false,
                Some(v) => {
                    return Err(ConnectError::config(format!(
                        "Invalid value {v} for configuration {prefix}negate: Expected value to be either true or false"
                    )));
                }
            };
            if negate && predicate.is_none() {
                return Err(ConnectError::config(format!(
                    "Invalid value true for configuration {prefix}negate: 'negate' requires a 'predicate'"
                )));
            }
            steps.push(Step {
                alias,
                transform,
                predicate,
                negate,
            });
        }
        Ok(Self { steps })
    }

    /// Whether there are no transforms.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Applies every transform whose predicate matches; `Ok(None)` means a transform dropped the
    /// record. Errors name the transform alias.
    pub async fn apply(
        &self,
        mut record: ConnectRecord,
    ) -> Result<Option<ConnectRecord>, ConnectError> {
        for step in &self.steps {
            let applies = step
                .predicate
                .as_ref()
                .is_none_or(|p| p.test(&record) != step.negate);
            if !applies {
                continue;
            }
            match step.transform.apply(record).await {
                Ok(Some(r)) => record = r,
                Ok(None) => return Ok(None),
                Err(e) => {
                    return Err(match e {
                        ConnectError::Retriable(m) => {
                            ConnectError::Retriable(format!("transform {}: {m}", step.alias))
                        }
                        other => ConnectError::Data(format!("transform {}: {other}", step.alias)),
                    });
                }
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::Value;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[tokio::test]
    async fn predicate_and_negate_select_records() {
        let registry = PluginRegistry::builtin();
        let chain = TransformChain::build(
            &registry,
            &props(&[
                ("transforms", "dropOthers"),
                (
                    "transforms.dropOthers.type",
                    "org.apache.kafka.connect.transforms.Filter",
                ),
                ("transforms.dropOthers.predicate", "isKeep"),
                ("transforms.dropOthers.negate", "true"),
                ("predicates", "isKeep"),
                (
                    "predicates.isKeep.type",
                    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
                ),
                ("predicates.isKeep.pattern", "keep-.*"),
            ]),
        )
        .unwrap();
        let kept = chain
            .apply(ConnectRecord::new("keep-1", Value::from("a")))
            .await
            .unwrap();
        assert!(kept.is_some());
        let dropped = chain
            .apply(ConnectRecord::new("other", Value::from("a")))
            .await
            .unwrap();
        assert!(dropped.is_none());
    }

    #[test]
    fn undefined_predicate_is_a_config_error() {
        let registry = PluginRegistry::builtin();
        let err = TransformChain::build(
            &registry,
            &props(&[
                ("transforms", "f"),
                ("transforms.f.type", "Filter"),
                ("transforms.f.predicate", "missing"),
            ]),
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(err.contains("transforms.f.predicate"), "{err}");
    }
}
