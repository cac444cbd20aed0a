//! `org.apache.kafka.connect.json.JsonConverter`: Connect data as JSON, by default wrapped in a
//! `{"schema":...,"payload":...}` envelope that carries the schema with every message.

mod schema;
#[cfg(test)]
mod tests;
mod text;

use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sluice_api::data::logical;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, Converter, DefaultValue, HeaderConverter,
    Importance, Props, Result, Schema, SchemaAndValue, SchemaRef, SchemaType, Struct, Validator,
    Value, Width,
};

use crate::cache::LruCache;
use crate::decimal::{BigDecimal, decimal_scale};
use text::{JsonNode, parse_document, write_f32, write_f64, write_string};

/// Setting: whether messages carry their schema in an envelope.
pub const SCHEMAS_ENABLE_CONFIG: &str = "schemas.enable";
/// Setting: how many schema translations each direction caches.
pub const SCHEMAS_CACHE_SIZE_CONFIG: &str = "schemas.cache.size";
/// Setting: how `Decimal` values are written (`BASE64` or `NUMERIC`).
pub const DECIMAL_FORMAT_CONFIG: &str = "decimal.format";
/// Setting: whether a null with a schema default is written (and read) as the default.
pub const REPLACE_NULL_WITH_DEFAULT_CONFIG: &str = "replace.null.with.default";

const ENVELOPE_ERROR: &str = "JsonConverter with schemas.enable requires \"schema\" and \"payload\" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.";

/// How `Decimal` values are written as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecimalFormat {
    /// The unscaled two's-complement bytes, Base64-encoded (Kafka's default).
    #[default]
    Base64,
    /// A JSON number, e.g. `10.50`.
    Numeric,
}

/// Value conversion settings shared by payloads and schema defaults.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Codec {
    decimal_format: DecimalFormat,
    replace_null_with_default: bool,
}

impl Default for Codec {
    fn default() -> Self {
        Self {
            decimal_format: DecimalFormat::Base64,
            replace_null_with_default: true,
        }
    }
}

/// Kafka Connect's JSON converter; it is also a header converter.
pub struct JsonConverter {
    schemas_enabled: bool,
    codec: Codec,
    /// Rendered schema JSON, keyed by the schema's address and checked for equality on a hit.
    schema_json_cache: Mutex<LruCache<usize, (Schema, Arc<str>)>>,
    /// Schemas read from messages, keyed by the exact schema JSON text.
    connect_schema_cache: Mutex<LruCache<Vec<u8>, SchemaRef>>,
}

impl Default for JsonConverter {
    fn default() -> Self {
        Self::with_settings(true, 1000, DecimalFormat::Base64, true)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A cache left half-updated by a panic is still a valid cache.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl JsonConverter {
    /// A converter with Kafka's defaults: schemas enabled, 1000 cached schemas, Base64 decimals,
    /// nulls replaced by defaults.
    pub fn new() -> Self {
        Self::default()
    }

    fn with_settings(
        schemas_enabled: bool,
        cache_size: usize,
        decimal_format: DecimalFormat,
        replace_null_with_default: bool,
    ) -> Self {
        Self {
            schemas_enabled,
            codec: Codec {
                decimal_format,
                replace_null_with_default,
            },
            schema_json_cache: Mutex::new(LruCache::new(cache_size)),
            connect_schema_cache: Mutex::new(LruCache::new(cache_size)),
        }
    }

    /// The converter's settings (`JsonConverterConfig`).
    pub fn definition() -> ConfigDef {
        crate::converter_type_def()
            .define(
                ConfigKey::new(
                    SCHEMAS_ENABLE_CONFIG,
                    ConfigType::Boolean,
                    DefaultValue::Value("true".into()),
                    Importance::High,
                    "Include schemas within each of the serialized values and keys.",
                )
                .in_group("Schemas", 0, Width::Medium, "Enable Schemas"),
            )
            .define(
                ConfigKey::new(
                    SCHEMAS_CACHE_SIZE_CONFIG,
                    ConfigType::Int,
                    DefaultValue::Value("1000".into()),
                    Importance::High,
                    "The maximum number of schemas that can be cached in this converter instance.",
                )
                .in_group("Schemas", 1, Width::Medium, "Schema Cache Size"),
            )
            .define(
                ConfigKey::new(
                    DECIMAL_FORMAT_CONFIG,
                    ConfigType::String,
                    DefaultValue::Value("BASE64".into()),
                    Importance::Low,
                    "Controls which format this converter will serialize decimals in. This value is case insensitive and can be either 'BASE64' (default) or 'NUMERIC'",
                )
                .validator(Validator::one_of_ignore_case(&["BASE64", "NUMERIC"]))
                .in_group("Serialization", 0, Width::Medium, "Decimal Format"),
            )
            .define(
                ConfigKey::new(
                    REPLACE_NULL_WITH_DEFAULT_CONFIG,
                    ConfigType::Boolean,
                    DefaultValue::Value("true".into()),
                    Importance::Low,
                    "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used.",
                )
                .in_group("Serialization", 1, Width::Medium, "Replace null with default"),
            )
    }

    fn apply(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let decimal_format = match config.string(DECIMAL_FORMAT_CONFIG) {
            Some(f) if f.eq_ignore_ascii_case("NUMERIC") => DecimalFormat::Numeric,
            _ => DecimalFormat::Base64,
        };
        let cache_size = config.int(SCHEMAS_CACHE_SIZE_CONFIG).unwrap_or(1000).max(0) as usize;
        *self = Self::with_settings(
            config.bool(SCHEMAS_ENABLE_CONFIG).unwrap_or(true),
            cache_size,
            decimal_format,
            config
                .bool(REPLACE_NULL_WITH_DEFAULT_CONFIG)
                .unwrap_or(true),
        );
        Ok(())
    }

    /// The JSON form of a schema, as the envelope's `schema` member holds it.
    pub fn schema_to_json(&self, schema: &Schema) -> Result<Arc<str>> {
        let key = schema as *const Schema as usize;
        if let Some((cached_schema, json)) = lock(&self.schema_json_cache).get(&key)
            && cached_schema == *schema
        {
            return Ok(json);
        }
        let mut out = String::new();
        self.codec.write_schema(&mut out, schema, None)?;
        let json: Arc<str> = out.into();
        lock(&self.schema_json_cache).put(key, (schema.clone(), json.clone()));
        Ok(json)
    }

    /// Reads a schema from its JSON form; `null` is no schema.
    pub fn schema_from_json(&self, json: &[u8]) -> Result<Option<SchemaRef>> {
        let document = parse_document(json).map_err(|e| ConnectError::data(e.to_string()))?;
        let node = document
            .root
            .ok_or_else(|| ConnectError::data("Schema JSON is empty"))?;
        self.cached_schema(&node, json)
    }

    fn cached_schema(&self, node: &JsonNode, raw: &[u8]) -> Result<Option<SchemaRef>> {
        if matches!(node, JsonNode::Null) {
            return Ok(None);
        }
        if let Some(schema) = lock(&self.connect_schema_cache).get(raw) {
            return Ok(Some(schema));
        }
        let schema = self.codec.read_schema(node)?;
        if let Some(schema) = &schema {
            lock(&self.connect_schema_cache).put(raw.to_vec(), schema.clone());
        }
        Ok(schema)
    }

    fn serialize(&self, schema: Option<&Schema>, value: &Value) -> Result<Option<Vec<u8>>> {
        if schema.is_none() && value.is_null() {
            return Ok(None);
        }
        let mut out = String::new();
        if self.schemas_enabled {
            out.push_str("{\"schema\":");
            match schema {
                Some(schema) => out.push_str(&self.schema_to_json(schema)?),
                None => out.push_str("null"),
            }
            out.push_str(",\"payload\":");
            self.codec.write_value(&mut out, schema, value)?;
            out.push('}');
        } else {
            self.codec.write_value(&mut out, schema, value)?;
        }
        Ok(Some(out.into_bytes()))
    }

    fn deserialize(&self, bytes: Option<&[u8]>) -> Result<SchemaAndValue> {
        let Some(bytes) = bytes else {
            return Ok(SchemaAndValue::null());
        };
        let document = parse_document(bytes).map_err(|e| {
            ConnectError::data(format!(
                "Converting byte[] to Kafka Connect data failed due to serialization error: {e}"
            ))
        })?;
        if !self.schemas_enabled {
            let value = self.codec.read_value(None, document.root.as_ref())?;
            return Ok(SchemaAndValue::new(None, value));
        }
        let is_envelope = matches!(&document.root, Some(JsonNode::Object(members))
            if members.len() == 2
                && members.iter().any(|(k, _)| k == "schema")
                && members.iter().any(|(k, _)| k == "payload"));
        let (Some(root), true) = (&document.root, is_envelope) else {
            return Err(ConnectError::data(ENVELOPE_ERROR));
        };
        let schema_node = root.get("schema").unwrap_or(&JsonNode::Null);
        let schema_text = document
            .member_spans
            .iter()
            .rev()
            .find(|(k, _)| k == "schema")
            .map(|(_, span)| &bytes[span.clone()])
            .unwrap_or_default();
        let schema = self.cached_schema(schema_node, schema_text)?;
        let value = self
            .codec
            .read_value(schema.as_ref(), root.get("payload"))?;
        Ok(SchemaAndValue::new(schema, value))
    }
}

impl Converter for JsonConverter {
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
        self.serialize(schema, value)
    }

    fn to_connect_data(&self, _topic: &str, bytes: Option<&[u8]>) -> Result<SchemaAndValue> {
        self.deserialize(bytes)
    }
}

impl HeaderConverter for JsonConverter {
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

fn invalid_type(schema_type: SchemaType, value: &Value) -> ConnectError {
    ConnectError::data(format!(
        "Invalid type for {schema_type}: {}",
        value.kind_name()
    ))
}

impl Codec {
    /// Appends the JSON form of a value (`JsonConverter.convertToJson`).
    pub(crate) fn write_value(
        &self,
        out: &mut String,
        schema: Option<&Schema>,
        value: &Value,
    ) -> Result<()> {
        if value.is_null() {
            let Some(schema) = schema else {
                out.push_str("null");
                return Ok(());
            };
            if self.replace_null_with_default
                && let Some(default) = schema.default_value.as_ref().filter(|d| !d.is_null())
            {
                return self.write_value(out, Some(schema), default);
            }
            if schema.optional {
                out.push_str("null");
                return Ok(());
            }
            return Err(ConnectError::data(
                "Conversion error: null value for field that is required and has no default value",
            ));
        }

        if let Some(schema) = schema
            && self.write_logical(out, schema, value)?
        {
            return Ok(());
        }

        let schema_type = match schema {
            Some(schema) => schema.schema_type,
            None => value.inferred_type().unwrap_or(SchemaType::String),
        };
        match (schema_type, value) {
            (SchemaType::Int8, Value::Int8(v)) => out.push_str(&v.to_string()),
            (SchemaType::Int16, Value::Int16(v)) => out.push_str(&v.to_string()),
            (SchemaType::Int32, Value::Int32(v)) => out.push_str(&v.to_string()),
            (SchemaType::Int64, Value::Int64(v)) => out.push_str(&v.to_string()),
            (SchemaType::Float32, Value::Float32(v)) => write_f32(out, *v),
            (SchemaType::Float64, Value::Float64(v)) => write_f64(out, *v),
            (SchemaType::Boolean, Value::Boolean(b)) => {
                out.push_str(if *b { "true" } else { "false" })
            }
            (SchemaType::String, Value::String(s)) => write_string(out, s),
            (SchemaType::Bytes, Value::Bytes(b)) => write_string(out, &BASE64.encode(b)),
            (SchemaType::Array, Value::Array(items)) => {
                let item_schema = schema.and_then(|s| s.value_schema.as_deref());
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    self.write_value(out, item_schema, item)?;
                }
                out.push(']');
            }
            (SchemaType::Map, Value::Map(entries)) => self.write_map(out, schema, entries)?,
            (SchemaType::Struct, Value::Struct(s)) => self.write_struct(out, schema, s)?,
            _ => return Err(invalid_type(schema_type, value)),
        }
        Ok(())
    }

    /// Writes a logical-type value; `false` when the schema is not a logical type.
    fn write_logical(&self, out: &mut String, schema: &Schema, value: &Value) -> Result<bool> {
        match (schema.name.as_deref(), value) {
            (Some(logical::DECIMAL), Value::Bytes(unscaled)) => {
                let decimal = BigDecimal::from_unscaled_bytes(unscaled, decimal_scale(schema)?)?;
                match self.decimal_format {
                    DecimalFormat::Base64 => {
                        write_string(out, &BASE64.encode(decimal.unscaled_bytes()))
                    }
                    DecimalFormat::Numeric => out.push_str(&decimal.to_java_string()),
                }
            }
            (Some(logical::DECIMAL), other) => {
                return Err(ConnectError::data(format!(
                    "Invalid type for Decimal, expected bytes holding the unscaled value but was {}",
                    other.kind_name()
                )));
            }
            (Some(logical::DATE | logical::TIME), Value::Int32(v)) => out.push_str(&v.to_string()),
            (Some(name @ (logical::DATE | logical::TIME)), other) => {
                return Err(ConnectError::data(format!(
                    "Invalid type for {}, expected Integer but was {}",
                    short_logical_name(name),
                    other.kind_name()
                )));
            }
            (Some(logical::TIMESTAMP), Value::Int64(v)) => out.push_str(&v.to_string()),
            (Some(logical::TIMESTAMP), other) => {
                return Err(ConnectError::data(format!(
                    "Invalid type for Timestamp, expected Long but was {}",
                    other.kind_name()
                )));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn write_map(
        &self,
        out: &mut String,
        schema: Option<&Schema>,
        entries: &[(Value, Value)],
    ) -> Result<()> {
        let key_schema = schema.and_then(|s| s.key_schema.as_deref());
        let value_schema = schema.and_then(|s| s.value_schema.as_deref());
        // String keys make a JSON object; any other key type makes an array of [key, value] pairs.
        let object_mode = match key_schema {
            Some(k) => k.schema_type == SchemaType::String,
            None => entries.iter().all(|(k, _)| matches!(k, Value::String(_))),
        };
        if object_mode {
            out.push('{');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let key = match key {
                    Value::String(s) => s.as_str(),
                    Value::Null => {
                        return Err(ConnectError::data("Map keys may not be null"));
                    }
                    other => return Err(invalid_type(SchemaType::String, other)),
                };
                write_string(out, key);
                out.push(':');
                self.write_value(out, value_schema, value)?;
            }
            out.push('}');
        } else {
            out.push('[');
            for (i, (key, value)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('[');
                self.write_value(out, key_schema, key)?;
                out.push(',');
                self.write_value(out, value_schema, value)?;
                out.push(']');
            }
            out.push(']');
        }
        Ok(())
    }

    fn write_struct(
        &self,
        out: &mut String,
        schema: Option<&Schema>,
        value: &Struct,
    ) -> Result<()> {
        if let Some(schema) = schema
            && !std::ptr::eq(value.schema().as_ref(), schema)
            && value.schema().as_ref() != schema
        {
            return Err(ConnectError::data("Mismatching schema."));
        }
        out.push('{');
        for (i, (field, field_value)) in value.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(out, &field.name);
            out.push(':');
            self.write_value(out, Some(&field.schema), field_value)?;
        }
        out.push('}');
        Ok(())
    }

    /// Converts a JSON node to Connect data (`JsonConverter.convertToConnect`); a missing node is
    /// null.
    pub(crate) fn read_value(
        &self,
        schema: Option<&SchemaRef>,
        node: Option<&JsonNode>,
    ) -> Result<Value> {
        let node = node.filter(|n| !matches!(n, JsonNode::Null));
        let Some(schema) = schema else {
            return read_schemaless(node);
        };
        let Some(node) = node else {
            if self.replace_null_with_default
                && let Some(default) = &schema.default_value
            {
                return Ok(default.clone());
            }
            if schema.optional {
                return Ok(Value::Null);
            }
            return Err(ConnectError::data(format!(
                "Invalid null value for required {} field",
                schema.schema_type
            )));
        };

        if let Some(value) = read_logical(schema, node)? {
            return Ok(value);
        }

        let mismatch = |expected: &str| {
            ConnectError::data(format!(
                "Invalid value for {} field: expected {expected} but found {}",
                schema.schema_type,
                node.node_type()
            ))
        };
        Ok(match schema.schema_type {
            SchemaType::Boolean => match node {
                JsonNode::Bool(b) => Value::Boolean(*b),
                _ => return Err(mismatch("a boolean")),
            },
            SchemaType::Int8 => Value::Int8(read_integer(schema.schema_type, node)?),
            SchemaType::Int16 => Value::Int16(read_integer(schema.schema_type, node)?),
            SchemaType::Int32 => Value::Int32(read_integer(schema.schema_type, node)?),
            SchemaType::Int64 => Value::Int64(read_integer(schema.schema_type, node)?),
            SchemaType::Float32 => match node {
                JsonNode::Number(text) => Value::Float32(parse_number(text)?),
                JsonNode::String(s) => {
                    Value::Float32(non_finite(s).ok_or_else(|| mismatch("a number"))? as f32)
                }
                _ => return Err(mismatch("a number")),
            },
            SchemaType::Float64 => match node {
                JsonNode::Number(text) => Value::Float64(parse_number(text)?),
                JsonNode::String(s) => {
                    Value::Float64(non_finite(s).ok_or_else(|| mismatch("a number"))?)
                }
                _ => return Err(mismatch("a number")),
            },
            SchemaType::String => match node {
                JsonNode::String(s) => Value::String(s.clone()),
                _ => return Err(mismatch("a string")),
            },
            SchemaType::Bytes => match node {
                JsonNode::String(s) => Value::Bytes(decode_base64(s)?),
                _ => return Err(mismatch("Base64 text")),
            },
            SchemaType::Array => match node {
                JsonNode::Array(items) => Value::Array(
                    items
                        .iter()
                        .map(|item| self.read_value(schema.value_schema.as_ref(), Some(item)))
                        .collect::<Result<_>>()?,
                ),
                _ => return Err(mismatch("an array")),
            },
            SchemaType::Map => self.read_map(schema, node)?,
            SchemaType::Struct => {
                let JsonNode::Object(_) = node else {
                    return Err(ConnectError::data(format!(
                        "Structs should be encoded as JSON objects, but found {}",
                        node.node_type()
                    )));
                };
                let mut result = Struct::new(schema.clone())?;
                for field in &schema.fields {
                    let value = self.read_value(Some(&field.schema), node.get(&field.name))?;
                    result.put(&field.name, value)?;
                }
                Value::Struct(result)
            }
        })
    }

    fn read_map(&self, schema: &SchemaRef, node: &JsonNode) -> Result<Value> {
        let key_schema = schema.key_schema.as_ref();
        let value_schema = schema.value_schema.as_ref();
        let string_keys = key_schema.is_none_or(|k| k.schema_type == SchemaType::String);
        let mut entries = Vec::new();
        if string_keys {
            let JsonNode::Object(members) = node else {
                return Err(ConnectError::data(format!(
                    "Maps with string fields should be encoded as JSON objects, but found {}",
                    node.node_type()
                )));
            };
            for (key, value) in members {
                entries.push((
                    Value::String(key.clone()),
                    self.read_value(value_schema, Some(value))?,
                ));
            }
        } else {
            let JsonNode::Array(pairs) = node else {
                return Err(ConnectError::data(format!(
                    "Maps with non-string fields should be encoded as JSON array of tuples, but found {}",
                    node.node_type()
                )));
            };
            for pair in pairs {
                let JsonNode::Array(pair) = pair else {
                    return Err(ConnectError::data(format!(
                        "Found invalid map entry instead of array tuple: {}",
                        pair.node_type()
                    )));
                };
                let [key, value] = pair.as_slice() else {
                    return Err(ConnectError::data(format!(
                        "Found invalid map entry, expected length 2 but found :{}",
                        pair.len()
                    )));
                };
                entries.push((
                    self.read_value(key_schema, Some(key))?,
                    self.read_value(value_schema, Some(value))?,
                ));
            }
        }
        Ok(Value::Map(entries))
    }
}

fn short_logical_name(name: &str) -> &str {
    name.rsplit('.').next().unwrap_or(name)
}

/// Reads a logical-type value; `None` when the schema is not a logical type.
fn read_logical(schema: &Schema, node: &JsonNode) -> Result<Option<Value>> {
    let Some(name) = schema.name.as_deref() else {
        return Ok(None);
    };
    let value = match name {
        logical::DECIMAL => {
            let scale = decimal_scale(schema)?;
            let decimal = match node {
                JsonNode::Number(text) => {
                    let parsed = BigDecimal::parse(text).ok_or_else(|| {
                        ConnectError::data(format!("Invalid number for Decimal field: {text}"))
                    })?;
                    parsed.rescale_exact(scale).ok_or_else(|| {
                        ConnectError::data(format!(
                            "Decimal value {text} does not fit the schema's scale {scale} without rounding"
                        ))
                    })?
                }
                JsonNode::String(text) => {
                    let bytes = decode_base64(text)
                        .map_err(|_| ConnectError::data("Invalid bytes for Decimal field"))?;
                    BigDecimal::from_unscaled_bytes(&bytes, scale)
                        .map_err(|_| ConnectError::data("Invalid bytes for Decimal field"))?
                }
                other => {
                    return Err(ConnectError::data(format!(
                        "Invalid type for Decimal, underlying representation should be numeric or bytes but was {}",
                        other.node_type()
                    )));
                }
            };
            Value::Bytes(decimal.unscaled_bytes())
        }
        logical::DATE | logical::TIME => {
            let int = match node {
                JsonNode::Number(text) if node.is_integral_number() => text.parse::<i32>().ok(),
                _ => None,
            };
            Value::Int32(int.ok_or_else(|| {
                ConnectError::data(format!(
                    "Invalid type for {}, underlying representation should be integer but was {}",
                    short_logical_name(name),
                    node.node_type()
                ))
            })?)
        }
        logical::TIMESTAMP => {
            let long = match node {
                JsonNode::Number(text) if node.is_integral_number() => text.parse::<i64>().ok(),
                _ => None,
            };
            Value::Int64(long.ok_or_else(|| {
                ConnectError::data(format!(
                    "Invalid type for Timestamp, underlying representation should be integral but was {}",
                    node.node_type()
                ))
            })?)
        }
        _ => return Ok(None),
    };
    Ok(Some(value))
}

/// Reads an integer of a fixed width; numbers such as `5.0` or `5e2` are accepted when they are
/// whole, but a fraction or an out-of-range value is an error rather than silently truncated.
fn read_integer<T: TryFrom<i128>>(schema_type: SchemaType, node: &JsonNode) -> Result<T> {
    let JsonNode::Number(text) = node else {
        return Err(ConnectError::data(format!(
            "Invalid value for {schema_type} field: expected a number but found {}",
            node.node_type()
        )));
    };
    let whole = match text.parse::<i64>() {
        Ok(v) => Some(i128::from(v)),
        Err(_) => BigDecimal::parse(text).and_then(|d| d.integral_value()),
    };
    let whole = whole.ok_or_else(|| {
        ConnectError::data(format!(
            "Invalid value for {schema_type} field: {text} is not an integer"
        ))
    })?;
    T::try_from(whole).map_err(|_| {
        ConnectError::data(format!(
            "Invalid value for {schema_type} field: {text} is out of range"
        ))
    })
}

fn parse_number<T: std::str::FromStr>(text: &str) -> Result<T> {
    text.parse()
        .map_err(|_| ConnectError::data(format!("Invalid number: {text}")))
}

/// The quoted spellings Jackson writes for non-finite floats.
fn non_finite(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        _ => None,
    }
}

fn decode_base64(text: &str) -> Result<Vec<u8>> {
    BASE64
        .decode(text)
        .map_err(|e| ConnectError::data(format!("Invalid bytes field: {e}")))
}

/// Schemaless reading: integers become int64, other numbers float64, objects string-keyed maps.
fn read_schemaless(node: Option<&JsonNode>) -> Result<Value> {
    let Some(node) = node else {
        return Ok(Value::Null);
    };
    Ok(match node {
        JsonNode::Null => Value::Null,
        JsonNode::Bool(b) => Value::Boolean(*b),
        JsonNode::Number(text) if node.is_integral_number() => {
            Value::Int64(text.parse().map_err(|_| {
                ConnectError::data(format!("JSON integer {text} is out of range for int64"))
            })?)
        }
        JsonNode::Number(text) => Value::Float64(parse_number(text)?),
        JsonNode::String(s) => Value::String(s.clone()),
        JsonNode::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| read_schemaless(Some(item)))
                .collect::<Result<_>>()?,
        ),
        JsonNode::Object(members) => Value::Map(
            members
                .iter()
                .map(|(k, v)| Ok((Value::String(k.clone()), read_schemaless(Some(v))?)))
                .collect::<Result<_>>()?,
        ),
    })
}
