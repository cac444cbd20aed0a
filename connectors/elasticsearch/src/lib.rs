//! # sluice-connector-elasticsearch
//!
//! A sink compatible with Confluent's `io.confluent.connect.elasticsearch.ElasticsearchSinkConnector`
//! (connectors.md part B): bulk indexing with async offset tracking, retries with full-jitter
//! backoff, the per-item outcome matrix, data streams, mappings from schemas, basic auth, HTTPS
//! and gzip.
//!
//! * [`config`]: settings, cross-field validation, deprecated keys;
//! * [`encoder`]: record → bulk action (ids, index names, operations, versions, JSON);
//! * [`mapping`]: mappings from schemas; [`request_builder`]: batches and bulk bodies;
//! * [`service`]: the HTTP client; [`retry`]: backoff; [`task`]: the sink task;
//!   [`sink`]: the connector.

pub mod config;
pub mod encoder;
pub mod mapping;
pub mod request_builder;
pub mod retry;
pub mod service;
pub mod sink;
pub mod task;

use sluice_api::{PluginDesc, PluginFactory};

pub use sink::ElasticsearchSinkConnector;
pub use task::ElasticsearchSinkTask;

/// The plugins of this crate.
pub fn plugins() -> Vec<PluginDesc> {
    vec![PluginDesc {
        class: "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
        aliases: &["ElasticsearchSinkConnector", "ElasticsearchSink"],
        version: env!("CARGO_PKG_VERSION"),
        factory: PluginFactory::Sink {
            connector: || Box::<ElasticsearchSinkConnector>::default(),
            task: || Box::<ElasticsearchSinkTask>::default(),
        },
    }]
}
