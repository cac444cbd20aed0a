//! FileStreamSource and FileStreamSink connectors, compatible with Kafka's org.apache.kafka.connect.file.
