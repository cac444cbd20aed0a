//! Connect data: schemas and the values they describe.
//!
//! This mirrors `org.apache.kafka.connect.data`: a [`Schema`] has a [`SchemaType`], optionality,
//! an optional default, name, version, doc and parameters; structs have ordered [`Field`]s, arrays an
//! item schema, maps a key and a value schema. Logical types (Decimal, Date, Time, Timestamp) keep
//! their base type and are recognised by name, as in Kafka.
//!
//! Values without a schema ("schemaless", e.g. JSON read with `schemas.enable=false`) use the same
//! [`Value`] type: objects become [`Value::Map`] with string keys, in their original order.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use crate::error::{ConnectError, Result};

/// Shared handle to an immutable schema; records and fields share schemas freely.
pub type SchemaRef = Arc<Schema>;

/// The primitive and structured types of Connect data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SchemaType {
    /// 8-bit signed integer.
    Int8,
    /// 16-bit signed integer.
    Int16,
    /// 32-bit signed integer.
    Int32,
    /// 64-bit signed integer.
    Int64,
    /// 32-bit IEEE 754 float.
    Float32,
    /// 64-bit IEEE 754 float.
    Float64,
    /// Boolean.
    Boolean,
    /// UTF-8 string.
    String,
    /// Byte array.
    Bytes,
    /// Ordered list of values of one schema.
    Array,
    /// Map from keys of one schema to values of another.
    Map,
    /// Ordered named fields.
    Struct,
}

impl SchemaType {
    /// The lower-case name Kafka uses in schema JSON (`int32`, `float`, `struct`, ...).
    pub fn json_name(self) -> &'static str {
        match self {
            Self::Int8 => "int8",
            Self::Int16 => "int16",
            Self::Int32 => "int32",
            Self::Int64 => "int64",
            Self::Float32 => "float",
            Self::Float64 => "double",
            Self::Boolean => "boolean",
            Self::String => "string",
            Self::Bytes => "bytes",
            Self::Array => "array",
            Self::Map => "map",
            Self::Struct => "struct",
        }
    }

    /// Parses a name as written in schema JSON (see [`SchemaType::json_name`]).
    pub fn from_json_name(name: &str) -> Option<Self> {
        Some(match name {
            "int8" => Self::Int8,
            "int16" => Self::Int16,
            "int32" => Self::Int32,
            "int64" => Self::Int64,
            "float" => Self::Float32,
            "double" => Self::Float64,
            "boolean" => Self::Boolean,
            "string" => Self::String,
            "bytes" => Self::Bytes,
            "array" => Self::Array,
            "map" => Self::Map,
            "struct" => Self::Struct,
            _ => return None,
        })
    }

    /// The upper-case name Kafka uses in messages and in `Cast` specs (`INT32`, `FLOAT64`, ...).
    pub fn upper_name(self) -> &'static str {
        match self {
            Self::Int8 => "INT8",
            Self::Int16 => "INT16",
            Self::Int32 => "INT32",
            Self::Int64 => "INT64",
            Self::Float32 => "FLOAT32",
            Self::Float64 => "FLOAT64",
            Self::Boolean => "BOOLEAN",
            Self::String => "STRING",
            Self::Bytes => "BYTES",
            Self::Array => "ARRAY",
            Self::Map => "MAP",
            Self::Struct => "STRUCT",
        }
    }

    /// Whether this is a primitive (non-container) type.
    pub fn is_primitive(self) -> bool {
        !matches!(self, Self::Array | Self::Map | Self::Struct)
    }
}

impl fmt::Display for SchemaType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.upper_name())
    }
}

/// Names of Kafka's logical types, which keep their base type and add meaning by name.
pub mod logical {
    /// Arbitrary-precision decimal: bytes holding the big-endian two's-complement unscaled value,
    /// with the scale in the `scale` parameter.
    pub const DECIMAL: &str = "org.apache.kafka.connect.data.Decimal";
    /// The parameter of [`DECIMAL`] that holds the scale.
    pub const DECIMAL_SCALE: &str = "scale";
    /// Days since the Unix epoch, as int32.
    pub const DATE: &str = "org.apache.kafka.connect.data.Date";
    /// Milliseconds since midnight, as int32.
    pub const TIME: &str = "org.apache.kafka.connect.data.Time";
    /// Milliseconds since the Unix epoch, as int64.
    pub const TIMESTAMP: &str = "org.apache.kafka.connect.data.Timestamp";
}

/// One field of a struct schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The field name.
    pub name: String,
    /// Position of the field in its struct.
    pub index: usize,
    /// The field's schema.
    pub schema: SchemaRef,
}

/// A Connect schema (`org.apache.kafka.connect.data.Schema`). Build one with [`SchemaBuilder`] or
/// the primitive constructors such as [`Schema::int32`].
#[derive(Debug, Clone, PartialEq)]
pub struct Schema {
    /// The type of values this schema describes.
    pub schema_type: SchemaType,
    /// Whether `null` is a valid value.
    pub optional: bool,
    /// The value used when a field is absent or null and the schema is not optional.
    pub default_value: Option<Value>,
    /// Fully qualified name, e.g. a logical type or a record name.
    pub name: Option<String>,
    /// Schema version.
    pub version: Option<i32>,
    /// Documentation.
    pub doc: Option<String>,
    /// Free-form string parameters (e.g. a decimal's `scale`).
    pub parameters: BTreeMap<String, String>,
    /// The fields of a struct schema, in order.
    pub fields: Vec<Field>,
    /// The key schema of a map schema.
    pub key_schema: Option<SchemaRef>,
    /// The value schema of a map schema, or the item schema of an array schema.
    pub value_schema: Option<SchemaRef>,
}

macro_rules! primitive_constructors {
    ($($(#[$doc:meta])* $name:ident, $opt_name:ident => $ty:ident;)*) => {
        $(
            $(#[$doc])*
            pub fn $name() -> SchemaRef {
                SchemaBuilder::new(SchemaType::$ty).build()
            }
            $(#[$doc])*
            ///
            /// This variant is optional (accepts null).
            pub fn $opt_name() -> SchemaRef {
                SchemaBuilder::new(SchemaType::$ty).optional().build()
            }
        )*
    };
}

impl Schema {
    primitive_constructors! {
        /// A required int8 schema.
        int8, optional_int8 => Int8;
        /// A required int16 schema.
        int16, optional_int16 => Int16;
        /// A required int32 schema.
        int32, optional_int32 => Int32;
        /// A required int64 schema.
        int64, optional_int64 => Int64;
        /// A required float32 schema.
        float32, optional_float32 => Float32;
        /// A required float64 schema.
        float64, optional_float64 => Float64;
        /// A required boolean schema.
        boolean, optional_boolean => Boolean;
        /// A required string schema.
        string, optional_string => String;
        /// A required bytes schema.
        bytes, optional_bytes => Bytes;
    }

    /// Looks up a struct field by name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks that `value` conforms to this schema (Kafka's `ConnectSchema.validateValue`).
    pub fn validate_value(&self, value: &Value) -> Result<()> {
        self.validate_at(value, None)
    }

    fn validate_at(&self, value: &Value, field: Option<&str>) -> Result<()> {
        let place = || match field {
            Some(f) => format!(" for field \"{f}\""),
            None => String::new(),
        };
        if value.is_null() {
            if self.optional || self.default_value.is_some() {
                return Ok(());
            }
            return Err(ConnectError::data(format!(
                "Invalid value: null used for required field{}, schema type: {}",
                place(),
                self.schema_type
            )));
        }
        let ok = match (self.schema_type, value) {
            (SchemaType::Int8, Value::Int8(_))
            | (SchemaType::Int16, Value::Int16(_))
            | (SchemaType::Int32, Value::Int32(_))
            | (SchemaType::Int64, Value::Int64(_))
            | (SchemaType::Float32, Value::Float32(_))
            | (SchemaType::Float64, Value::Float64(_))
            | (SchemaType::Boolean, Value::Boolean(_))
            | (SchemaType::String, Value::String(_))
            | (SchemaType::Bytes, Value::Bytes(_)) => true,
            (SchemaType::Array, Value::Array(items)) => {
                if let Some(item_schema) = &self.value_schema {
                    for item in items {
                        item_schema.validate_at(item, field)?;
                    }
                }
                true
            }
            (SchemaType::Map, Value::Map(entries)) => {
                for (k, v) in entries {
                    if let Some(ks) = &self.key_schema {
                        ks.validate_at(k, field)?;
                    }
                    if let Some(vs) = &self.value_schema {
                        vs.validate_at(v, field)?;
                    }
                }
                true
            }
            (SchemaType::Struct, Value::Struct(s)) => {
                if s.schema.as_ref() != self {
                    return Err(ConnectError::data(format!(
                        "Struct schemas do not match{}",
                        place()
                    )));
                }
                true
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(ConnectError::data(format!(
                "Invalid Java object for schema with type {}: {}{}",
                self.schema_type,
                value.kind_name(),
                place()
            )))
        }
    }
}

/// Builds a [`Schema`] step by step (`org.apache.kafka.connect.data.SchemaBuilder`).
#[derive(Debug, Clone)]
pub struct SchemaBuilder {
    schema: Schema,
}

impl SchemaBuilder {
    /// Starts a schema of the given type.
    pub fn new(schema_type: SchemaType) -> Self {
        Self {
            schema: Schema {
                schema_type,
                optional: false,
                default_value: None,
                name: None,
                version: None,
                doc: None,
                parameters: BTreeMap::new(),
                fields: Vec::new(),
                key_schema: None,
                value_schema: None,
            },
        }
    }

    /// Starts a struct schema.
    pub fn struct_schema() -> Self {
        Self::new(SchemaType::Struct)
    }

    /// Starts an array schema with the given item schema.
    pub fn array(items: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Array);
        b.schema.value_schema = Some(items);
        b
    }

    /// Starts a map schema with the given key and value schemas.
    pub fn map(keys: SchemaRef, values: SchemaRef) -> Self {
        let mut b = Self::new(SchemaType::Map);
        b.schema.key_schema = Some(keys);
        b.schema.value_schema = Some(values);
        b
    }

    /// Starts from a copy of an existing schema, to derive a modified one.
    pub fn from_schema(schema: &Schema) -> Self {
        Self {
            schema: schema.clone(),
        }
    }

    /// Marks the schema optional.
    pub fn optional(mut self) -> Self {
        self.schema.optional = true;
        self
    }

    /// Sets whether the schema is optional.
    pub fn set_optional(mut self, optional: bool) -> Self {
        self.schema.optional = optional;
        self
    }

    /// Sets the default value.
    pub fn default_value(mut self, value: Value) -> Self {
        self.schema.default_value = Some(value);
        self
    }

    /// Sets the schema name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.schema.name = Some(name.into());
        self
    }

    /// Sets the schema version.
    pub fn version(mut self, version: i32) -> Self {
        self.schema.version = Some(version);
        self
    }

    /// Sets the documentation.
    pub fn doc(mut self, doc: impl Into<String>) -> Self {
        self.schema.doc = Some(doc.into());
        self
    }

    /// Adds a parameter.
    pub fn parameter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.schema.parameters.insert(key.into(), value.into());
        self
    }

    /// Appends a field to a struct schema.
    pub fn field(mut self, name: impl Into<String>, schema: SchemaRef) -> Self {
        let index = self.schema.fields.len();
        self.schema.fields.push(Field {
            name: name.into(),
            index,
            schema,
        });
        self
    }

    /// Finishes the schema.
    pub fn build(self) -> SchemaRef {
        Arc::new(self.schema)
    }
}

/// A Connect value. Logical types use their base representation (a `Timestamp` is an `Int64`).
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Value {
    /// No value (Java `null`); also a tombstone when it is a record's value.
    #[default]
    Null,
    /// A boolean.
    Boolean(bool),
    /// An int8.
    Int8(i8),
    /// An int16.
    Int16(i16),
    /// An int32.
    Int32(i32),
    /// An int64.
    Int64(i64),
    /// A float32.
    Float32(f32),
    /// A float64.
    Float64(f64),
    /// A string.
    String(String),
    /// Bytes.
    Bytes(Vec<u8>),
    /// An array.
    Array(Vec<Value>),
    /// A map, in insertion order; schemaless JSON objects are maps with string keys.
    Map(Vec<(Value, Value)>),
    /// A struct with its schema.
    Struct(Struct),
}

impl Value {
    /// Whether this is [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The string inside a [`Value::String`].
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Self::String(s) => Some(s),
            _ => None,
        }
    }

    /// The bytes inside a [`Value::Bytes`].
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Self::Bytes(b) => Some(b),
            _ => None,
        }
    }

    /// The struct inside a [`Value::Struct`].
    pub fn as_struct(&self) -> Option<&Struct> {
        match self {
            Self::Struct(s) => Some(s),
            _ => None,
        }
    }

    /// Looks up a string key in a [`Value::Map`] (a schemaless object).
    pub fn map_get(&self, key: &str) -> Option<&Value> {
        match self {
            Self::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.as_str() == Some(key))
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// A short name of the value's kind, for error messages.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Boolean(_) => "Boolean",
            Self::Int8(_) => "Byte",
            Self::Int16(_) => "Short",
            Self::Int32(_) => "Integer",
            Self::Int64(_) => "Long",
            Self::Float32(_) => "Float",
            Self::Float64(_) => "Double",
            Self::String(_) => "String",
            Self::Bytes(_) => "byte[]",
            Self::Array(_) => "ArrayList",
            Self::Map(_) => "HashMap",
            Self::Struct(_) => "Struct",
        }
    }

    /// The schema type a schemaless value would be inferred as, if it has one.
    pub fn inferred_type(&self) -> Option<SchemaType> {
        Some(match self {
            Self::Null => return None,
            Self::Boolean(_) => SchemaType::Boolean,
            Self::Int8(_) => SchemaType::Int8,
            Self::Int16(_) => SchemaType::Int16,
            Self::Int32(_) => SchemaType::Int32,
            Self::Int64(_) => SchemaType::Int64,
            Self::Float32(_) => SchemaType::Float32,
            Self::Float64(_) => SchemaType::Float64,
            Self::String(_) => SchemaType::String,
            Self::Bytes(_) => SchemaType::Bytes,
            Self::Array(_) => SchemaType::Array,
            Self::Map(_) => SchemaType::Map,
            Self::Struct(_) => SchemaType::Struct,
        })
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Self::String(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Self::String(s)
    }
}
impl From<i32> for Value {
    fn from(v: i32) -> Self {
        Self::Int32(v)
    }
}
impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int64(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Boolean(v)
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Self::Float64(v)
    }
}
impl From<Vec<u8>> for Value {
    fn from(v: Vec<u8>) -> Self {
        Self::Bytes(v)
    }
}
impl From<Struct> for Value {
    fn from(v: Struct) -> Self {
        Self::Struct(v)
    }
}

/// A struct value: one value per field of its schema (`org.apache.kafka.connect.data.Struct`).
#[derive(Debug, Clone, PartialEq)]
pub struct Struct {
    schema: SchemaRef,
    values: Vec<Value>,
}

impl Struct {
    /// An empty struct of the given struct schema (every field null).
    pub fn new(schema: SchemaRef) -> Result<Self> {
        if schema.schema_type != SchemaType::Struct {
            return Err(ConnectError::data(format!(
                "Not a struct schema: {}",
                schema.schema_type
            )));
        }
        let values = vec![Value::Null; schema.fields.len()];
        Ok(Self { schema, values })
    }

    /// The struct's schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Sets a field, checking the value against the field's schema.
    pub fn put(&mut self, field: &str, value: impl Into<Value>) -> Result<&mut Self> {
        let value = value.into();
        let f = self
            .schema
            .field(field)
            .ok_or_else(|| ConnectError::data(format!("{field} is not a valid field name")))?;
        f.schema.validate_at(&value, Some(field))?;
        let index = f.index;
        self.values[index] = value;
        Ok(self)
    }

    /// Sets a field and returns the struct, for building values in one expression.
    pub fn with(mut self, field: &str, value: impl Into<Value>) -> Result<Self> {
        self.put(field, value)?;
        Ok(self)
    }

    /// A field's value, falling back to the field schema's default when unset.
    pub fn get(&self, field: &str) -> Option<&Value> {
        let f = self.schema.field(field)?;
        let v = &self.values[f.index];
        if v.is_null()
            && let Some(d) = &f.schema.default_value
        {
            return Some(d);
        }
        Some(v)
    }

    /// The value stored for a field, without applying defaults.
    pub fn get_without_default(&self, field: &str) -> Option<&Value> {
        let f = self.schema.field(field)?;
        Some(&self.values[f.index])
    }

    /// Iterates fields with their stored values, in schema order.
    pub fn iter(&self) -> impl Iterator<Item = (&Field, &Value)> {
        self.schema.fields.iter().zip(self.values.iter())
    }

    /// Checks every required field is set (Kafka validates before serializing).
    pub fn validate(&self) -> Result<()> {
        for (field, value) in self.iter() {
            field.schema.validate_at(value, Some(&field.name))?;
        }
        Ok(())
    }
}

/// A value together with its schema, as converters return it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaAndValue {
    /// The schema, if the data had one.
    pub schema: Option<SchemaRef>,
    /// The value.
    pub value: Value,
}

impl SchemaAndValue {
    /// The null value with no schema.
    pub fn null() -> Self {
        Self::default()
    }

    /// Pairs a schema and a value.
    pub fn new(schema: Option<SchemaRef>, value: Value) -> Self {
        Self { schema, value }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_schema() -> SchemaRef {
        SchemaBuilder::struct_schema()
            .name("com.example.User")
            .field("id", Schema::int32())
            .field("name", Schema::optional_string())
            .build()
    }

    #[test]
    fn struct_rejects_wrong_type_and_unknown_field() {
        let mut s = Struct::new(user_schema()).unwrap();
        assert!(s.put("id", "x").is_err());
        assert!(s.put("nope", 1).is_err());
        s.put("id", 42).unwrap();
        assert_eq!(s.get("id"), Some(&Value::Int32(42)));
        assert_eq!(s.get("name"), Some(&Value::Null));
    }

    #[test]
    fn struct_validate_requires_required_fields() {
        let s = Struct::new(user_schema()).unwrap();
        let err = s.validate().unwrap_err().to_string();
        assert!(err.contains("\"id\""), "{err}");
        let s = s.with("id", 1).unwrap();
        s.validate().unwrap();
    }

    #[test]
    fn defaults_fill_unset_fields() {
        let schema = SchemaBuilder::struct_schema()
            .field(
                "n",
                SchemaBuilder::new(SchemaType::Int64)
                    .default_value(Value::Int64(7))
                    .build(),
            )
            .build();
        let s = Struct::new(schema).unwrap();
        assert_eq!(s.get("n"), Some(&Value::Int64(7)));
        assert_eq!(s.get_without_default("n"), Some(&Value::Null));
    }

    #[test]
    fn array_items_are_validated() {
        let schema = SchemaBuilder::array(Schema::string()).build();
        assert!(
            schema
                .validate_value(&Value::Array(vec!["a".into(), Value::Int32(1)]))
                .is_err()
        );
        schema
            .validate_value(&Value::Array(vec!["a".into()]))
            .unwrap();
    }

    #[test]
    fn type_names_round_trip() {
        for t in [
            SchemaType::Int8,
            SchemaType::Int16,
            SchemaType::Int32,
            SchemaType::Int64,
            SchemaType::Float32,
            SchemaType::Float64,
            SchemaType::Boolean,
            SchemaType::String,
            SchemaType::Bytes,
            SchemaType::Array,
            SchemaType::Map,
            SchemaType::Struct,
        ] {
            assert_eq!(SchemaType::from_json_name(t.json_name()), Some(t));
        }
    }
}
