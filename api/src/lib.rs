//! # sluice-api
//!
//! The plugin API of Sluice, the counterpart of Kafka's `connect-api`: everything a connector,
//! transform, predicate or converter needs, and nothing of the runtime. Plugin crates depend on this
//! crate only; the worker discovers them through [`PluginDesc`] lists.
//!
//! * [`data`]: Connect schemas and values (`Schema`, `Value`, `Struct`).
//! * [`record`]: records as they travel through the worker (`ConnectRecord`, `SourceRecord`,
//!   `SinkRecord`, headers).
//! * [`config`]: typed configuration definitions (`ConfigDef`) with defaults, importance, docs and
//!   validators, used both to parse a plugin's settings and to answer REST validation.
//! * [`connector`], [`task`], [`transform`], [`converter`]: the plugin traits.
//! * [`plugin`]: how a plugin crate describes what it offers.
//! * [`metrics`]: counters and gauges a task registers to have them exported (KIP-877).

pub mod config;
pub mod connector;
pub mod converter;
pub mod data;
pub mod error;
pub mod metrics;
pub mod plugin;
pub mod record;
pub mod task;
pub mod transform;

pub use config::{
    Config, ConfigDef, ConfigKey, ConfigType, ConfigValue, DefaultValue, Importance, Password,
    Props, Validator, Width,
};
pub use connector::{Connector, ConnectorContext, SinkConnector, SourceConnector};
pub use converter::{Converter, HeaderConverter};
pub use data::{
    Field, Schema, SchemaAndValue, SchemaBuilder, SchemaRef, SchemaType, Struct, Value,
};
pub use error::{ConnectError, Result};
pub use metrics::{Counter, Gauge, MetricName, MetricsError, PluginMetrics};
pub use plugin::{PluginDesc, PluginFactory, PluginType};
pub use record::{
    ConnectRecord, Header, Headers, SinkRecord, SourceMap, SourceRecord, TimestampType,
    TopicOffsets, TopicPartition,
};
pub use task::{
    ErrantRecord, ErrantRecordReporter, OffsetStorageReader, SinkTask, SinkTaskContext, SourceTask,
    SourceTaskContext,
};
pub use transform::{Predicate, Transform};

/// Re-exported so plugins implement the async traits with the same macro version as the worker.
pub use async_trait::async_trait;
