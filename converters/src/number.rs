//! Kafka's primitive converters (`BooleanConverter`, `ShortConverter`, `IntegerConverter`,
//! `LongConverter`, `FloatConverter`, `DoubleConverter` in `org.apache.kafka.connect.converters`),
//! which use the Kafka client serializers' encodings: big-endian two's complement integers, IEEE 754
//! floats, and one byte (0 or 1) for booleans.

use sluice_api::{
    ConfigDef, ConnectError, Converter, HeaderConverter, Props, Result, Schema, SchemaAndValue,
    SchemaRef, SchemaType, Value,
};

/// Which primitive a [`NumberConverter`] handles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumberKind {
    /// `BooleanConverter`: one byte, `0x01` or `0x00`.
    Boolean,
    /// `ShortConverter`: 2 bytes.
    Short,
    /// `IntegerConverter`: 4 bytes.
    Integer,
    /// `LongConverter`: 8 bytes.
    Long,
    /// `FloatConverter`: 4 bytes of IEEE 754.
    Float,
    /// `DoubleConverter`: 8 bytes of IEEE 754.
    Double,
}

impl NumberKind {
    /// The Java class name of the converter.
    pub fn class_name(self) -> &'static str {
        match self {
            Self::Boolean => "org.apache.kafka.connect.converters.BooleanConverter",
            Self::Short => "org.apache.kafka.connect.converters.ShortConverter",
            Self::Integer => "org.apache.kafka.connect.converters.IntegerConverter",
            Self::Long => "org.apache.kafka.connect.converters.LongConverter",
            Self::Float => "org.apache.kafka.connect.converters.FloatConverter",
            Self::Double => "org.apache.kafka.connect.converters.DoubleConverter",
        }
    }

    /// The type name Kafka uses in this converter's messages.
    fn type_name(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Short => "short",
            Self::Integer => "integer",
            Self::Long => "long",
            Self::Float => "float",
            Self::Double => "double",
        }
    }

    /// The Kafka deserializer whose size check this converter performs.
    fn deserializer_name(self) -> &'static str {
        match self {
            Self::Boolean => "BooleanDeserializer",
            Self::Short => "ShortDeserializer",
            Self::Integer => "IntegerDeserializer",
            Self::Long => "LongDeserializer",
            // Kafka's float and double deserializers name no class in this message.
            Self::Float | Self::Double => "Deserializer",
        }
    }

    fn width(self) -> usize {
        match self {
            Self::Boolean => 1,
            Self::Short => 2,
            Self::Integer | Self::Float => 4,
            Self::Long | Self::Double => 8,
        }
    }

    fn schema(self) -> SchemaRef {
        match self {
            Self::Boolean => Schema::optional_boolean(),
            Self::Short => Schema::optional_int16(),
            Self::Integer => Schema::optional_int32(),
            Self::Long => Schema::optional_int64(),
            Self::Float => Schema::optional_float32(),
            Self::Double => Schema::optional_float64(),
        }
    }
}

/// A converter for one primitive type; it is also a header converter. Values must be of exactly
/// the converter's type (an `Int32` for `IntegerConverter`, ...), as Kafka's casts require.
#[derive(Debug, Clone)]
pub struct NumberConverter {
    kind: NumberKind,
}

impl NumberConverter {
    /// A converter for the given primitive.
    pub fn new(kind: NumberKind) -> Self {
        Self { kind }
    }

    /// The primitive this converter handles.
    pub fn kind(&self) -> NumberKind {
        self.kind
    }

    fn serialize(&self, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>> {
        let kind = self.kind;
        if kind == NumberKind::Boolean
            && let Some(schema) = schema
            && schema.schema_type != SchemaType::Boolean
        {
            return Err(ConnectError::data(format!(
                "Invalid schema type for BooleanConverter: {}",
                schema.schema_type
            )));
        }
        let bytes = match (kind, value) {
            (_, Value::Null) => return Ok(None),
            (NumberKind::Boolean, Value::Boolean(b)) => vec![u8::from(*b)],
            (NumberKind::Short, Value::Int16(v)) => v.to_be_bytes().to_vec(),
            (NumberKind::Integer, Value::Int32(v)) => v.to_be_bytes().to_vec(),
            (NumberKind::Long, Value::Int64(v)) => v.to_be_bytes().to_vec(),
            (NumberKind::Float, Value::Float32(v)) => v.to_bits().to_be_bytes().to_vec(),
            (NumberKind::Double, Value::Float64(v)) => v.to_bits().to_be_bytes().to_vec(),
            (NumberKind::Boolean, other) => {
                return Err(ConnectError::data(format!(
                    "BooleanConverter is not compatible with objects of type {}",
                    other.kind_name()
                )));
            }
            (_, other) => {
                return Err(ConnectError::data(format!(
                    "Failed to serialize to {} (was {})",
                    kind.type_name(),
                    other.kind_name()
                )));
            }
        };
        Ok(Some(bytes))
    }

    fn deserialize(&self, bytes: Option<&[u8]>) -> Result<SchemaAndValue> {
        let kind = self.kind;
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::new(Some(kind.schema()), Value::Null));
        };
        let failed = |why: String| {
            ConnectError::data(format!("Failed to deserialize {}: {why}", kind.type_name()))
        };
        if bytes.len() != kind.width() {
            return Err(failed(format!(
                "Size of data received by {} is not {}",
                kind.deserializer_name(),
                kind.width()
            )));
        }
        let mut buf = [0u8; 8];
        buf[8 - bytes.len()..].copy_from_slice(bytes);
        let value = match kind {
            NumberKind::Boolean => match bytes[0] {
                0 => Value::Boolean(false),
                1 => Value::Boolean(true),
                other => {
                    return Err(failed(format!(
                        "Unexpected byte received by BooleanDeserializer: {}",
                        other as i8
                    )));
                }
            },
            NumberKind::Short => Value::Int16(i16::from_be_bytes([bytes[0], bytes[1]])),
            NumberKind::Integer => {
                Value::Int32(i32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
            }
            NumberKind::Long => Value::Int64(i64::from_be_bytes(buf)),
            NumberKind::Float => Value::Float32(f32::from_bits(u32::from_be_bytes([
                bytes[0], bytes[1], bytes[2], bytes[3],
            ]))),
            NumberKind::Double => Value::Float64(f64::from_bits(u64::from_be_bytes(buf))),
        };
        Ok(SchemaAndValue::new(Some(kind.schema()), value))
    }
}

impl Converter for NumberConverter {
    fn config_def(&self) -> ConfigDef {
        crate::converter_type_def()
    }

    fn configure(&mut self, _props: &Props, _is_key: bool) -> Result<()> {
        Ok(())
    }

    fn from_connect_data(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>> {
        self.serialize(schema, value)
    }

    fn to_connect_data(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<SchemaAndValue> {
        self.deserialize(bytes)
    }
}

impl HeaderConverter for NumberConverter {
    fn config_def(&self) -> ConfigDef {
        crate::converter_type_def()
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
        self.serialize(schema, value)
    }

    fn to_connect_header(
        &self,
        _topic: &str,
        _header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue> {
        self.deserialize(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(kind: NumberKind, value: Value, want: &[u8]) {
        let c = NumberConverter::new(kind);
        let bytes = c.from_connect_data("t", None, &value).unwrap().unwrap();
        assert_eq!(bytes, want, "{kind:?}");
        let back = c.to_connect_data("t", Some(&bytes)).unwrap();
        assert_eq!(back.value, value);
        assert_eq!(back.schema, Some(kind.schema()));
    }

    #[test]
    fn encodings_match_kafka_serializers() {
        round_trip(NumberKind::Boolean, Value::Boolean(true), &[1]);
        round_trip(NumberKind::Boolean, Value::Boolean(false), &[0]);
        round_trip(NumberKind::Short, Value::Int16(-2), &[0xFF, 0xFE]);
        round_trip(
            NumberKind::Integer,
            Value::Int32(0x0102_0304),
            &[1, 2, 3, 4],
        );
        round_trip(
            NumberKind::Long,
            Value::Int64(-1),
            &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        );
        round_trip(NumberKind::Float, Value::Float32(1.5), &[0x3F, 0xC0, 0, 0]);
        round_trip(
            NumberKind::Double,
            Value::Float64(-2.0),
            &[0xC0, 0, 0, 0, 0, 0, 0, 0],
        );
    }

    #[test]
    fn nulls_stay_null() {
        for kind in [NumberKind::Boolean, NumberKind::Long, NumberKind::Double] {
            let c = NumberConverter::new(kind);
            assert_eq!(c.from_connect_data("t", None, &Value::Null).unwrap(), None);
            let back = c.to_connect_data("t", None).unwrap();
            assert_eq!(back.value, Value::Null);
            assert_eq!(back.schema, Some(kind.schema()));
        }
    }

    #[test]
    fn wrong_sizes_and_types_are_errors() {
        let c = NumberConverter::new(NumberKind::Integer);
        let err = c.to_connect_data("t", Some(&[1, 2])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Failed to deserialize integer: Size of data received by IntegerDeserializer is not 4"
        );
        let err = c
            .from_connect_data("t", None, &Value::Int64(1))
            .unwrap_err();
        assert_eq!(err.to_string(), "Failed to serialize to integer (was Long)");

        let b = NumberConverter::new(NumberKind::Boolean);
        assert!(b.to_connect_data("t", Some(&[2])).is_err());
        let err = b
            .from_connect_data("t", Some(&Schema::int8()), &Value::Int8(1))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid schema type for BooleanConverter: INT8"
        );
    }
}
