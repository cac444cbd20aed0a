//! Converters between Connect data and the bytes stored in Kafka.

use std::borrow::Cow;

use crate::config::{ConfigDef, Props};
use crate::data::{Schema, SchemaAndValue, Value};
use crate::error::Result;

/// Turns keys and values into bytes and back (Kafka's `Converter`).
pub trait Converter: Send + Sync {
    /// The converter's settings.
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    /// Configures the converter (the `key.converter.`/`value.converter.` prefix removed).
    fn configure(&mut self, props: &Props, is_key: bool) -> Result<()>;

    /// Serializes a value; `Ok(None)` is a null record key or value.
    // Named as in Kafka's Converter so plugin authors recognise it.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_data(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>>;

    /// [`Converter::from_connect_data`], with leave to borrow the bytes from `value`: converters
    /// that pass bytes or text through override it to save a copy per record. The worker's
    /// source path calls this one; plugins need only implement `from_connect_data`.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_data_borrowed<'a>(
        &self,
        topic: &str,
        schema: Option<&Schema>,
        value: &'a Value,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        Ok(self
            .from_connect_data(topic, schema, value)?
            .map(Cow::Owned))
    }

    /// Deserializes bytes; `None` (a null key or a tombstone) gives a null value.
    fn to_connect_data(&self, topic: &str, bytes: Option<&[u8]>) -> Result<SchemaAndValue>;
}

/// Turns header values into bytes and back (Kafka's `HeaderConverter`).
pub trait HeaderConverter: Send + Sync {
    /// The converter's settings.
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    /// Configures the converter (the `header.converter.` prefix removed).
    fn configure(&mut self, props: &Props) -> Result<()>;

    /// Serializes one header value.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_header(
        &self,
        topic: &str,
        header_key: &str,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<Option<Vec<u8>>>;

    /// [`HeaderConverter::from_connect_header`], with leave to borrow the bytes from `value` (or
    /// to return constant ones): saves an allocation per header where the text is already there.
    #[allow(clippy::wrong_self_convention)]
    fn from_connect_header_borrowed<'a>(
        &self,
        topic: &str,
        header_key: &str,
        schema: Option<&Schema>,
        value: &'a Value,
    ) -> Result<Option<Cow<'a, [u8]>>> {
        Ok(self
            .from_connect_header(topic, header_key, schema, value)?
            .map(Cow::Owned))
    }

    /// Deserializes one header value.
    fn to_connect_header(
        &self,
        topic: &str,
        header_key: &str,
        bytes: Option<&[u8]>,
    ) -> Result<SchemaAndValue>;
}
