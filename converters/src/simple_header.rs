//! `org.apache.kafka.connect.storage.SimpleHeaderConverter`, the default header converter.

use std::borrow::Cow;

use sluice_api::{ConfigDef, HeaderConverter, Props, Result, Schema, SchemaAndValue, Value};

use crate::values::{convert_to_string, parse_string};

/// Writes header values as text (Kafka's `Values.convertToString`: strings as they are, numbers
/// as Java prints them, bytes as Base64, dates and times in ISO-8601, containers in a JSON-like
/// form) and infers a schema when reading them back (`Values.parseString`): `true`/`false` are
/// booleans, whole numbers the smallest integer type that holds them, other numbers FLOAT32 (or
/// FLOAT64, or a Decimal, when a float cannot hold them), ISO-8601 text the logical date and time
/// types, `[..]`/`{..}` arrays and maps, anything else a string. Text Kafka would read only the
/// start of (`1,2` as `1`) stays a whole string.
#[derive(Debug, Default, Clone)]
pub struct SimpleHeaderConverter;

impl SimpleHeaderConverter {
    /// The simple header converter.
    pub fn new() -> Self {
        Self
    }
}

impl HeaderConverter for SimpleHeaderConverter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> Result<()> {
        Ok(())
    }

    fn from_connect_header(
        &self,
        _topic: &str,
        _header_key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        if value.is_null() {
            return Ok(None);
        }
        Ok(Some(convert_to_string(schema, value).into_bytes()))
    }

    fn from_connect_header_borrowed<'a>(
        &self,
        topic: &str,
        header_key: &str,
        schema: Option<&Schema>,
        value: &'a Value,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        // Text and booleans are written as they are, whatever the schema (as `convert_to_string`
        // does): no allocation for them.
        Ok(match value {
            Value::String(s) => Some(Cow::Borrowed(s.as_bytes())),
            Value::Boolean(true) => Some(Cow::Borrowed(b"true")),
            Value::Boolean(false) => Some(Cow::Borrowed(b"false")),
            _ => self
                .from_connect_header(topic, header_key, schema, value)?
                .map(Cow::Owned),
        })
    }

    fn to_connect_header(
        &self,
        topic: &str,
        header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::null());
        };
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(parse_string(text)),
            Err(_) => {
                // Kafka would decode with replacement characters and lose the bytes; keeping them
                // intact as a BYTES value is what its own fallback for unreadable headers does.
                tracing::debug!(
                    topic,
                    header_key,
                    "header value is not UTF-8 text; keeping it as bytes"
                );
                Ok(SchemaAndValue::new(
                    Some(Schema::bytes()),
                    Value::Bytes(bytes.to_vec()),
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::data::logical;
    use sluice_api::{SchemaBuilder, SchemaRef, SchemaType, Struct};

    fn read(text: &str) -> SchemaAndValue {
        SimpleHeaderConverter::new()
            .to_connect_header("t", "h", Some(text.as_bytes()))
            .unwrap()
    }

    fn write(schema: Option<&Schema>, value: &Value) -> String {
        let bytes = SimpleHeaderConverter::new()
            .from_connect_header("t", "h", schema, value)
            .unwrap()
            .unwrap();
        String::from_utf8(bytes).unwrap()
    }

    fn schema_type(sv: &SchemaAndValue) -> Option<SchemaType> {
        sv.schema.as_ref().map(|s| s.schema_type)
    }

    #[test]
    fn booleans_and_strings_are_inferred() {
        let sv = read("true");
        assert_eq!(
            (schema_type(&sv), sv.value),
            (Some(SchemaType::Boolean), Value::Boolean(true))
        );
        let sv = read("false");
        assert_eq!(sv.value, Value::Boolean(false));
        for text in [
            "hello world",
            "True",
            "1,2",
            "12abc",
            "[a, b]",
            "{\"a\"}",
            "",
            "   ",
            "\"q\"",
        ] {
            let sv = read(text);
            assert_eq!(sv.schema, Some(Schema::string()), "{text:?}");
            assert_eq!(sv.value, Value::String(text.into()), "{text:?}");
        }
    }

    #[test]
    fn integers_take_the_smallest_type_that_fits() {
        let cases = [
            ("0", Value::Int8(0)),
            ("-128", Value::Int8(-128)),
            ("127", Value::Int8(127)),
            ("128", Value::Int16(128)),
            ("-32769", Value::Int32(-32769)),
            ("2147483648", Value::Int64(2_147_483_648)),
            ("9223372036854775807", Value::Int64(i64::MAX)),
            ("+5", Value::Int8(5)),
            ("1.0", Value::Int8(1)),
            ("1e3", Value::Int16(1000)),
        ];
        for (text, want) in cases {
            assert_eq!(read(text).value, want, "{text}");
        }
        assert_eq!(read("300").schema, Some(Schema::int16()));
    }

    #[test]
    fn fractions_are_float32_when_a_float_holds_them() {
        let sv = read("1.5");
        assert_eq!(sv.schema, Some(Schema::float32()));
        assert_eq!(sv.value, Value::Float32(1.5));
        let sv = read("-2.5e-3");
        assert_eq!(sv.value, Value::Float32(-0.0025));
        let sv = read("1.5e300");
        assert_eq!(sv.schema, Some(Schema::float64()));
        assert_eq!(sv.value, Value::Float64(1.5e300));
    }

    #[test]
    fn huge_numbers_become_decimals() {
        let sv = read("99999999999999999999");
        let schema = sv.schema.unwrap();
        assert_eq!(schema.name.as_deref(), Some(logical::DECIMAL));
        assert_eq!(
            schema.parameters.get("scale").map(String::as_str),
            Some("0")
        );
        let expected = crate::decimal::BigDecimal::parse("99999999999999999999")
            .unwrap()
            .unscaled_bytes();
        assert_eq!(sv.value, Value::Bytes(expected));
    }

    #[test]
    fn temporal_text_becomes_logical_types() {
        let sv = read("2024-01-01");
        assert_eq!(sv.schema.unwrap().name.as_deref(), Some(logical::DATE));
        assert_eq!(sv.value, Value::Int32(19_723));
        let sv = read("12:34:56.789Z");
        assert_eq!(sv.schema.unwrap().name.as_deref(), Some(logical::TIME));
        assert_eq!(sv.value, Value::Int32(45_296_789));
        let sv = read("2024-01-01T12:34:56.789Z");
        assert_eq!(sv.schema.unwrap().name.as_deref(), Some(logical::TIMESTAMP));
        assert_eq!(sv.value, Value::Int64(1_704_112_496_789));
    }

    #[test]
    fn arrays_widen_to_a_common_numeric_schema() {
        let sv = read("[1, 300, 70000]");
        let schema = sv.schema.unwrap();
        assert_eq!(schema.schema_type, SchemaType::Array);
        assert_eq!(schema.value_schema, Some(Schema::int32()));
        assert_eq!(
            sv.value,
            Value::Array(vec![
                Value::Int32(1),
                Value::Int32(300),
                Value::Int32(70000)
            ])
        );
        let sv = read("[1, 2.5]");
        assert_eq!(sv.schema.unwrap().value_schema, Some(Schema::float32()));
        assert_eq!(
            sv.value,
            Value::Array(vec![Value::Float32(1.0), Value::Float32(2.5)])
        );
    }

    #[test]
    fn mixed_arrays_have_no_element_schema() {
        let sv = read("[1,\"a\",true]");
        let schema = sv.schema.unwrap();
        assert_eq!(schema.schema_type, SchemaType::Array);
        assert_eq!(schema.value_schema, None);
        assert_eq!(
            sv.value,
            Value::Array(vec![Value::Int8(1), "a".into(), Value::Boolean(true)])
        );
        let sv = read("[]");
        assert_eq!(sv.value, Value::Array(vec![]));
        let sv = read("[null,null]");
        assert_eq!(sv.value, Value::Array(vec![Value::Null, Value::Null]));
        // A null among elements that share a schema makes Kafka keep the text as a string.
        assert_eq!(read("[1,null]").value, Value::String("[1,null]".into()));
    }

    #[test]
    fn maps_infer_key_and_value_schemas() {
        let sv = read("{\"a\":1,\"b\":2}");
        let schema = sv.schema.unwrap();
        assert_eq!(schema.key_schema, Some(Schema::string()));
        assert_eq!(schema.value_schema, Some(Schema::int8()));
        assert_eq!(
            sv.value,
            Value::Map(vec![
                ("a".into(), Value::Int8(1)),
                ("b".into(), Value::Int8(2))
            ])
        );
        let sv = read("{\"id\":42,\"name\":\"Ada\"}");
        let schema = sv.schema.unwrap();
        assert_eq!(schema.key_schema, Some(Schema::string()));
        assert_eq!(schema.value_schema, None);
        assert_eq!(sv.value.map_get("name"), Some(&Value::String("Ada".into())));
    }

    #[test]
    fn null_and_non_utf8_headers() {
        let c = SimpleHeaderConverter::new();
        assert_eq!(
            c.to_connect_header("t", "h", None).unwrap(),
            SchemaAndValue::null()
        );
        assert_eq!(read("null"), SchemaAndValue::null());
        assert_eq!(
            c.from_connect_header("t", "h", None, &Value::Null).unwrap(),
            None
        );
        let sv = c.to_connect_header("t", "h", Some(&[0xFF, 0xFE])).unwrap();
        assert_eq!(sv.schema, Some(Schema::bytes()));
        assert_eq!(sv.value, Value::Bytes(vec![0xFF, 0xFE]));
    }

    #[test]
    fn writes_values_as_text() {
        assert_eq!(write(None, &"plain \"text\"".into()), "plain \"text\"");
        assert_eq!(write(None, &Value::Int64(-7)), "-7");
        assert_eq!(write(None, &Value::Float64(0.5)), "0.5");
        assert_eq!(write(None, &Value::Bytes(vec![1, 2, 3])), "AQID");
        let list = Value::Array(vec!["a\"b".into(), Value::Int32(1), Value::Null]);
        assert_eq!(write(None, &list), r#"["a\"b",1,null]"#);
        let map = Value::Map(vec![("k".into(), Value::Boolean(true))]);
        assert_eq!(write(None, &map), r#"{"k":true}"#);
    }

    #[test]
    fn structs_and_logical_values_round_trip_through_text() {
        let schema: SchemaRef = SchemaBuilder::struct_schema()
            .field("id", Schema::int32())
            .field("name", Schema::optional_string())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("id", 42)
            .unwrap()
            .with("name", "Ada")
            .unwrap();
        let text = write(Some(&schema), &Value::Struct(value));
        assert_eq!(text, r#"{"id":42,"name":"Ada"}"#);
        let back = read(&text);
        assert_eq!(back.value.map_get("id"), Some(&Value::Int8(42)));

        let date = SchemaBuilder::new(SchemaType::Int32)
            .name(logical::DATE)
            .build();
        let text = write(Some(&date), &Value::Int32(19_723));
        assert_eq!(text, "2024-01-01");
        assert_eq!(read(&text).value, Value::Int32(19_723));

        let decimal = SchemaBuilder::new(SchemaType::Bytes)
            .name(logical::DECIMAL)
            .parameter("scale", "2")
            .build();
        assert_eq!(
            write(Some(&decimal), &Value::Bytes(vec![0x04, 0xD2])),
            "12.34"
        );
    }

    #[test]
    fn nested_strings_with_quotes_round_trip() {
        let list = Value::Array(vec!["say \"hi\"".into(), "back\\slash".into()]);
        let text = write(None, &list);
        assert_eq!(read(&text).value, list);
    }

    #[test]
    fn nested_times_in_maps_parse() {
        let sv = read("{\"at\":12:00:00.000Z}");
        let schema = sv.schema.unwrap();
        assert_eq!(
            schema.value_schema.as_ref().and_then(|s| s.name.as_deref()),
            Some(logical::TIME)
        );
        assert_eq!(sv.value.map_get("at"), Some(&Value::Int32(43_200_000)));
    }
}
