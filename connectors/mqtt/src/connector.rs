//! The connector: validates the settings and spreads topic filters across tasks.

use sluice_api::{
    ConfigDef, ConfigValue, Connector, ConnectorContext, Props, Result, SourceConnector,
    async_trait,
};

use crate::config::{self, MqttSettings};

/// Splits topic filters over at most `max_tasks` tasks: plain filters in contiguous groups
/// (sizes differ by at most one, like Kafka's `ConnectorUtils.groupPartitions`), never more tasks
/// than plain filters; `$share/` filters go to every task, so a shared group can use all of them.
pub fn assign_filters(filters: &[String], max_tasks: usize) -> Vec<Vec<String>> {
    let max_tasks = max_tasks.max(1);
    let (shared, plain): (Vec<&String>, Vec<&String>) =
        filters.iter().partition(|f| f.starts_with("$share/"));
    let tasks = if shared.is_empty() {
        plain.len().min(max_tasks)
    } else {
        max_tasks
    };
    let mut groups = vec![Vec::new(); tasks];
    if tasks == 0 {
        return groups;
    }
    let per_task = plain.len() / tasks;
    let extra = plain.len() % tasks;
    let mut next = plain.into_iter();
    for (index, group) in groups.iter_mut().enumerate() {
        let size = per_task + usize::from(index < extra);
        group.extend(next.by_ref().take(size).cloned());
        group.extend(shared.iter().map(|f| (*f).clone()));
    }
    groups
}

/// `io.confluent.connect.mqtt.MqttSourceConnector`.
#[derive(Debug, Default)]
pub struct MqttSourceConnector {
    props: Props,
}

impl MqttSourceConnector {
    /// A connector that has not been started.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl Connector for MqttSourceConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    /// Checks each key, then, with a TLS broker URI, that the trust and key stores can be opened
    /// (file readable, PEM or PKCS#12, right password), reporting a failure on the path's key.
    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        let mut values = self.config_def().validate(props);
        if values.iter().any(|v| !v.errors.is_empty()) {
            return values;
        }
        let Ok(settings) = MqttSettings::parse(props) else {
            return values;
        };
        // The stores are only read for ssl:// brokers.
        if !settings.brokers.iter().any(|b| b.tls) {
            return values;
        }
        for (key, store) in [
            (config::TRUST_STORE_PATH, settings.trust_store_file()),
            (config::KEY_STORE_PATH, settings.key_store_file()),
        ] {
            let Some(store) = store else { continue };
            let checked = match key {
                config::TRUST_STORE_PATH => crate::tls::check_stores(Some(store), None),
                _ => crate::tls::check_stores(None, Some(store)),
            };
            if let Err(e) = checked
                && let Some(value) = values.iter_mut().find(|v| v.name == key)
            {
                value.errors.push(format!(
                    "Invalid value {} for configuration {key}: {e}",
                    store.path
                ));
            }
        }
        values
    }

    async fn start(&mut self, props: Props, _context: ConnectorContext) -> Result<()> {
        MqttSettings::parse(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        let settings = MqttSettings::parse(&self.props)?;
        Ok(assign_filters(&settings.topics, max_tasks)
            .into_iter()
            .map(|filters| {
                let mut props = self.props.clone();
                props.insert(config::TOPICS.to_owned(), filters.join(","));
                props
            })
            .collect())
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SourceConnector for MqttSourceConnector {}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn one_filter_means_one_task() {
        assert_eq!(assign_filters(&list(&["#"]), 4), vec![list(&["#"])]);
    }

    #[test]
    fn filters_are_grouped_contiguously() {
        let groups = assign_filters(&list(&["a", "b", "c", "d", "e"]), 2);
        assert_eq!(groups, vec![list(&["a", "b", "c"]), list(&["d", "e"])]);
        let groups = assign_filters(&list(&["a", "b", "c"]), 3);
        assert_eq!(groups, vec![list(&["a"]), list(&["b"]), list(&["c"])]);
    }

    #[test]
    fn shared_filters_run_on_every_task() {
        let groups = assign_filters(&list(&["$share/g/x/#", "a", "b"]), 3);
        assert_eq!(
            groups,
            vec![
                list(&["a", "$share/g/x/#"]),
                list(&["b", "$share/g/x/#"]),
                list(&["$share/g/x/#"]),
            ]
        );
    }

    #[test]
    fn every_plain_filter_is_assigned_exactly_once() {
        let filters: Vec<String> = (0..17).map(|i| format!("t/{i}")).collect();
        for max in 1..20 {
            let groups = assign_filters(&filters, max);
            assert_eq!(groups.len(), max.min(17));
            let flat: Vec<String> = groups.concat();
            assert_eq!(flat, filters);
        }
    }
}
