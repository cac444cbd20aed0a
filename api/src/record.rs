//! Records as they travel through the worker, and their headers.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use crate::data::{SchemaRef, Value};

/// A source partition or source offset: a JSON object whose key order is kept, because Kafka
/// Connect looks offsets up by the exact serialized bytes of `[connector, partition]`.
pub type SourceMap = serde_json::Map<String, serde_json::Value>;

/// A Kafka topic and partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
}

impl TopicPartition {
    /// Names a topic partition.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Consumer positions per partition: the offset of the *next* record to read, as Kafka commits them.
pub type TopicOffsets = BTreeMap<TopicPartition, i64>;

/// One record header: a key and a Connect value with an optional schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Header key; keys may repeat within a record. Borrowed when it is a constant (a
    /// connector's fixed header names cost no allocation per record).
    pub key: Cow<'static, str>,
    /// The value's schema, when known.
    pub schema: Option<SchemaRef>,
    /// The value.
    pub value: Value,
}

/// The ordered headers of a record; duplicate keys are allowed, as in Kafka.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header.
    pub fn add(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        schema: Option<SchemaRef>,
        value: Value,
    ) {
        self.0.push(Header {
            key: key.into(),
            schema,
            value,
        });
    }

    /// Appends a string header.
    pub fn add_string(&mut self, key: impl Into<Cow<'static, str>>, value: impl Into<String>) {
        self.add(
            key,
            Some(crate::data::Schema::string()),
            Value::String(value.into()),
        );
    }

    /// The last header with this key, which is the one that counts when keys repeat.
    pub fn last_with_name(&self, key: &str) -> Option<&Header> {
        self.0.iter().rev().find(|h| h.key == key)
    }

    /// Every header with this key, in order.
    pub fn all_with_name<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Header> + 'a {
        self.0.iter().filter(move |h| h.key == key)
    }

    /// Removes every header with this key.
    pub fn remove(&mut self, key: &str) {
        self.0.retain(|h| h.key != key);
    }

    /// Iterates over all headers in order.
    pub fn iter(&self) -> std::slice::Iter<'_, Header> {
        self.0.iter()
    }

    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<'a> IntoIterator for &'a Headers {
    type Item = &'a Header;
    type IntoIter = std::slice::Iter<'a, Header>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl FromIterator<Header> for Headers {
    fn from_iter<T: IntoIterator<Item = Header>>(iter: T) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// The parts every record has, whether produced by a source task or read for a sink task. This is
/// what transforms and predicates see.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConnectRecord {
    /// Destination topic (source) or topic read from (sink).
    pub topic: String,
    /// Kafka partition; `None` lets the producer's partitioner choose.
    pub kafka_partition: Option<i32>,
    /// Schema of the key, if any.
    pub key_schema: Option<SchemaRef>,
    /// The key; [`Value::Null`] for none.
    pub key: Value,
    /// Schema of the value, if any.
    pub value_schema: Option<SchemaRef>,
    /// The value; [`Value::Null`] is a tombstone.
    pub value: Value,
    /// Timestamp in milliseconds since the epoch.
    pub timestamp: Option<i64>,
    /// Headers.
    pub headers: Headers,
    /// Kafka offset of a record read by a sink task; `None` for source records.
    pub kafka_offset: Option<i64>,
}

impl ConnectRecord {
    /// A record for `topic` with a schemaless value and nothing else set.
    pub fn new(topic: impl Into<String>, value: Value) -> Self {
        Self {
            topic: topic.into(),
            value,
            ..Self::default()
        }
    }
}

/// A record produced by a source task, with the source position it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceRecord {
    /// Where in the source system this record comes from (e.g. `{"filename": "/var/log/a"}`).
    pub source_partition: SourceMap,
    /// The position after this record within its source partition (e.g. `{"position": 4096}`).
    pub source_offset: SourceMap,
    /// The record itself.
    pub record: ConnectRecord,
}

/// How a sink record's timestamp was set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimestampType {
    /// No timestamp.
    #[default]
    NoTimestampType,
    /// Set by the producer.
    CreateTime,
    /// Set by the broker on append.
    LogAppendTime,
}

/// A record read from Kafka for a sink task.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    /// The record, after converters and transforms; `record.kafka_offset` is set.
    pub record: ConnectRecord,
    /// How the timestamp was set.
    pub timestamp_type: TimestampType,
    /// The topic the record was read from, before any transform renamed it.
    pub original_topic: String,
    /// The partition the record was read from.
    pub original_kafka_partition: i32,
    /// The offset the record was read at.
    pub original_kafka_offset: i64,
}

impl SinkRecord {
    /// The Kafka offset of this record (as the task sees it after transforms).
    pub fn kafka_offset(&self) -> i64 {
        self.record
            .kafka_offset
            .unwrap_or(self.original_kafka_offset)
    }

    /// The partition this record was read from, as committed offsets are keyed.
    pub fn original_topic_partition(&self) -> TopicPartition {
        TopicPartition::new(self.original_topic.clone(), self.original_kafka_partition)
    }
}
