//! A sink record becomes one bulk action: document id (B.5), index or data stream name (B.6),
//! operation and versioning (B.7), and the JSON document (B.8).

use base64::Engine;
use serde::Serialize;
use serde::ser::{Error as _, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Value as Json, json};
use sluice_api::data::logical;
use sluice_api::{ConnectError, Result, Schema, SinkRecord, Value};

use crate::config::{EsConfig, NullBehavior};

/// The bulk operation of an action.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Full replace.
    Index,
    /// Create only (data streams).
    Create,
    /// Partial update or upsert.
    Update,
    /// Delete.
    Delete,
}

impl Op {
    /// The action name in the bulk body and response.
    pub fn name(self) -> &'static str {
        match self {
            Self::Index => "index",
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// One bulk action, ready to serialize.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkAction {
    /// Operation.
    pub op: Op,
    /// Target index or data stream.
    pub index: String,
    /// Document id; `None` lets Elasticsearch generate one.
    pub id: Option<String>,
    /// External version, when versioning applies.
    pub version: Option<i64>,
    /// `retry_on_conflict` for updates.
    pub retry_on_conflict: Option<usize>,
    /// The source line (JSON), absent for deletes.
    pub source: Option<String>,
}

impl BulkAction {
    /// Appends the NDJSON lines of this action to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        // {"<op>":{"_index":..,"_id":..,"version":..,"version_type":"external","retry_on_conflict":..}}
        // written in place: this runs for every record.
        out.extend_from_slice(b"{\"");
        out.extend_from_slice(self.op.name().as_bytes());
        out.extend_from_slice(b"\":{\"_index\":");
        write_json_string(out, &self.index);
        if let Some(id) = &self.id {
            out.extend_from_slice(b",\"_id\":");
            write_json_string(out, id);
        }
        if let Some(v) = self.version {
            out.extend_from_slice(
                format!(",\"version\":{v},\"version_type\":\"external\"").as_bytes(),
            );
        }
        if let Some(r) = self.retry_on_conflict {
            out.extend_from_slice(format!(",\"retry_on_conflict\":{r}").as_bytes());
        }
        out.extend_from_slice(b"}}\n");
        if let Some(source) = &self.source {
            out.extend_from_slice(source.as_bytes());
            out.push(b'\n');
        }
    }

    /// Bytes this action adds to a bulk body (used for `bulk.size.bytes`).
    pub fn estimated_size(&self) -> usize {
        self.index.len()
            + self.id.as_ref().map_or(0, String::len)
            + self.source.as_ref().map_or(0, |s| s.len() + 1)
            + 48
    }

    /// Whether the request used external versioning (conflicts are then ignored, B.12).
    pub fn is_externally_versioned(&self) -> bool {
        self.version.is_some()
    }
}

/// Appends `s` as a JSON string (quoted and escaped).
fn write_json_string(out: &mut Vec<u8>, s: &str) {
    // Writing to a Vec cannot fail, and a str always serialises.
    let _ = serde_json::to_writer(&mut *out, s);
}

/// B.6: index name from a topic: lower-case, at most 255 characters, one leading `-` or `_`
/// dropped, `.`/`..` spelled out. Unlike Confluent's connector (which leaves them for ES to
/// reject), characters ES forbids in index names become `_`.
pub fn index_name(topic: &str) -> String {
    let mut name: String = topic.to_lowercase().chars().take(255).collect();
    if name.starts_with(['-', '_']) {
        name.remove(0);
    }
    if name == "." {
        return "dot".into();
    }
    if name == ".." {
        return "dotdot".into();
    }
    name.chars()
        .map(|c| {
            if matches!(
                c,
                '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':'
            ) {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// B.6: data stream name `{type}-{dataset}-{namespace}`, `${topic}` in the namespace replaced by
/// the lower-cased topic and the namespace cut to 100 characters.
pub fn data_stream_name(config: &EsConfig, topic: &str) -> Option<String> {
    let ds_type = config.data_stream_type.as_ref()?;
    let namespace: String = config
        .data_stream_namespace
        .replace("${topic}", &topic.to_lowercase())
        .chars()
        .take(100)
        .collect();
    Some(format!(
        "{}-{}-{}",
        ds_type.to_lowercase(),
        config.data_stream_dataset,
        namespace
    ))
}

/// The resource a record of `topic` goes to (B.6).
pub fn resource_name(config: &EsConfig, topic: &str) -> String {
    if let Some((_, r)) = config.external_resources.iter().find(|(t, _)| t == topic) {
        return r.clone();
    }
    data_stream_name(config, topic).unwrap_or_else(|| index_name(topic))
}

/// B.5: the document id from the record key.
fn key_id(record: &SinkRecord) -> Result<String> {
    let r = &record.record;
    let id = match &r.key {
        Value::Int8(v) => v.to_string(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Null => {
            return Err(ConnectError::data(
                "Key is used as document id and can not be null.",
            ));
        }
        Value::String(_) => {
            return Err(ConnectError::data(
                "Key is used as document id and can not be empty.",
            ));
        }
        other => {
            return Err(ConnectError::data(format!(
                "Key is used as document id and must be an integer or a string, not {}.",
                other.kind_name()
            )));
        }
    };
    Ok(id)
}

fn offset_id(record: &SinkRecord) -> String {
    format!(
        "{}+{}+{}",
        record.record.topic,
        record
            .record
            .kafka_partition
            .unwrap_or(record.original_kafka_partition),
        record.kafka_offset()
    )
}

/// B.7: the external version: the numeric `external.version.header`, else the Kafka offset. A
/// missing or non-numeric header is a data error (Confluent's connector crashes on a missing one).
fn external_version(config: &EsConfig, record: &SinkRecord) -> Result<i64> {
    let Some(name) = &config.external_version_header else {
        return Ok(record.kafka_offset());
    };
    let header = record.record.headers.last_with_name(name).ok_or_else(|| {
        ConnectError::data(format!(
            "Header {name} (external.version.header) is missing from the record"
        ))
    })?;
    let text = match &header.value {
        Value::Int8(v) => v.to_string(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::String(s) => s.trim().to_owned(),
        Value::Bytes(b) => String::from_utf8_lossy(b).trim().to_owned(),
        other => format!("{other:?}"),
    };
    text.parse::<i64>().map_err(|_| {
        ConnectError::data(format!(
            "Header {name} (external.version.header) must hold a number, not '{text}'"
        ))
    })
}

/// Converts a record to its bulk action; `Ok(None)` when nothing is to be written (an ignored
/// tombstone, or a delete without a key).
pub fn encode(
    config: &EsConfig,
    record: &SinkRecord,
    resource: &str,
) -> Result<Option<BulkAction>> {
    let topic = &record.record.topic;
    let autogenerated = !config.upsert && config.use_autogenerated_ids;
    let from_offset = config.ignores_key(topic) || autogenerated;
    if record.record.value.is_null() {
        return match config.null_behavior {
            NullBehavior::Ignore => Ok(None),
            NullBehavior::Fail => Err(ConnectError::data(format!(
                "Sink record with key of {} and null value encountered for topic/partition/offset {}/{}/{} (to ignore future records like this change the configuration property 'behavior.on.null.values' from 'fail' to 'ignore')",
                describe_key(&record.record.key),
                topic,
                record.original_kafka_partition,
                record.kafka_offset()
            ))),
            NullBehavior::Delete => {
                if record.record.key.is_null() {
                    return Ok(None);
                }
                let id = key_id(record)?;
                Ok(Some(BulkAction {
                    op: Op::Delete,
                    index: resource.to_owned(),
                    id: Some(id),
                    version: Some(external_version(config, record)?),
                    retry_on_conflict: None,
                    source: None,
                }))
            }
        };
    }
    let id = if autogenerated {
        None
    } else if from_offset {
        Some(offset_id(record))
    } else {
        Some(key_id(record)?)
    };
    let schema = record.record.value_schema.as_deref();
    let value = &record.record.value;
    if config.is_data_stream() {
        let mut document = to_json(schema, value, config.compact_map_entries)?;
        let Json::Object(fields) = &mut document else {
            return Err(ConnectError::data(
                "Data streams need documents that are JSON objects",
            ));
        };
        let from_field = config
            .data_stream_timestamp_fields
            .iter()
            .find_map(|f| fields.get(f).filter(|v| !v.is_null()).cloned());
        let timestamp = match from_field {
            Some(Json::String(s)) => Json::String(s),
            Some(other) => Json::String(other.to_string()),
            None => record.record.timestamp.map_or(Json::Null, |t| json!(t)),
        };
        fields.insert("@timestamp".into(), timestamp);
        return Ok(Some(BulkAction {
            op: Op::Create,
            index: resource.to_owned(),
            id,
            version: None,
            retry_on_conflict: None,
            source: Some(document.to_string()),
        }));
    }
    if config.upsert {
        let document = to_json(schema, value, config.compact_map_entries)?;
        let source = json!({"doc": document, "upsert": document}).to_string();
        return Ok(Some(BulkAction {
            op: Op::Update,
            index: resource.to_owned(),
            id,
            version: None,
            retry_on_conflict: Some(config.max_in_flight.min(5)),
            source: Some(source),
        }));
    }
    let version = if from_offset {
        None
    } else {
        Some(external_version(config, record)?)
    };
    Ok(Some(BulkAction {
        op: Op::Index,
        index: resource.to_owned(),
        id,
        version,
        retry_on_conflict: None,
        source: Some(to_json_text(schema, value, config.compact_map_entries)?),
    }))
}

fn describe_key(key: &Value) -> String {
    match key {
        Value::Null => "null".into(),
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

const MS_PER_DAY: i64 = 86_400_000;

/// The error for a null in a required field without a default.
const REQUIRED_NULL: &str =
    "Conversion error: null value for field that is required and has no default value";

/// B.8: Connect data to JSON as JsonConverter writes it without schemas, except that Date becomes
/// epoch milliseconds (Confluent writes days since the epoch, which ES's `date` mapping reads as
/// milliseconds: issue #62). Time stays milliseconds of the day, which `date` reads as that time
/// on 1970-01-01. A JSON tree, for the paths that edit the document (data streams, upserts).
pub fn to_json(schema: Option<&Schema>, value: &Value, compact_maps: bool) -> Result<Json> {
    serde_json::to_value(Document::new(schema, value, compact_maps))
        .map_err(|e| ConnectError::data(e.to_string()))
}

/// [`to_json`] written straight to JSON text, without building the tree (the index path).
pub fn to_json_text(schema: Option<&Schema>, value: &Value, compact_maps: bool) -> Result<String> {
    serde_json::to_string(&Document::new(schema, value, compact_maps))
        .map_err(|e| ConnectError::data(e.to_string()))
}

/// Connect data seen as a JSON document (B.8), for serde: one conversion for both the tree and
/// the text.
#[derive(Clone, Copy)]
struct Document<'a> {
    schema: Option<&'a Schema>,
    value: &'a Value,
    compact_maps: bool,
}

impl<'a> Document<'a> {
    fn new(schema: Option<&'a Schema>, value: &'a Value, compact_maps: bool) -> Self {
        Self {
            schema,
            value,
            compact_maps,
        }
    }

    fn with(self, schema: Option<&'a Schema>, value: &'a Value) -> Self {
        Self {
            schema,
            value,
            ..self
        }
    }
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, out: S) -> std::result::Result<S::Ok, S::Error> {
        let (schema, value) = (self.schema, self.value);
        if value.is_null() {
            if let Some(s) = schema {
                if let Some(default) = &s.default_value {
                    return self.with(Some(s), default).serialize(out);
                }
                if !s.optional {
                    return Err(S::Error::custom(REQUIRED_NULL));
                }
            }
            return out.serialize_unit();
        }
        match (schema.and_then(|s| s.name.as_deref()), value) {
            (Some(logical::DATE), Value::Int32(days)) => {
                return out.serialize_i64(i64::from(*days) * MS_PER_DAY);
            }
            (Some(logical::DECIMAL), Value::Bytes(bytes)) => {
                let scale: i32 = schema
                    .and_then(|s| s.parameters.get(logical::DECIMAL_SCALE))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                return float(out, decimal_to_f64(bytes, scale));
            }
            _ => {}
        }
        match value {
            Value::Null => out.serialize_unit(),
            Value::Boolean(b) => out.serialize_bool(*b),
            Value::Int8(v) => out.serialize_i8(*v),
            Value::Int16(v) => out.serialize_i16(*v),
            Value::Int32(v) => out.serialize_i32(*v),
            Value::Int64(v) => out.serialize_i64(*v),
            Value::Float32(v) => float(out, f64::from(*v)),
            Value::Float64(v) => float(out, *v),
            Value::String(s) => out.serialize_str(s),
            Value::Bytes(b) => {
                out.serialize_str(&base64::engine::general_purpose::STANDARD.encode(b))
            }
            Value::Array(items) => {
                let item_schema = schema.and_then(|s| s.value_schema.as_deref());
                let mut seq = out.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(&self.with(item_schema, item))?;
                }
                seq.end()
            }
            Value::Map(entries) => {
                let key_schema = schema.and_then(|s| s.key_schema.as_deref());
                let value_schema = schema.and_then(|s| s.value_schema.as_deref());
                let string_keys = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
                if self.compact_maps && string_keys {
                    let mut map = out.serialize_map(Some(entries.len()))?;
                    for (i, (key, v)) in entries.iter().enumerate() {
                        // A repeated key: the last value, at the first key's place.
                        if entries[..i].iter().any(|(k, _)| k == key) {
                            continue;
                        }
                        let last = entries[i..]
                            .iter()
                            .rev()
                            .find(|(k, _)| k == key)
                            .map_or(v, |(_, v)| v);
                        if let Value::String(key) = key {
                            map.serialize_entry(key, &self.with(value_schema, last))?;
                        }
                    }
                    map.end()
                } else {
                    let mut seq = out.serialize_seq(Some(entries.len()))?;
                    for (k, v) in entries {
                        seq.serialize_element(&MapEntry {
                            key: self.with(key_schema, k),
                            value: self.with(value_schema, v),
                        })?;
                    }
                    seq.end()
                }
            }
            Value::Struct(s) => {
                let fields = &s.schema().fields;
                let mut map = out.serialize_map(Some(fields.len()))?;
                for field in fields {
                    let v = s.get_without_default(&field.name).unwrap_or(&Value::Null);
                    map.serialize_entry(&field.name, &self.with(Some(&field.schema), v))?;
                }
                map.end()
            }
        }
    }
}

/// A map entry of a map that is not written as an object: `{"key": .., "value": ..}`.
struct MapEntry<'a> {
    key: Document<'a>,
    value: Document<'a>,
}

impl Serialize for MapEntry<'_> {
    fn serialize<S: Serializer>(&self, out: S) -> std::result::Result<S::Ok, S::Error> {
        let mut map = out.serialize_map(Some(2))?;
        map.serialize_entry("key", &self.key)?;
        map.serialize_entry("value", &self.value)?;
        map.end()
    }
}

/// A number, or null for NaN and infinities (which JSON cannot hold).
fn float<S: Serializer>(out: S, v: f64) -> std::result::Result<S::Ok, S::Error> {
    if v.is_finite() {
        out.serialize_f64(v)
    } else {
        out.serialize_unit()
    }
}

fn decimal_to_f64(bytes: &[u8], scale: i32) -> f64 {
    // Big-endian two's complement unscaled value.
    let mut unscaled: i128 = if bytes.first().is_some_and(|b| b & 0x80 != 0) {
        -1
    } else {
        0
    };
    for b in bytes.iter().take(16) {
        unscaled = (unscaled << 8) | i128::from(*b);
    }
    unscaled as f64 / 10f64.powi(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{ConnectRecord, Props, SchemaBuilder, SchemaType, Struct, TimestampType};

    fn config(pairs: &[(&str, &str)]) -> EsConfig {
        let mut p: Props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.insert("connection.url".into(), "http://localhost:9200".into());
        p.insert("topics".into(), "t".into());
        EsConfig::parse(&p).unwrap()
    }

    fn record(key: Value, value: Value, offset: i64) -> SinkRecord {
        SinkRecord {
            record: ConnectRecord {
                topic: "t".into(),
                kafka_partition: Some(2),
                key,
                value,
                timestamp: Some(1_700_000_000_000),
                kafka_offset: Some(offset),
                ..ConnectRecord::default()
            },
            timestamp_type: TimestampType::CreateTime,
            original_topic: "t".into(),
            original_kafka_partition: 2,
            original_kafka_offset: offset,
        }
    }

    fn map(pairs: &[(&str, Value)]) -> Value {
        Value::Map(
            pairs
                .iter()
                .map(|(k, v)| (Value::from(*k), v.clone()))
                .collect(),
        )
    }

    #[test]
    fn index_names_follow_b6_and_are_sanitised() {
        assert_eq!(index_name("Sock_Pairs"), "sock_pairs");
        assert_eq!(index_name("_Hidden"), "hidden");
        assert_eq!(index_name("-x"), "x");
        assert_eq!(index_name("__x"), "_x");
        assert_eq!(index_name("."), "dot");
        assert_eq!(index_name(".."), "dotdot");
        assert_eq!(index_name("a b:c"), "a_b_c");
        assert_eq!(index_name(&"x".repeat(300)).len(), 255);
    }

    #[test]
    fn key_ids_are_versioned_and_offset_ids_are_not() {
        let c = config(&[]);
        let a = encode(
            &c,
            &record(Value::from("k1"), map(&[("a", Value::Int32(1))]), 42),
            "t",
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.op, Op::Index);
        assert_eq!(a.id.as_deref(), Some("k1"));
        assert_eq!(a.version, Some(42));
        let mut body = Vec::new();
        a.write_to(&mut body);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "{\"index\":{\"_index\":\"t\",\"_id\":\"k1\",\"version\":42,\"version_type\":\"external\"}}\n{\"a\":1}\n"
        );
        let c = config(&[("key.ignore", "true")]);
        let a = encode(&c, &record(Value::Null, map(&[]), 7), "t")
            .unwrap()
            .unwrap();
        assert_eq!(a.id.as_deref(), Some("t+2+7"));
        assert_eq!(a.version, None);
        let c = config(&[("use.autogenerated.ids", "true")]);
        let a = encode(&c, &record(Value::from("k"), map(&[]), 7), "t")
            .unwrap()
            .unwrap();
        assert_eq!(a.id, None);
        assert_eq!(a.version, None);
    }

    #[test]
    fn bad_keys_are_data_errors() {
        let c = config(&[]);
        for key in [
            Value::Null,
            Value::from(""),
            Value::Boolean(true),
            Value::Float64(1.5),
        ] {
            assert!(matches!(
                encode(&c, &record(key, map(&[]), 1), "t"),
                Err(ConnectError::Data(_))
            ));
        }
        assert_eq!(
            encode(&c, &record(Value::Int64(5), map(&[]), 1), "t")
                .unwrap()
                .unwrap()
                .id
                .as_deref(),
            Some("5")
        );
    }

    #[test]
    fn null_values_in_three_modes() {
        let tomb = record(Value::from("k"), Value::Null, 3);
        assert!(matches!(
            encode(&config(&[]), &tomb, "t"),
            Err(ConnectError::Data(_))
        ));
        assert_eq!(
            encode(
                &config(&[("behavior.on.null.values", "ignore")]),
                &tomb,
                "t"
            )
            .unwrap(),
            None
        );
        let d = encode(
            &config(&[("behavior.on.null.values", "delete")]),
            &tomb,
            "t",
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (d.op, d.id.as_deref(), d.version, d.source.is_none()),
            (Op::Delete, Some("k"), Some(3), true)
        );
        let keyless = record(Value::Null, Value::Null, 3);
        assert_eq!(
            encode(
                &config(&[("behavior.on.null.values", "delete")]),
                &keyless,
                "t"
            )
            .unwrap(),
            None
        );
    }

    #[test]
    fn external_version_header() {
        let c = config(&[("external.version.header", "v")]);
        let mut r = record(Value::from("k"), map(&[]), 3);
        assert!(matches!(encode(&c, &r, "t"), Err(ConnectError::Data(_))));
        r.record.headers.add_string("v", "1000");
        assert_eq!(encode(&c, &r, "t").unwrap().unwrap().version, Some(1000));
        r.record.headers.add_string("v", "abc");
        assert!(matches!(encode(&c, &r, "t"), Err(ConnectError::Data(_))));
    }

    #[test]
    fn upsert_and_data_streams() {
        let c = config(&[("write.method", "upsert")]);
        let a = encode(
            &c,
            &record(Value::from("k"), map(&[("a", Value::Int32(1))]), 3),
            "t",
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.op, Op::Update);
        assert_eq!(
            a.source.as_deref(),
            Some("{\"doc\":{\"a\":1},\"upsert\":{\"a\":1}}")
        );
        assert_eq!(a.retry_on_conflict, Some(5));
        let c = config(&[
            ("data.stream.type", "logs"),
            ("data.stream.dataset", "socks"),
            ("key.ignore", "true"),
        ]);
        assert_eq!(resource_name(&c, "Pairs"), "logs-socks-pairs");
        let a = encode(
            &c,
            &record(Value::Null, map(&[("a", Value::Int32(1))]), 3),
            "x",
        )
        .unwrap()
        .unwrap();
        assert_eq!(a.op, Op::Create);
        assert_eq!(
            a.source.as_deref(),
            Some("{\"a\":1,\"@timestamp\":1700000000000}")
        );
        let c = config(&[
            ("data.stream.type", "logs"),
            ("data.stream.dataset", "socks"),
            ("data.stream.timestamp.field", "ts"),
        ]);
        let a = encode(
            &c,
            &record(
                Value::from("k"),
                map(&[("ts", Value::from("2024-01-01T00:00:00Z"))]),
                3,
            ),
            "x",
        )
        .unwrap()
        .unwrap();
        assert!(
            a.source
                .unwrap()
                .ends_with("\"@timestamp\":\"2024-01-01T00:00:00Z\"}")
        );
        assert!(encode(&c, &record(Value::from("k"), Value::Int32(1), 3), "x").is_err());
    }

    #[test]
    fn logical_types_and_maps() {
        let date = SchemaBuilder::new(SchemaType::Int32)
            .name(logical::DATE)
            .build();
        let time = SchemaBuilder::new(SchemaType::Int32)
            .name(logical::TIME)
            .build();
        let ts = SchemaBuilder::new(SchemaType::Int64)
            .name(logical::TIMESTAMP)
            .build();
        let dec = SchemaBuilder::new(SchemaType::Bytes)
            .name(logical::DECIMAL)
            .parameter("scale", "2")
            .build();
        let schema = SchemaBuilder::struct_schema()
            .field("d", date)
            .field("t", time)
            .field("ts", ts)
            .field("n", dec)
            .field(
                "opt",
                SchemaBuilder::new(SchemaType::String).optional().build(),
            )
            .build();
        let s = Struct::new(schema.clone())
            .unwrap()
            .with("d", Value::Int32(19723))
            .unwrap()
            .with("t", Value::Int32(3_600_000))
            .unwrap()
            .with("ts", Value::Int64(1_704_067_200_000))
            .unwrap()
            .with("n", Value::Bytes(vec![0x04, 0xD2]))
            .unwrap();
        let j = to_json(Some(&schema), &Value::Struct(s), true).unwrap();
        // 19723 days = 2024-01-01.
        assert_eq!(
            j,
            json!({"d": 1_704_067_200_000i64, "t": 3_600_000, "ts": 1_704_067_200_000i64, "n": 12.34, "opt": null})
        );
        let m = Value::Map(vec![(Value::Int32(1), Value::from("a"))]);
        assert_eq!(
            to_json(None, &m, true).unwrap(),
            json!([{"key": 1, "value": "a"}])
        );
        let m = map(&[("x", Value::Int32(1))]);
        assert_eq!(to_json(None, &m, true).unwrap(), json!({"x": 1}));
        assert_eq!(
            to_json(None, &m, false).unwrap(),
            json!([{"key": "x", "value": 1}])
        );
        let required = SchemaBuilder::new(SchemaType::String).build();
        assert!(to_json(Some(&required), &Value::Null, true).is_err());
        assert!(to_json_text(Some(&required), &Value::Null, true).is_err());
    }

    #[test]
    fn the_text_is_the_tree_written_out() {
        let nested = Value::Array(vec![
            Value::Float64(f64::NAN),
            Value::Float32(0.1),
            Value::Bytes(vec![1, 2, 3]),
            map(&[
                ("quote\"d", Value::from("line\nbreak")),
                ("n", Value::Int64(-7)),
            ]),
        ]);
        // A repeated key keeps its first place and its last value, as a JSON object does.
        let value = map(&[
            ("a", Value::Int8(1)),
            ("list", nested),
            ("a", Value::Boolean(true)),
            ("none", Value::Null),
        ]);
        for compact in [true, false] {
            let tree = to_json(None, &value, compact).unwrap();
            assert_eq!(
                to_json_text(None, &value, compact).unwrap(),
                tree.to_string()
            );
        }
        assert_eq!(
            to_json_text(None, &value, true).unwrap(),
            r#"{"a":true,"list":[null,0.10000000149011612,"AQID",{"quote\"d":"line\nbreak","n":-7}],"none":null}"#
        );
    }

    #[test]
    fn action_lines_are_json() {
        let action = BulkAction {
            op: Op::Index,
            index: "t\"x".into(),
            id: Some("k\\1".into()),
            version: Some(42),
            retry_on_conflict: Some(3),
            source: Some("{}".into()),
        };
        let mut body = Vec::new();
        action.write_to(&mut body);
        let text = String::from_utf8(body).unwrap();
        let (meta, rest) = text.split_once('\n').unwrap();
        assert_eq!(
            serde_json::from_str::<Json>(meta).unwrap(),
            json!({"index": {"_index": "t\"x", "_id": "k\\1", "version": 42, "version_type": "external", "retry_on_conflict": 3}})
        );
        assert_eq!(rest, "{}\n");
    }
}
