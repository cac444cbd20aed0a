//! Distributed mode: connector configs, source offsets and statuses in Kafka topics, membership
//! and work assignment through Kafka's group coordinator ([`sluice_group`]), REST writes carried
//! out by the group leader.

pub mod config_store;
pub mod herder;
pub mod kafka_log;
pub mod offset_store;
pub mod run;
pub mod signature;
pub mod status_store;
pub mod topics;

pub use herder::DistributedHerder;
