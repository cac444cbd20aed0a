//! `Cast$Key` / `Cast$Value`: casts fields, or the whole key or value, to another primitive type.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use sluice_api::data::logical;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Schema, SchemaBuilder, SchemaRef, SchemaType, Struct, Transform, Validator, Value,
    async_trait, config::ParsedValue,
};

use crate::java_date::JavaDateFormat;
use crate::part::RecordPart;
use crate::requirements::{not_configured, require_map, require_struct};
use crate::schema_cache::SchemaCache;
use crate::schema_util::copy_schema_basics;

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.Cast$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.Cast$Value";

const SPEC: &str = "spec";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
const PURPOSE: &str = "cast types";

const OUTPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING]";
const INPUT_TYPES: &str = "[INT8, INT16, INT32, INT64, FLOAT32, FLOAT64, BOOLEAN, STRING, BYTES]";

/// What to cast: the whole value to one type, or named fields each to its type.
#[derive(Debug, Clone, PartialEq)]
enum CastSpec {
    Whole(SchemaType),
    Fields(HashMap<String, SchemaType>),
}

fn output_type(name: &str) -> std::result::Result<SchemaType, String> {
    let t = match name.trim().to_ascii_uppercase().as_str() {
        "INT8" => SchemaType::Int8,
        "INT16" => SchemaType::Int16,
        "INT32" => SchemaType::Int32,
        "INT64" => SchemaType::Int64,
        "FLOAT32" => SchemaType::Float32,
        "FLOAT64" => SchemaType::Float64,
        "BOOLEAN" => SchemaType::Boolean,
        "STRING" => SchemaType::String,
        other @ ("BYTES" | "ARRAY" | "MAP" | "STRUCT") => {
            return Err(format!(
                "Cast transformation does not support casting to {other}; supported types are \
                 {OUTPUT_TYPES}"
            ));
        }
        _ => {
            return Err(format!(
                "Invalid type found in casting spec: {}",
                name.trim()
            ));
        }
    };
    Ok(t)
}

fn parse_spec(items: &[String]) -> std::result::Result<CastSpec, String> {
    if items.is_empty() {
        return Err("Must specify at least one field to cast.".into());
    }
    let mut fields = HashMap::new();
    let mut whole = None;
    for mapping in items {
        let parts: Vec<&str> = mapping.split(':').collect();
        match parts.as_slice() {
            [t] => whole = Some(output_type(t)?),
            [field, t] => {
                fields.insert(field.trim().to_owned(), output_type(t)?);
            }
            _ => {
                return Err(format!(
                    "Invalid value [{}] for configuration spec: Invalid rename mapping: {mapping}",
                    items.join(", ")
                ));
            }
        }
    }
    match whole {
        Some(_) if items.len() > 1 => Err("Cast transformations that specify a type to cast the \
                                           entire value to may only specify a single cast in \
                                           their spec"
            .into()),
        Some(t) => Ok(CastSpec::Whole(t)),
        None => Ok(CastSpec::Fields(fields)),
    }
}

/// A number as Java's `Number` sees it, for the narrowing conversions.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
}

impl Num {
    fn long(self) -> i64 {
        match self {
            Self::Int(v) => v,
            // Java's double-to-long saturates and maps NaN to 0, as `as` does.
            Self::Float(v) => v as i64,
        }
    }
    fn int(self) -> i32 {
        match self {
            Self::Int(v) => v as i32,
            Self::Float(v) => v as i32,
        }
    }
    fn double(self) -> f64 {
        match self {
            Self::Int(v) => v as f64,
            Self::Float(v) => v,
        }
    }
}

/// Java's `Double.toString` / `Float.toString` layout: plain between 1e-3 and 1e7, otherwise
/// computerized scientific notation (`1.0E10`).
fn java_float_string(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let abs = v.abs();
    if abs == 0.0 || (1e-3..1e7).contains(&abs) {
        let s = v.to_string();
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{v:e}");
        let (mantissa, exponent) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = if mantissa.contains('.') {
            mantissa.to_owned()
        } else {
            format!("{mantissa}.0")
        };
        format!("{mantissa}E{exponent}")
    }
}

/// Decodes a Decimal's unscaled two's-complement bytes (up to 16 of them).
fn decimal_parts(bytes: &[u8], schema: Option<&Schema>) -> Result<(i128, u32)> {
    if bytes.is_empty() || bytes.len() > 16 {
        return Err(ConnectError::data(
            "Cast transformation supports decimals of at most 16 bytes",
        ));
    }
    let mut unscaled: i128 = if bytes[0] & 0x80 != 0 { -1 } else { 0 };
    for b in bytes {
        unscaled = (unscaled << 8) | i128::from(*b);
    }
    let scale = schema
        .and_then(|s| s.parameters.get(logical::DECIMAL_SCALE))
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(0);
    Ok((unscaled, scale))
}

fn decimal_string(unscaled: i128, scale: u32) -> String {
    if scale == 0 {
        return unscaled.to_string();
    }
    let digits = unscaled.unsigned_abs().to_string();
    let scale = scale as usize;
    let padded = format!("{digits:0>width$}", width = scale + 1);
    let (int, frac) = padded.split_at(padded.len() - scale);
    let sign = if unscaled < 0 { "-" } else { "" };
    format!("{sign}{int}.{frac}")
}

/// Casts one value (null stays null). `schema` is the value's schema when it has one.
fn cast_value(schema: Option<&Schema>, value: &Value, target: SchemaType) -> Result<Value> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    let input_type = match schema {
        Some(s) => s.schema_type,
        None => value.inferred_type().unwrap_or(SchemaType::Struct),
    };
    if !input_type.is_primitive() {
        return Err(ConnectError::data(format!(
            "Cast transformation does not support casting from {input_type}; supported types \
             are {INPUT_TYPES}"
        )));
    }
    let logical_name = schema.and_then(|s| s.name.as_deref());
    let out_of_range = || {
        ConnectError::data(format!(
            "Value ({}) was out of range for requested data type",
            display(value)
        ))
    };
    let unexpected = |class: &str| {
        ConnectError::data(format!("Unexpected type in Cast transformation: {class}"))
    };
    // Strings: the value's text form (dates formatted as Kafka's Values does, bytes in base64).
    if target == SchemaType::String {
        let text = match (logical_name, value) {
            (Some(logical::DATE), Value::Int32(days)) => {
                date_text("yyyy-MM-dd", i64::from(*days) * 86_400_000)?
            }
            (Some(logical::TIME), Value::Int32(ms)) => date_text("HH:mm:ss.SSS", i64::from(*ms))?,
            (Some(logical::TIMESTAMP), Value::Int64(ms)) => {
                date_text("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'", *ms)?
            }
            (Some(logical::DECIMAL), Value::Bytes(b)) => {
                let (unscaled, scale) = decimal_parts(b, schema)?;
                decimal_string(unscaled, scale)
            }
            (_, Value::Bytes(b)) => BASE64.encode(b),
            (_, other) => display(other),
        };
        return Ok(Value::String(text));
    }
    let number = match value {
        Value::Int8(v) => Num::Int(i64::from(*v)),
        Value::Int16(v) => Num::Int(i64::from(*v)),
        Value::Int32(v) => Num::Int(i64::from(*v)),
        Value::Int64(v) => Num::Int(*v),
        Value::Float32(v) => Num::Float(f64::from(*v)),
        Value::Float64(v) => Num::Float(*v),
        Value::Boolean(b) => Num::Int(i64::from(*b)),
        Value::Bytes(b) if logical_name == Some(logical::DECIMAL) => {
            let (unscaled, scale) = decimal_parts(b, schema)?;
            let divisor = 10i128.checked_pow(scale).ok_or_else(out_of_range)?;
            if matches!(target, SchemaType::Float32 | SchemaType::Float64) {
                Num::Float(unscaled as f64 / divisor as f64)
            } else {
                Num::Int((unscaled / divisor) as i64)
            }
        }
        Value::Bytes(_) => return Err(unexpected("class [B")),
        Value::String(s) => {
            return Ok(match target {
                SchemaType::Int8 => Value::Int8(s.parse().map_err(|_| out_of_range())?),
                SchemaType::Int16 => Value::Int16(s.parse().map_err(|_| out_of_range())?),
                SchemaType::Int32 => Value::Int32(s.parse().map_err(|_| out_of_range())?),
                SchemaType::Int64 => Value::Int64(s.parse().map_err(|_| out_of_range())?),
                SchemaType::Float32 => {
                    Value::Float32(s.trim().parse().map_err(|_| out_of_range())?)
                }
                SchemaType::Float64 => {
                    Value::Float64(s.trim().parse().map_err(|_| out_of_range())?)
                }
                _ => Value::Boolean(s.eq_ignore_ascii_case("true")),
            });
        }
        other => return Err(unexpected(other.kind_name())),
    };
    Ok(match target {
        SchemaType::Int8 => Value::Int8(number.int() as i8),
        SchemaType::Int16 => Value::Int16(number.int() as i16),
        SchemaType::Int32 => Value::Int32(number.int()),
        SchemaType::Int64 => Value::Int64(number.long()),
        SchemaType::Float32 => Value::Float32(number.double() as f32),
        SchemaType::Float64 => Value::Float64(number.double()),
        _ => Value::Boolean(match number {
            Num::Int(v) => v != 0,
            Num::Float(v) => v as i64 != 0,
        }),
    })
}

fn date_text(pattern: &str, millis: i64) -> Result<String> {
    JavaDateFormat::new(pattern)
        .map(|f| f.format(millis))
        .map_err(ConnectError::data)
}

/// Java's `toString` of a primitive value.
fn display(value: &Value) -> String {
    match value {
        Value::Boolean(b) => b.to_string(),
        Value::Int8(v) => v.to_string(),
        Value::Int16(v) => v.to_string(),
        Value::Int32(v) => v.to_string(),
        Value::Int64(v) => v.to_string(),
        Value::Float32(v) => java_float_string(f64::from(*v)),
        Value::Float64(v) => java_float_string(*v),
        Value::String(s) => s.clone(),
        other => format!("{other:?}"),
    }
}

fn primitive_schema(t: SchemaType) -> SchemaBuilder {
    SchemaBuilder::new(t)
}

#[derive(Debug, Clone)]
struct Settings {
    spec: CastSpec,
    replace_null_with_default: bool,
}

/// Casts the whole key or value (`spec=int64`) or named fields (`spec=a:int32,b:string`) to
/// int8..int64, float32, float64, boolean or string. Inputs may be any primitive, including
/// bytes (which only cast to string, as base64) and the Decimal, Date, Time and Timestamp
/// logical types. Null data passes through; derived schemas are cached per input schema.
#[derive(Debug)]
pub struct Cast {
    part: RecordPart,
    name: String,
    settings: Option<Settings>,
    schema_cache: SchemaCache,
}

impl Cast {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("Cast"),
            settings: None,
            schema_cache: SchemaCache::default(),
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(
                    SPEC,
                    ConfigType::List,
                    DefaultValue::Required,
                    Importance::High,
                    "List of fields and the type to cast them to of the form field1:type,\
                     field2:type to cast fields of Maps or Structs. A single type to cast the \
                     entire value. Valid types are int8, int16, int32, int64, float32, float64, \
                     boolean, and string. Note that binary fields can only be cast to string.",
                )
                .validator(Validator::custom(|_, value| match value {
                    ParsedValue::List(items) => parse_spec(items).map(|_| ()),
                    _ => Ok(()),
                })),
            )
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether null fields with a default value are cast as that default.",
            ))
    }

    fn updated_schema(spec: &CastSpec, schema: &SchemaRef) -> Result<SchemaRef> {
        let mut builder = match spec {
            CastSpec::Whole(t) => {
                // Kafka keeps the name, version, doc and parameters on a whole-value cast.
                let mut b = primitive_schema(*t);
                let basics = copy_schema_basics(schema).build();
                if let Some(n) = &basics.name {
                    b = b.name(n.clone());
                }
                if let Some(v) = basics.version {
                    b = b.version(v);
                }
                if let Some(d) = &basics.doc {
                    b = b.doc(d.clone());
                }
                for (k, v) in &basics.parameters {
                    b = b.parameter(k.clone(), v.clone());
                }
                b
            }
            CastSpec::Fields(fields) => {
                let mut b = copy_schema_basics(schema);
                for f in &schema.fields {
                    let field_schema = match fields.get(&f.name) {
                        Some(t) => {
                            let mut fb = primitive_schema(*t).set_optional(f.schema.optional);
                            if let Some(d) = &f.schema.default_value {
                                fb = fb.default_value(cast_value(Some(&f.schema), d, *t)?);
                            }
                            fb.build()
                        }
                        None => f.schema.clone(),
                    };
                    b = b.field(f.name.clone(), field_schema);
                }
                b
            }
        };
        if schema.optional {
            builder = builder.optional();
        }
        if let (Some(d), CastSpec::Whole(t)) = (&schema.default_value, spec) {
            builder = builder.default_value(cast_value(Some(schema), d, *t)?);
        }
        Ok(builder.build())
    }
}

#[async_trait]
impl Transform for Cast {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let spec = parse_spec(&config.list(SPEC)).map_err(ConnectError::config)?;
        self.settings = Some(Settings {
            spec,
            replace_null_with_default: config.bool(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        });
        self.schema_cache = SchemaCache::default();
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self
            .settings
            .as_ref()
            .ok_or_else(|| not_configured(&self.name))?;
        let value = self.part.value(&record);
        if value.is_null() {
            return Ok(Some(record));
        }
        let (schema, cast) = match (self.part.schema(&record), &settings.spec) {
            (None, CastSpec::Whole(t)) => (None, cast_value(None, value, *t)?),
            (None, CastSpec::Fields(fields)) => {
                let mut entries = require_map(value, &self.name, PURPOSE)?.clone();
                let mut names: Vec<&String> = fields.keys().collect();
                names.sort();
                for name in names {
                    let t = fields[name];
                    match entries.iter_mut().find(|(k, _)| k.as_str() == Some(name)) {
                        Some(entry) => entry.1 = cast_value(None, &entry.1, t)?,
                        // Kafka puts the (null) field in any case.
                        None => entries.push((Value::from(name.as_str()), Value::Null)),
                    }
                }
                (None, Value::Map(entries))
            }
            (Some(schema), spec) => {
                let updated = self
                    .schema_cache
                    .get_or_derive(schema, |s| Self::updated_schema(spec, s))?;
                let cast = match spec {
                    CastSpec::Whole(t) => cast_value(Some(schema), value, *t)?,
                    CastSpec::Fields(fields) => {
                        let original = require_struct(value, &self.name, PURPOSE)?;
                        let mut out = Struct::new(updated.clone())?;
                        for (f, v) in original.iter() {
                            let v = match (&f.schema.default_value, v) {
                                (Some(d), Value::Null) if settings.replace_null_with_default => d,
                                _ => v,
                            };
                            let v = match fields.get(&f.name) {
                                Some(t) => cast_value(Some(&f.schema), v, *t)?,
                                None => v.clone(),
                            };
                            out.put(&f.name, v)?;
                        }
                        Value::Struct(out)
                    }
                };
                (Some(updated), cast)
            }
        };
        self.part.set(&mut record, schema, cast);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logical::timestamp_schema;
    use crate::test_util::{apply, props};

    fn configured(part: RecordPart, spec: &str) -> Cast {
        let mut t = Cast::new(part);
        t.configure(&props(&[(SPEC, spec)])).unwrap();
        t
    }

    fn cast_whole(
        spec: &str,
        schema: Option<SchemaRef>,
        value: Value,
    ) -> Result<(Option<SchemaRef>, Value)> {
        let t = configured(RecordPart::Value, spec);
        let mut r = ConnectRecord::new("t", value);
        r.value_schema = schema;
        let out = apply(&t, r)?.unwrap();
        Ok((out.value_schema, out.value))
    }

    #[test]
    fn whole_value_casts_with_schema() {
        let cases = [
            ("int8", Value::Int32(42), Value::Int8(42)),
            ("int16", Value::Int32(42), Value::Int16(42)),
            ("int64", Value::Int32(42), Value::Int64(42)),
            ("float32", Value::Int32(42), Value::Float32(42.0)),
            ("float64", Value::Int32(42), Value::Float64(42.0)),
            ("boolean", Value::Int32(42), Value::Boolean(true)),
            ("string", Value::Int32(42), Value::from("42")),
            ("int32", Value::Float64(42.9), Value::Int32(42)),
            ("int8", Value::Int32(300), Value::Int8(44)),
            ("string", Value::Float64(1e10), Value::from("1.0E10")),
            ("string", Value::Float32(1.5), Value::from("1.5")),
            ("int32", Value::Boolean(true), Value::Int32(1)),
            ("boolean", Value::from("TRUE"), Value::Boolean(true)),
            ("boolean", Value::from("yes"), Value::Boolean(false)),
            ("int64", Value::from("-7"), Value::Int64(-7)),
        ];
        for (spec, input, expected) in cases {
            let schema = SchemaBuilder::new(input.inferred_type().unwrap()).build();
            let (s, v) = cast_whole(spec, Some(schema), input.clone()).unwrap();
            assert_eq!(v, expected, "{spec} of {input:?}");
            assert_eq!(s.unwrap().schema_type, expected.inferred_type().unwrap());
        }
    }

    #[test]
    fn schemaless_whole_value_and_bytes() {
        let (s, v) = cast_whole("int64", None, Value::Int32(42)).unwrap();
        assert!(s.is_none());
        assert_eq!(v, Value::Int64(42));
        let (_, v) = cast_whole("string", None, Value::Bytes(b"hello".to_vec())).unwrap();
        assert_eq!(v, Value::from("aGVsbG8="));
    }

    #[test]
    fn logical_types_cast_as_kafka_formats_them() {
        let (_, v) = cast_whole(
            "string",
            Some(timestamp_schema(false)),
            Value::Int64(1_483_228_800_123),
        )
        .unwrap();
        assert_eq!(v, Value::from("2017-01-01T00:00:00.123Z"));
        let (_, v) = cast_whole("int64", Some(timestamp_schema(false)), Value::Int64(5)).unwrap();
        assert_eq!(v, Value::Int64(5));
        let decimal = SchemaBuilder::new(SchemaType::Bytes)
            .name(logical::DECIMAL)
            .parameter(logical::DECIMAL_SCALE, "2")
            .build();
        // -12345 unscaled at scale 2 is -123.45.
        let bytes = Value::Bytes((-12345i16).to_be_bytes().to_vec());
        let (_, v) = cast_whole("string", Some(decimal.clone()), bytes.clone()).unwrap();
        assert_eq!(v, Value::from("-123.45"));
        let (_, v) = cast_whole("int32", Some(decimal.clone()), bytes.clone()).unwrap();
        assert_eq!(v, Value::Int32(-123));
        let (_, v) = cast_whole("float64", Some(decimal), bytes).unwrap();
        assert_eq!(v, Value::Float64(-123.45));
    }

    #[test]
    fn fields_of_structs_and_maps() {
        let schema = SchemaBuilder::struct_schema()
            .name("rec")
            .field("int8", Schema::int8())
            .field(
                "opt",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .field("keep", Schema::string())
            .build();
        let value = Struct::new(schema.clone())
            .unwrap()
            .with("int8", Value::Int8(8))
            .unwrap()
            .with("keep", "k")
            .unwrap();
        let t = configured(RecordPart::Key, "int8:int32,opt:string");
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key_schema = Some(schema);
        r.key = Value::Struct(value);
        let out = apply(&t, r).unwrap().unwrap();
        let s = out.key_schema.unwrap();
        assert_eq!(s.name.as_deref(), Some("rec"));
        assert_eq!(s.field("int8").unwrap().schema, Schema::int32());
        let opt = &s.field("opt").unwrap().schema;
        assert_eq!(opt.schema_type, SchemaType::String);
        assert!(opt.optional);
        assert_eq!(opt.default_value, Some(Value::from("5")));
        let k = out.key.as_struct().unwrap();
        assert_eq!(k.get_without_default("int8"), Some(&Value::Int32(8)));
        assert_eq!(k.get_without_default("opt"), Some(&Value::from("5")));
        assert_eq!(k.get_without_default("keep"), Some(&Value::from("k")));

        let t = configured(RecordPart::Value, "a:float32,missing:int8");
        let v = Value::Map(vec![
            ("a".into(), Value::Int32(2)),
            ("b".into(), Value::from("x")),
        ]);
        let out = apply(&t, ConnectRecord::new("t", v)).unwrap().unwrap();
        assert_eq!(
            out.value,
            Value::Map(vec![
                ("a".into(), Value::Float32(2.0)),
                ("b".into(), Value::from("x")),
                ("missing".into(), Value::Null),
            ])
        );
    }

    #[test]
    fn nulls_pass_through() {
        let t = configured(RecordPart::Value, "int8");
        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(Schema::optional_int32());
        assert_eq!(apply(&t, r.clone()).unwrap().unwrap(), r);
    }

    #[test]
    fn errors() {
        let err = cast_whole("int32", None, Value::from("abc")).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(
            err.to_string(),
            "Value (abc) was out of range for requested data type"
        );
        let err = cast_whole("int8", None, Value::from("300")).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        let err = cast_whole("int32", None, Value::Bytes(vec![1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Unexpected type in Cast transformation: class [B"
        );
        let err = cast_whole("int32", None, Value::Array(vec![])).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("Cast transformation does not support casting from ARRAY"),
            "{err}"
        );
        let err = cast_whole("a:int32", None, Value::Int32(1)).unwrap_err();
        assert!(err.to_string().contains("[cast types]"), "{err}");

        let config_err = |spec: &str| {
            let err = Cast::new(RecordPart::Value)
                .configure(&props(&[(SPEC, spec)]))
                .unwrap_err();
            assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
            err.to_string()
        };
        assert!(config_err("").contains("Must specify at least one field to cast."));
        assert!(config_err("a:foo").contains("Invalid type found in casting spec: foo"));
        assert!(config_err("bytes").contains("does not support casting to BYTES"));
        assert!(config_err("int8,a:int16").contains("may only specify a single cast"));
        assert!(config_err("a:b:c").contains("Invalid rename mapping: a:b:c"));
    }
}
