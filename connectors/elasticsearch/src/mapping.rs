//! B.9: the index mapping generated from a record's value schema when `schema.ignore=false`.

use serde_json::{Map, Value as Json, json};
use sluice_api::data::logical;
use sluice_api::{ConnectError, Result, Schema, SchemaType, Value};

/// The `PUT /{index}/_mapping` body for a value schema; a non-struct top level is an error, as
/// the mapping needs properties.
pub fn mapping_for(schema: Option<&Schema>) -> Result<Json> {
    let Some(schema) = schema else {
        return Err(ConnectError::data(
            "Cannot infer mapping without schema (set schema.ignore=true for schemaless values)",
        ));
    };
    if schema.schema_type != SchemaType::Struct {
        return Err(ConnectError::data(format!(
            "Cannot create a mapping from a top-level {} schema; only structs map to properties",
            schema.schema_type
        )));
    }
    Ok(field_mapping(schema, true))
}

fn field_mapping(schema: &Schema, compact_maps: bool) -> Json {
    let mut m = match schema.name.as_deref() {
        Some(logical::DATE | logical::TIME | logical::TIMESTAMP) => json!({"type": "date"}),
        Some(logical::DECIMAL) => json!({"type": "double"}),
        _ => match schema.schema_type {
            SchemaType::Boolean => json!({"type": "boolean"}),
            SchemaType::Int8 => json!({"type": "byte"}),
            SchemaType::Int16 => json!({"type": "short"}),
            SchemaType::Int32 => json!({"type": "integer"}),
            SchemaType::Int64 => json!({"type": "long"}),
            SchemaType::Float32 => json!({"type": "float"}),
            SchemaType::Float64 => json!({"type": "double"}),
            SchemaType::String => {
                json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 256}}})
            }
            SchemaType::Bytes => json!({"type": "binary"}),
            SchemaType::Array => schema
                .value_schema
                .as_deref()
                .map_or_else(|| json!({}), |s| field_mapping(s, compact_maps)),
            SchemaType::Map => {
                let string_keys = schema
                    .key_schema
                    .as_deref()
                    .is_some_and(|k| k.schema_type == SchemaType::String);
                if compact_maps && string_keys {
                    // Compact maps are JSON objects with arbitrary keys: map them as a dynamic
                    // object (Confluent emits key/value properties here, contradicting the
                    // document shape, B.9).
                    json!({"type": "object"})
                } else {
                    let key = schema
                        .key_schema
                        .as_deref()
                        .map_or_else(|| json!({}), |s| field_mapping(s, compact_maps));
                    let value = schema
                        .value_schema
                        .as_deref()
                        .map_or_else(|| json!({}), |s| field_mapping(s, compact_maps));
                    json!({"properties": {"key": key, "value": value}})
                }
            }
            SchemaType::Struct => {
                let properties: Map<String, Json> = schema
                    .fields
                    .iter()
                    .map(|f| (f.name.clone(), field_mapping(&f.schema, compact_maps)))
                    .collect();
                json!({"properties": properties})
            }
        },
    };
    // Defaults become null_value for numeric, boolean and date types (B.9).
    if let (Some(default), Some(object)) = (&schema.default_value, m.as_object_mut())
        && let Some(ty) = object.get("type").and_then(Json::as_str)
        && let Some(v) = null_value(ty, schema, default)
    {
        object.insert("null_value".into(), v);
    }
    m
}

fn null_value(ty: &str, schema: &Schema, default: &Value) -> Option<Json> {
    match ty {
        "text" | "binary" | "object" => None,
        _ => crate::encoder::to_json(Some(schema), default, true).ok(),
    }
}

/// Whether `GET /{index}/_mapping` found no mapping yet (`{"<index>":{"mappings":{}}}`).
pub fn is_empty_mapping(response: &Json) -> bool {
    response
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|i| i.get("mappings"))
        .and_then(Json::as_object)
        .is_none_or(|m| m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::SchemaBuilder;

    #[test]
    fn struct_schema_mapping() {
        let schema = SchemaBuilder::struct_schema()
            .field("image", SchemaBuilder::new(SchemaType::String).build())
            .field(
                "n",
                SchemaBuilder::new(SchemaType::Int64)
                    .default_value(Value::Int64(0))
                    .build(),
            )
            .field(
                "ts",
                SchemaBuilder::new(SchemaType::Int64)
                    .name(logical::TIMESTAMP)
                    .build(),
            )
            .field(
                "tags",
                SchemaBuilder::map(
                    SchemaBuilder::new(SchemaType::String).build(),
                    SchemaBuilder::new(SchemaType::Int32).build(),
                )
                .build(),
            )
            .build();
        let m = mapping_for(Some(&schema)).unwrap();
        assert_eq!(m["properties"]["image"]["type"], "text");
        assert_eq!(
            m["properties"]["image"]["fields"]["keyword"]["ignore_above"],
            256
        );
        assert_eq!(
            m["properties"]["n"],
            json!({"type": "long", "null_value": 0})
        );
        assert_eq!(m["properties"]["ts"]["type"], "date");
        assert_eq!(m["properties"]["tags"]["type"], "object");
        assert!(mapping_for(None).is_err());
    }

    #[test]
    fn empty_mapping_detection() {
        assert!(is_empty_mapping(&json!({"t": {"mappings": {}}})));
        assert!(!is_empty_mapping(
            &json!({"t": {"mappings": {"properties": {"f": {"type": "long"}}}}})
        ));
    }
}
