//! Verifiable source and sink connectors for reliability tests, mirroring Kafka's org.apache.kafka.connect.tools.
