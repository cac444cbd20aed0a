//! # sluice-worker
//!
//! The Sluice worker, Kafka Connect-compatible: the task runtime ([`runtime`]: the source and
//! sink data paths), the standalone [`herder`], the REST API ([`rest`]), Prometheus [`metrics`],
//! the compiled-in [`plugins`] registry, and the `sluice` command line ([`cli`]).

pub mod cli;
pub mod connector_config;
pub mod distributed;
pub mod herder;
pub mod logging;
pub mod metrics;
pub mod plugins;
pub mod rest;
pub mod runtime;
pub mod standalone;
pub mod status;
