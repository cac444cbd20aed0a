//! Single message transforms and predicates.

use async_trait::async_trait;

use crate::config::{ConfigDef, Props};
use crate::error::Result;
use crate::record::ConnectRecord;

/// Changes, replaces or drops one record (Kafka's `Transformation`).
///
/// `apply` is async so that heavy transforms (model inference) can move their work to a blocking
/// pool instead of stalling the runtime.
#[async_trait]
pub trait Transform: Send + Sync {
    /// The transform's settings.
    fn config_def(&self) -> ConfigDef;

    /// Configures the transform from its settings (the `transforms.NAME.` prefix removed).
    fn configure(&mut self, props: &Props) -> Result<()>;

    /// Transforms a record; `Ok(None)` drops it.
    async fn apply(&self, record: ConnectRecord) -> Result<Option<ConnectRecord>>;
}

/// Decides whether a transform applies to a record (Kafka's `Predicate`).
pub trait Predicate: Send + Sync {
    /// The predicate's settings.
    fn config_def(&self) -> ConfigDef;

    /// Configures the predicate from its settings (the `predicates.NAME.` prefix removed).
    fn configure(&mut self, props: &Props) -> Result<()>;

    /// Whether the record matches.
    fn test(&self, record: &ConnectRecord) -> bool;
}
