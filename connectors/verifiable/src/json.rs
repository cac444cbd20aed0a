//! Connect values as JSON, for the lines the verifiable sink writes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::{Map, Number};
use sluice_api::Value;

/// Renders a Connect value as schemaless JSON, the way Kafka's `JsonConverter` would: bytes as
/// base64 text, structs as objects, maps with string keys as objects and other maps as arrays of
/// `[key, value]` pairs. Non-finite floats, which JSON cannot hold, become the strings `"NaN"`,
/// `"Infinity"` and `"-Infinity"`.
pub fn value_to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Null => Json::Null,
        Value::Boolean(b) => Json::Bool(*b),
        Value::Int8(v) => Json::from(*v),
        Value::Int16(v) => Json::from(*v),
        Value::Int32(v) => Json::from(*v),
        Value::Int64(v) => Json::from(*v),
        Value::Float32(v) => float_to_json(f64::from(*v)),
        Value::Float64(v) => float_to_json(*v),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(BASE64.encode(b)),
        Value::Array(items) => Json::Array(items.iter().map(value_to_json).collect()),
        Value::Map(entries) => {
            if entries.iter().all(|(k, _)| k.as_str().is_some()) {
                let object: Map<String, Json> = entries
                    .iter()
                    .filter_map(|(k, v)| k.as_str().map(|k| (k.to_owned(), value_to_json(v))))
                    .collect();
                Json::Object(object)
            } else {
                Json::Array(
                    entries
                        .iter()
                        .map(|(k, v)| Json::Array(vec![value_to_json(k), value_to_json(v)]))
                        .collect(),
                )
            }
        }
        Value::Struct(s) => Json::Object(
            s.iter()
                .map(|(field, v)| (field.name.clone(), value_to_json(v)))
                .collect(),
        ),
    }
}

fn float_to_json(v: f64) -> serde_json::Value {
    match Number::from_f64(v) {
        Some(n) => serde_json::Value::Number(n),
        None if v.is_nan() => serde_json::Value::String("NaN".to_owned()),
        None if v > 0.0 => serde_json::Value::String("Infinity".to_owned()),
        None => serde_json::Value::String("-Infinity".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use sluice_api::{Schema, SchemaBuilder, Struct};

    use super::*;

    #[test]
    fn primitives_and_containers() {
        assert_eq!(value_to_json(&Value::Int32(7)), json!(7));
        assert_eq!(value_to_json(&Value::Float64(1.5)), json!(1.5));
        assert_eq!(value_to_json(&Value::Float64(f64::NAN)), json!("NaN"));
        assert_eq!(value_to_json(&Value::Bytes(b"hi".to_vec())), json!("aGk="));
        assert_eq!(
            value_to_json(&Value::Map(vec![("a".into(), Value::Null)])),
            json!({"a": null})
        );
        assert_eq!(
            value_to_json(&Value::Map(vec![(Value::Int32(1), "x".into())])),
            json!([[1, "x"]])
        );
        let schema = SchemaBuilder::struct_schema()
            .field("n", Schema::int64())
            .field("s", Schema::optional_string())
            .build();
        let s = Struct::new(schema).unwrap().with("n", 3i64).unwrap();
        assert_eq!(value_to_json(&Value::Struct(s)), json!({"n": 3, "s": null}));
    }
}
