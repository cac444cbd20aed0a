//! The herder: what the REST API asks of a worker. [`Herder`] is the interface; standalone mode
//! implements it in [`standalone`], and distributed mode will implement it with forwarding to the
//! leader, so REST handlers stay the same.

pub(crate) mod offsets;
pub mod standalone;

use async_trait::async_trait;
use sluice_api::{PluginType, Props, SourceMap};

use crate::connector_config::ValidationReport;
use crate::runtime::Worker;
use crate::status::{Status, TargetState};

pub use standalone::StandaloneHerder;

/// Errors of herder operations, each mapped to an HTTP status by the REST layer.
#[derive(Debug, thiserror::Error)]
pub enum HerderError {
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409.
    #[error("{0}")]
    Conflict(String),
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 500.
    #[error("{0}")]
    Internal(String),
    /// 403 (a bad signature on an internal request).
    #[error("{0}")]
    Forbidden(String),
    /// 503 (e.g. no session key yet).
    #[error("{0}")]
    Unavailable(String),
    /// The request must run on another worker (the leader, or the owner of a connector or task):
    /// its base URL, or `None` when it is not known (a rebalance is under way). The REST layer
    /// forwards the request there (reference §1.4).
    #[error(
        "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."
    )]
    Forward(Option<String>),
}

/// A connector as REST shows it (`ConnectorInfo`).
#[derive(Debug, Clone)]
pub struct ConnectorInfo {
    /// Name.
    pub name: String,
    /// Config as given (unresolved).
    pub config: Props,
    /// Task numbers.
    pub tasks: Vec<u32>,
    /// Source or sink.
    pub connector_type: PluginType,
}

/// A connector's status and its tasks' (`ConnectorStateInfo`).
#[derive(Debug, Clone)]
pub struct ConnectorStatus {
    /// Name.
    pub name: String,
    /// The connector instance's status.
    pub connector: Status,
    /// Task statuses by number.
    pub tasks: Vec<(u32, Status)>,
    /// Source or sink.
    pub connector_type: PluginType,
}

/// One partition's offset of a connector (KIP-875): source partitions and offsets are whatever the
/// connector uses; sink ones are `{"kafka_topic","kafka_partition"}` and `{"kafka_offset"}`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorOffset {
    /// The partition.
    pub partition: SourceMap,
    /// The offset; `None` (JSON null) means none, or in an alter request: delete it.
    pub offset: Option<SourceMap>,
}

/// What the REST API asks of a worker.
#[async_trait]
pub trait Herder: Send + Sync {
    /// The worker the herder runs on (plugins, metrics, settings).
    fn worker(&self) -> &Worker;
    /// Whether start-up is done (`/health`).
    fn is_ready(&self) -> bool;
    /// Validates a connector config without creating anything.
    fn validate(&self, config: &Props) -> Result<ValidationReport, HerderError>;
    /// Creates a connector, or with `replace` updates it; returns its info and whether it was new.
    async fn put_connector(
        &self,
        name: &str,
        config: Props,
        initial_state: Option<TargetState>,
        replace: bool,
    ) -> Result<(ConnectorInfo, bool), HerderError>;
    /// Deletes a connector.
    async fn delete(&self, name: &str) -> Result<(), HerderError>;
    /// Connector names, sorted.
    async fn connector_names(&self) -> Vec<String>;
    /// A connector's info.
    async fn info(&self, name: &str) -> Result<ConnectorInfo, HerderError>;
    /// A connector's task configs, by task number.
    async fn task_configs(&self, name: &str) -> Result<Vec<(u32, Props)>, HerderError>;
    /// A connector's status.
    async fn status(&self, name: &str) -> Result<ConnectorStatus, HerderError>;
    /// One task's status.
    async fn task_status(&self, name: &str, task: u32) -> Result<Status, HerderError>;
    /// Pauses a connector.
    async fn pause(&self, name: &str) -> Result<(), HerderError>;
    /// Resumes a connector.
    async fn resume(&self, name: &str) -> Result<(), HerderError>;
    /// Stops a connector (KIP-875).
    async fn stop(&self, name: &str) -> Result<(), HerderError>;
    /// Restarts a connector and, as asked, its tasks.
    async fn restart(
        &self,
        name: &str,
        include_tasks: bool,
        only_failed: bool,
    ) -> Result<(), HerderError>;
    /// Restarts one task.
    async fn restart_task(&self, name: &str, task: u32) -> Result<(), HerderError>;
    /// Topics a connector has used since creation or the last reset (KIP-558).
    async fn active_topics(&self, name: &str) -> Vec<String>;
    /// Forgets a connector's active topics.
    async fn reset_active_topics(&self, name: &str) -> Result<(), HerderError>;
    /// A connector's committed offsets.
    async fn offsets(&self, name: &str) -> Result<Vec<ConnectorOffset>, HerderError>;
    /// Alters a STOPPED connector's offsets; returns the success message.
    async fn alter_offsets(
        &self,
        name: &str,
        offsets: Vec<ConnectorOffset>,
    ) -> Result<String, HerderError>;
    /// Resets a STOPPED connector's offsets; returns the success message.
    async fn reset_offsets(&self, name: &str) -> Result<String, HerderError>;
    /// Refreshes gauges computed from current state, before a scrape.
    async fn refresh_metrics(&self);
    /// Internal endpoint `POST /connectors/NAME/tasks`: a follower hands the leader a
    /// connector's new task configs (`body`, a JSON array), signed as `(algorithm, signature)`.
    async fn put_task_configs(
        &self,
        _name: &str,
        _body: &[u8],
        _signature: Option<(&str, &str)>,
    ) -> Result<(), HerderError> {
        Err(HerderError::BadRequest(
            "Task configs are only handed between workers in distributed mode".into(),
        ))
    }
}
