//! `org.apache.kafka.connect.converters.ByteArrayConverter`: bytes passed through untouched.

use std::borrow::Cow;

use sluice_api::{
    ConfigDef, ConnectError, Converter, HeaderConverter, Props, Result, Schema, SchemaAndValue,
    SchemaType, Value,
};

/// Passes bytes through; the schema, if any, must be `BYTES`. Reads back an optional bytes
/// schema. It is also a header converter.
#[derive(Debug, Default, Clone)]
pub struct ByteArrayConverter;

impl ByteArrayConverter {
    /// A byte array converter.
    pub fn new() -> Self {
        Self
    }

    fn serialize<'a>(schema: Option<&Schema>, value: &'a Value) -> Result<Option<&'a [u8]>> {
        if let Some(schema) = schema
            && schema.schema_type != SchemaType::Bytes
        {
            return Err(ConnectError::data(format!(
                "Invalid schema type for ByteArrayConverter: {}",
                schema.schema_type
            )));
        }
        match value {
            Value::Null => Ok(None),
            Value::Bytes(bytes) => Ok(Some(bytes)),
            other => Err(ConnectError::data(format!(
                "ByteArrayConverter is not compatible with objects of type {}",
                other.kind_name()
            ))),
        }
    }

    fn deserialize(bytes: Option<&[u8]>) -> SchemaAndValue {
        SchemaAndValue::new(
            Some(Schema::optional_bytes()),
            bytes.map_or(Value::Null, |b| Value::Bytes(b.to_vec())),
        )
    }
}

impl Converter for ByteArrayConverter {
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
        Ok(Self::serialize(schema, value)?.map(<[u8]>::to_vec))
    }

    fn from_connect_data_borrowed<'a>(
        &self,
        _topic: &str,
        schema: Option<&Schema>,
        value: &'a Value,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        Ok(Self::serialize(schema, value)?.map(Cow::Borrowed))
    }

    fn to_connect_data(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<SchemaAndValue> {
        Ok(Self::deserialize(bytes))
    }
}

impl HeaderConverter for ByteArrayConverter {
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
        Ok(Self::serialize(schema, value)?.map(<[u8]>::to_vec))
    }

    fn from_connect_header_borrowed<'a>(
        &self,
        _topic: &str,
        _header_key: &str,
        schema: Option<&Schema>,
        value: &'a Value,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        Ok(Self::serialize(schema, value)?.map(Cow::Borrowed))
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

    #[test]
    fn bytes_pass_through_both_ways() {
        let c = ByteArrayConverter::new();
        let data = vec![0u8, 1, 0xFF];
        let out = c
            .from_connect_data("t", Some(&Schema::bytes()), &Value::Bytes(data.clone()))
            .unwrap();
        assert_eq!(out, Some(data.clone()));
        let out = c
            .from_connect_data("t", None, &Value::Bytes(data.clone()))
            .unwrap();
        assert_eq!(out, Some(data.clone()));
        let back = c.to_connect_data("t", Some(&data)).unwrap();
        assert_eq!(back.schema, Some(Schema::optional_bytes()));
        assert_eq!(back.value, Value::Bytes(data));
    }

    #[test]
    fn null_stays_null() {
        let c = ByteArrayConverter::new();
        assert_eq!(
            c.from_connect_data("t", Some(&Schema::optional_bytes()), &Value::Null)
                .unwrap(),
            None
        );
        let back = c.to_connect_data("t", None).unwrap();
        assert_eq!(back.value, Value::Null);
        assert_eq!(back.schema, Some(Schema::optional_bytes()));
    }

    #[test]
    fn other_schemas_and_values_are_rejected() {
        let c = ByteArrayConverter::new();
        let err = c
            .from_connect_data("t", Some(&Schema::string()), &Value::String("x".into()))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Invalid schema type for ByteArrayConverter: STRING"
        );
        assert!(matches!(err, ConnectError::Data(_)));
        let err = c
            .from_connect_data("t", None, &Value::Int32(1))
            .unwrap_err();
        assert!(err.to_string().contains("Integer"), "{err}");
        let err = c
            .from_connect_header("t", "h", Some(&Schema::int64()), &Value::Int64(1))
            .unwrap_err();
        assert!(err.to_string().contains("INT64"), "{err}");
    }
}
