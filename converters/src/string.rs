//! `org.apache.kafka.connect.storage.StringConverter`: values as UTF-8 text.

use std::borrow::Cow;

use sluice_api::data::logical;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, Converter, DefaultValue, HeaderConverter,
    Importance, Props, Result, Schema, SchemaAndValue, Value, Width,
};

use crate::decimal::{BigDecimal, decimal_scale};
use crate::java_text::{MILLIS_PER_DAY, double_to_string, float_to_string, java_date_to_string};

/// Setting: the character set of the text.
pub const ENCODING_CONFIG: &str = "converter.encoding";

/// Writes any value as text (strings as they are, other values as Java's `toString` renders
/// them) and reads bytes back as an optional string. It is also a header converter.
///
/// Only UTF-8 is supported; Kafka accepts any Java charset name.
#[derive(Debug, Default, Clone)]
pub struct StringConverter;

impl StringConverter {
    /// A UTF-8 string converter.
    pub fn new() -> Self {
        Self
    }

    /// The converter's settings (`StringConverterConfig`).
    pub fn definition() -> ConfigDef {
        let mut encoding = ConfigKey::new(
            ENCODING_CONFIG,
            ConfigType::String,
            DefaultValue::Value("UTF-8".into()),
            Importance::High,
            "The name of the Java character set to use for encoding strings as byte arrays.",
        );
        encoding.width = Width::Medium;
        encoding.display_name = Some("Encoding".into());
        crate::converter_type_def().define(encoding)
    }

    fn apply(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let encoding = config.string(ENCODING_CONFIG).unwrap_or("UTF-8");
        if encoding.eq_ignore_ascii_case("UTF-8") || encoding.eq_ignore_ascii_case("UTF8") {
            Ok(())
        } else {
            Err(ConnectError::config(format!(
                "Invalid value {encoding} for configuration {ENCODING_CONFIG}: Sluice's StringConverter supports only UTF-8"
            )))
        }
    }

    fn serialize<'a>(schema: Option<&Schema>, value: &'a Value) -> Option<Cow<'a, [u8]>> {
        match value {
            Value::Null => None,
            Value::String(s) => Some(Cow::Borrowed(s.as_bytes())),
            // Java would print a useless `[B@1b6d3586`; passing bytes through keeps the data.
            Value::Bytes(bytes) if !is_decimal(schema) => Some(Cow::Borrowed(bytes)),
            other => Some(Cow::Owned(java_to_string(other, schema).into_bytes())),
        }
    }

    fn deserialize(bytes: Option<&[u8]>) -> SchemaAndValue {
        let value = match bytes {
            None => Value::Null,
            // Like Java's decoder, malformed sequences become U+FFFD rather than failing.
            Some(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        };
        SchemaAndValue::new(Some(Schema::optional_string()), value)
    }
}

fn is_decimal(schema: Option<&Schema>) -> bool {
    schema.and_then(|s| s.name.as_deref()) == Some(logical::DECIMAL)
}

/// Renders a value as Java's `toString` would for the object Kafka Connect holds: `Double` and
/// `Float` text, `BigDecimal` for decimals, `java.util.Date` for dates and times, `[a, b]` for
/// lists, `{k=v}` for maps and `Struct{f=v}` (non-null fields only) for structs. Bytes, which Java
/// prints as an identity hash, are rendered as Base64.
pub(crate) fn java_to_string(value: &Value, schema: Option<&Schema>) -> String {
    let name = schema.and_then(|s| s.name.as_deref());
    match (name, value) {
        (_, Value::Null) => "null".to_owned(),
        (Some(logical::DECIMAL), Value::Bytes(unscaled)) => schema
            .and_then(|s| decimal_scale(s).ok())
            .and_then(|scale| BigDecimal::from_unscaled_bytes(unscaled, scale).ok())
            .map(|d| d.to_java_string())
            .unwrap_or_else(|| base64_text(unscaled)),
        (Some(logical::DATE), Value::Int32(days)) => {
            java_date_to_string(i64::from(*days) * MILLIS_PER_DAY)
        }
        (Some(logical::TIME), Value::Int32(ms)) => java_date_to_string(i64::from(*ms)),
        (Some(logical::TIMESTAMP), Value::Int64(ms)) => java_date_to_string(*ms),
        (_, Value::Boolean(b)) => b.to_string(),
        (_, Value::Int8(v)) => v.to_string(),
        (_, Value::Int16(v)) => v.to_string(),
        (_, Value::Int32(v)) => v.to_string(),
        (_, Value::Int64(v)) => v.to_string(),
        (_, Value::Float32(v)) => float_to_string(*v),
        (_, Value::Float64(v)) => double_to_string(*v),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Bytes(b)) => base64_text(b),
        (_, Value::Array(items)) => {
            let item_schema = schema.and_then(|s| s.value_schema.as_deref());
            let parts: Vec<String> = items
                .iter()
                .map(|item| java_to_string(item, item_schema))
                .collect();
            format!("[{}]", parts.join(", "))
        }
        (_, Value::Map(entries)) => {
            let key_schema = schema.and_then(|s| s.key_schema.as_deref());
            let value_schema = schema.and_then(|s| s.value_schema.as_deref());
            let parts: Vec<String> = entries
                .iter()
                .map(|(k, v)| {
                    format!(
                        "{}={}",
                        java_to_string(k, key_schema),
                        java_to_string(v, value_schema)
                    )
                })
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        (_, Value::Struct(s)) => {
            let parts: Vec<String> = s
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(field, v)| {
                    format!("{}={}", field.name, java_to_string(v, Some(&field.schema)))
                })
                .collect();
            format!("Struct{{{}}}", parts.join(","))
        }
    }
}

fn base64_text(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

impl Converter for StringConverter {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props, _is_key: bool) -> Result<()> {
        self.apply(props)
    }

    fn from_connect_data(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        Ok(Self::serialize(schema, value).map(Cow::into_owned))
    }

    fn from_connect_data_borrowed<'a>(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &'a Value,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        Ok(Self::serialize(schema, value))
    }

    fn to_connect_data(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<SchemaAndValue> {
        Ok(Self::deserialize(bytes))
    }
}

impl HeaderConverter for StringConverter {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        self.apply(props)
    }

    fn from_connect_header(
        &self,
        _topic: &str,
        _header_key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        Ok(Self::serialize(schema, value).map(Cow::into_owned))
    }

    fn from_connect_header_borrowed<'a>(
        &self,
        _topic: &str,
        _header_key: &str,
        schema: Option<&Schema>,
        value: &'a Value,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        Ok(Self::serialize(schema, value))
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue> {
        Ok(Self::deserialize(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::{SchemaBuilder, SchemaType, Struct};

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn write(schema: Option<&Schema>, value: &Value) -> Option<Vec<u8>> {
        StringConverter::new()
            .from_connect_data("t", schema, value)
            .unwrap()
    }

    #[test]
    fn strings_round_trip_as_utf8() {
        let c = StringConverter::new();
        let bytes = write(Some(&Schema::string()), &"héllo".into()).unwrap();
        assert_eq!(bytes, "héllo".as_bytes());
        let back = c.to_connect_data("t", Some(&bytes)).unwrap();
        assert_eq!(back.value, Value::String("héllo".into()));
        assert_eq!(back.schema, Some(Schema::optional_string()));
    }

    #[test]
    fn null_stays_null_with_an_optional_string_schema() {
        let c = StringConverter::new();
        assert_eq!(write(None, &Value::Null), None);
        assert_eq!(write(Some(&Schema::optional_string()), &Value::Null), None);
        let back = c.to_connect_data("t", None).unwrap();
        assert_eq!(back.value, Value::Null);
        assert_eq!(back.schema, Some(Schema::optional_string()));
    }

    #[test]
    fn non_strings_render_like_java_to_string() {
        assert_eq!(write(None, &Value::Int32(42)).unwrap(), b"42");
        assert_eq!(write(None, &Value::Float64(1e7)).unwrap(), b"1.0E7");
        assert_eq!(write(None, &Value::Float32(0.5)).unwrap(), b"0.5");
        assert_eq!(write(None, &Value::Boolean(true)).unwrap(), b"true");
        let list = Value::Array(vec!["a".into(), Value::Int64(2), Value::Null]);
        assert_eq!(write(None, &list).unwrap(), b"[a, 2, null]");
        let map = Value::Map(vec![
            ("k".into(), Value::Int32(1)),
            ("j".into(), "v".into()),
        ]);
        assert_eq!(write(None, &map).unwrap(), b"{k=1, j=v}");
    }

    #[test]
    fn structs_and_logical_types_render_like_java() {
        let schema = SchemaBuilder::struct_schema()
            .field("id", Schema::int32())
            .field("name", Schema::optional_string())
            .field("score", Schema::optional_float64())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("id", 7)
            .unwrap()
            .with("score", 2.5)
            .unwrap();
        assert_eq!(
            write(Some(&schema), &Value::Struct(value)).unwrap(),
            b"Struct{id=7,score=2.5}"
        );

        let decimal = SchemaBuilder::new(SchemaType::Bytes)
            .name(logical::DECIMAL)
            .parameter("scale", "2")
            .build();
        assert_eq!(
            write(Some(&decimal), &Value::Bytes(vec![0x04, 0xD2])).unwrap(),
            b"12.34"
        );
        let date = SchemaBuilder::new(SchemaType::Int32)
            .name(logical::DATE)
            .build();
        assert_eq!(
            write(Some(&date), &Value::Int32(19_723)).unwrap(),
            b"Mon Jan 01 00:00:00 UTC 2024"
        );
    }

    #[test]
    fn bytes_pass_through() {
        assert_eq!(
            write(None, &Value::Bytes(vec![0xFF, 0x00])).unwrap(),
            vec![0xFF, 0x00]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced_like_java() {
        let back = StringConverter::new()
            .to_connect_data("t", Some(b"a\xFFb"))
            .unwrap();
        assert_eq!(back.value, Value::String("a\u{FFFD}b".into()));
    }

    #[test]
    fn encoding_must_be_utf8() {
        let mut c = StringConverter::new();
        Converter::configure(&mut c, &props(&[(ENCODING_CONFIG, "utf8")]), false).unwrap();
        Converter::configure(&mut c, &props(&[(ENCODING_CONFIG, "UTF-8")]), true).unwrap();
        Converter::configure(&mut c, &props(&[]), true).unwrap();
        let err = Converter::configure(&mut c, &props(&[(ENCODING_CONFIG, "ISO-8859-1")]), false)
            .unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
        assert!(err.to_string().contains("ISO-8859-1"), "{err}");
        let err =
            HeaderConverter::configure(&mut c, &props(&[(ENCODING_CONFIG, "UTF-16")])).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
    }
}
