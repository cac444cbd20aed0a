//! Kafka Connect's String, ByteArray and JSON converters and the simple header converter, for Sluice.
