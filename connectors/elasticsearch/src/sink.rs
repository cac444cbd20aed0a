//! The connector: validation and task configurations.

use sluice_api::{
    ConfigDef, ConfigValue, Connector, ConnectorContext, Props, Result, SinkConnector, async_trait,
};

use crate::config::{self, EsConfig};

/// `io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`.
#[derive(Default)]
pub struct ElasticsearchSinkConnector {
    props: Props,
}

#[async_trait]
impl Connector for ElasticsearchSinkConnector {
    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_owned()
    }

    fn config_def(&self) -> ConfigDef {
        config::config_def()
    }

    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        config::validate(props)
    }

    async fn start(&mut self, props: Props, _context: ConnectorContext) -> Result<()> {
        config::warn_deprecated(&props);
        EsConfig::parse(&props)?;
        self.props = props;
        Ok(())
    }

    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>> {
        // Every task gets the same settings (the consumer group spreads partitions), plus its
        // number as Confluent's connector adds it.
        Ok((0..max_tasks.max(1))
            .map(|id| {
                let mut props = self.props.clone();
                props.insert("taskId".into(), id.to_string());
                props
            })
            .collect())
    }

    async fn stop(&mut self) -> Result<()> {
        Ok(())
    }
}

impl SinkConnector for ElasticsearchSinkConnector {}
