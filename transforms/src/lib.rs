//! Kafka Connect's single message transforms and predicates, for Sluice.
