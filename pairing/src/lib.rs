//! The sock pairing job: finds sightings and pairs in camera classifications on Kafka.
//!
//! [`engine`] holds the windowing and pairing logic (pure, no Kafka); [`runner`] runs it as a
//! Kafka stream job with exactly-once state and output; [`metrics`] serves `/metrics` and
//! `/health`; [`table`] prints the pair table.

pub mod config;
pub mod engine;
pub mod metrics;
pub mod records;
pub mod runner;
pub mod table;
