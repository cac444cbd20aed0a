//! A sink record becomes one bulk action: document id (B.5), index or data stream name (B.6),
//! operation and versioning (B.7), and the JSON document (B.8).

use base64::Engine;
use serde_json::{Map, Number, Value as Json, json};
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
        let mut meta = Map::new();
        meta.insert("_index".into(), json!(self.index));
        if let Some(id) = &self.id {
            meta.insert("_id".into(), json!(id));
        }
        if let Some(v) = self.version {
            meta.insert("version".into(), json!(v));
            meta.insert("version_type".into(), json!("external"));
        }
        if let Some(r) = self.retry_on_conflict {
            meta.insert("retry_on_conflict".into(), json!(r));
        }
        let line = json!({ self.op.name(): meta });
        out.extend_from_slice(line.to_string().as_bytes());
        out.push(b'\n');
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
    let mut document = to_json(
        record.record.value_schema.as_deref(),
        &record.record.value,
        config.compact_map_entries,
    )?;
    if config.is_data_stream() {
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
        source: Some(document.to_string()),
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

/// B.8: Connect data to JSON as JsonConverter writes it without schemas, except that Date becomes
/// epoch milliseconds (Confluent writes days since the epoch, which ES's `date` mapping reads as
/// milliseconds: issue #62). Time stays milliseconds of the day, which `date` reads as that time
/// on 1970-01-01.
pub fn to_json(schema: Option<&Schema>, value: &Value, compact_maps: bool) -> Result<Json> {
    if value.is_null() {
        if let Some(s) = schema {
            if let Some(default) = &s.default_value {
                return to_json(Some(s), default, compact_maps);
            }
            if !s.optional {
                return Err(ConnectError::data(
                    "Conversion error: null value for field that is required and has no default value",
                ));
            }
        }
        return Ok(Json::Null);
    }
    let logical_name = schema.and_then(|s| s.name.as_deref());
    match (logical_name, value) {
        (Some(logical::DATE), Value::Int32(days)) => {
            return Ok(json!(i64::from(*days) * MS_PER_DAY));
        }
        (Some(logical::DECIMAL), Value::Bytes(bytes)) => {
            let scale: i32 = schema
                .and_then(|s| s.parameters.get(logical::DECIMAL_SCALE))
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            return Ok(float(decimal_to_f64(bytes, scale)));
        }
        _ => {}
    }
    Ok(match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => json!(b),
        Value::Int8(v) => json!(v),
        Value::Int16(v) => json!(v),
        Value::Int32(v) => json!(v),
        Value::Int64(v) => json!(v),
        Value::Float32(v) => float(f64::from(*v)),
        Value::Float64(v) => float(*v),
        Value::String(s) => json!(s),
        Value::Bytes(b) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::Array(items) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            Json::Array(
                items
                    .iter()
                    .map(|v| to_json(item_schema, v, compact_maps))
                    .collect::<Result<_>>()?,
            )
        }
        Value::Map(entries) => {
            let key_schema = schema.and_then(|s| s.key_schema.as_deref());
            let value_schema = schema.and_then(|s| s.value_schema.as_deref());
            let string_keys = entries.iter().all(|(k, _)| matches!(k, Value::String(_)));
            if compact_maps && string_keys {
                let mut object = Map::new();
                for (k, v) in entries {
                    if let Value::String(k) = k {
                        object.insert(k.clone(), to_json(value_schema, v, compact_maps)?);
                    }
                }
                Json::Object(object)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| {
                            Ok(json!({"key": to_json(key_schema, k, compact_maps)?,
                                      "value": to_json(value_schema, v, compact_maps)?}))
                        })
                        .collect::<Result<_>>()?,
                )
            }
        }
        Value::Struct(s) => {
            let mut object = Map::new();
            for field in &s.schema().fields {
                let v = s.get_without_default(&field.name).unwrap_or(&Value::Null);
                object.insert(
                    field.name.clone(),
                    to_json(Some(&field.schema), v, compact_maps)?,
                );
            }
            Json::Object(object)
        }
    })
}

fn float(v: f64) -> Json {
    Number::from_f64(v).map_or(Json::Null, Json::Number)
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
    }
}
