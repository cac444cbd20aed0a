//! The sock pairing job: finds sightings and pairs in camera classifications on Kafka.
//!
//! [`engine`] holds the windowing and pairing logic (pure, no Kafka); the rest runs it as a
//! Kafka stream job with exactly-once state and output.

pub mod engine;
