//! Connectors: the plugin instance that splits a job into task configurations.

use std::sync::Arc;

use async_trait::async_trait;

use crate::config::{ConfigDef, ConfigValue, Props};
use crate::error::Result;

/// What a running connector may ask of the worker.
#[derive(Clone)]
pub struct ConnectorContext {
    requests: Arc<dyn ConnectorRequests>,
}

/// The worker side of a [`ConnectorContext`]; implemented by the runtime.
pub trait ConnectorRequests: Send + Sync {
    /// The connector's inputs changed: call `task_configs` again and restart tasks if they differ.
    fn request_task_reconfiguration(&self);
    /// The connector failed in the background; the worker marks it FAILED with this message.
    fn raise_error(&self, message: String);
}

impl ConnectorContext {
    /// Wraps the runtime's handler.
    pub fn new(requests: Arc<dyn ConnectorRequests>) -> Self {
        Self { requests }
    }

    /// Asks the worker to regenerate task configs.
    pub fn request_task_reconfiguration(&self) {
        self.requests.request_task_reconfiguration();
    }

    /// Reports a background failure; the connector becomes FAILED.
    pub fn raise_error(&self, message: impl Into<String>) {
        self.requests.raise_error(message.into());
    }
}

/// A connector: validates its settings, and divides the work into at most `max_tasks` task
/// configurations. Resolved secrets may be in `props`; a connector must not log them.
#[async_trait]
pub trait Connector: Send {
    /// The plugin version reported by REST.
    fn version(&self) -> String;

    /// The connector's own settings (the framework adds the common ones).
    fn config_def(&self) -> ConfigDef;

    /// Checks a configuration; the default checks each key against [`Connector::config_def`].
    /// Override to add checks that span several keys.
    fn validate(&self, props: &Props) -> Vec<ConfigValue> {
        self.config_def().validate(props)
    }

    /// Starts the connector with its resolved configuration.
    async fn start(&mut self, props: Props, context: ConnectorContext) -> Result<()>;

    /// Divides the work into at most `max_tasks` task configurations.
    fn task_configs(&self, max_tasks: usize) -> Result<Vec<Props>>;

    /// Stops the connector and releases what it holds.
    async fn stop(&mut self) -> Result<()>;
}

/// A connector whose tasks read from an external system into Kafka.
pub trait SourceConnector: Connector {}

/// A connector whose tasks write from Kafka to an external system.
pub trait SinkConnector: Connector {}
