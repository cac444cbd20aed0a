//! `MaskField$Key` / `MaskField$Value`: replaces chosen fields with a type's empty value or a
//! configured replacement.

use std::collections::HashSet;

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Schema, Struct, Transform, Validator, Value, async_trait, data::logical,
};

use crate::part::RecordPart;
use crate::requirements::{not_configured, require_map, require_struct};
use crate::validators::{invalid, non_empty_list};

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.MaskField$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.MaskField$Value";

const FIELDS: &str = "fields";
const REPLACEMENT: &str = "replacement";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
const PURPOSE: &str = "mask fields";

#[derive(Debug, Clone)]
struct Settings {
    fields: HashSet<String>,
    replacement: Option<String>,
    replace_null_with_default: bool,
}

/// Masks fields: without `replacement`, a value becomes its type's empty value (`false`, `0`,
/// `""`, an empty array or map; a Decimal becomes 0); with it, numeric and string fields take the
/// replacement converted to their type. Null stays null. Schemaless maps gain the masked field
/// as null when they lack it, as in Kafka.
#[derive(Debug)]
pub struct MaskField {
    part: RecordPart,
    name: String,
    settings: Option<Settings>,
}

/// The Java class Kafka names in its messages for a value of this kind.
fn java_class(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Boolean(_) => "class java.lang.Boolean",
        Value::Int8(_) => "class java.lang.Byte",
        Value::Int16(_) => "class java.lang.Short",
        Value::Int32(_) => "class java.lang.Integer",
        Value::Int64(_) => "class java.lang.Long",
        Value::Float32(_) => "class java.lang.Float",
        Value::Float64(_) => "class java.lang.Double",
        Value::String(_) => "class java.lang.String",
        Value::Bytes(_) => "class [B",
        Value::Array(_) => "class java.util.ArrayList",
        Value::Map(_) => "class java.util.HashMap",
        Value::Struct(_) => "class org.apache.kafka.connect.data.Struct",
    }
}

fn is_decimal(schema: Option<&Schema>) -> bool {
    schema.is_some_and(|s| s.name.as_deref() == Some(logical::DECIMAL))
}

impl MaskField {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("MaskField"),
            settings: None,
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(
                    FIELDS,
                    ConfigType::List,
                    DefaultValue::Required,
                    Importance::High,
                    "Names of fields to mask.",
                )
                .validator(non_empty_list()),
            )
            .define(
                ConfigKey::new(
                    REPLACEMENT,
                    ConfigType::String,
                    DefaultValue::Null,
                    Importance::Low,
                    "Custom value replacement, that will be applied to all 'fields' values \
                     (numeric or non-empty string values only).",
                )
                .validator(Validator::custom(|name, value| match value.as_str() {
                    Some(s) if s.trim().is_empty() => {
                        Err(invalid(name, s, "String must be non-empty"))
                    }
                    _ => Ok(()),
                })),
            )
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether null fields with a default value are treated as that default.",
            ))
    }

    /// The masked form of `value`; `schema` is the field's schema when known (for Decimal).
    fn masked(settings: &Settings, value: &Value, schema: Option<&Schema>) -> Result<Value> {
        if value.is_null() {
            return Ok(Value::Null);
        }
        match &settings.replacement {
            None => Self::empty_value(value, schema),
            Some(r) => Self::replacement_for(value, r, schema),
        }
    }

    fn empty_value(value: &Value, schema: Option<&Schema>) -> Result<Value> {
        Ok(match value {
            Value::Boolean(_) => Value::Boolean(false),
            Value::Int8(_) => Value::Int8(0),
            Value::Int16(_) => Value::Int16(0),
            Value::Int32(_) => Value::Int32(0),
            Value::Int64(_) => Value::Int64(0),
            Value::Float32(_) => Value::Float32(0.0),
            Value::Float64(_) => Value::Float64(0.0),
            Value::String(_) => Value::String(String::new()),
            // The unscaled value zero, whatever the scale.
            Value::Bytes(_) if is_decimal(schema) => Value::Bytes(vec![0]),
            Value::Array(_) => Value::Array(Vec::new()),
            Value::Map(_) => Value::Map(Vec::new()),
            other => {
                return Err(ConnectError::data(format!(
                    "Cannot mask value of type: {}",
                    java_class(other)
                )));
            }
        })
    }

    fn replacement_for(value: &Value, replacement: &str, schema: Option<&Schema>) -> Result<Value> {
        let not_a_number = || {
            ConnectError::data(format!(
                "Unable to convert {replacement} (class java.lang.String) to number"
            ))
        };
        let integer = || -> Result<i64> {
            let r = replacement.trim();
            r.parse::<i64>()
                .or_else(|_| r.parse::<f64>().map(|f| f as i64))
                .map_err(|_| not_a_number())
        };
        let float = || {
            replacement
                .trim()
                .parse::<f64>()
                .map_err(|_| not_a_number())
        };
        Ok(match value {
            // Java narrows the parsed number the same way.
            Value::Int8(_) => Value::Int8(integer()? as i8),
            Value::Int16(_) => Value::Int16(integer()? as i16),
            Value::Int32(_) => Value::Int32(integer()? as i32),
            Value::Int64(_) => Value::Int64(integer()?),
            Value::Float32(_) => Value::Float32(float()? as f32),
            Value::Float64(_) => Value::Float64(float()?),
            Value::String(_) => Value::String(replacement.to_owned()),
            other => {
                let class = if is_decimal(schema) {
                    "class java.math.BigDecimal"
                } else {
                    java_class(other)
                };
                return Err(ConnectError::data(format!(
                    "Cannot mask value of type {class} with custom replacement."
                )));
            }
        })
    }
}

#[async_trait]
impl Transform for MaskField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        self.settings = Some(Settings {
            fields: config.list(FIELDS).into_iter().collect(),
            replacement: config.string(REPLACEMENT).map(str::to_owned),
            replace_null_with_default: config.bool(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        });
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self
            .settings
            .as_ref()
            .ok_or_else(|| not_configured(&self.name))?;
        let masked = match self.part.schema(&record) {
            None => {
                let entries = require_map(self.part.value(&record), &self.name, PURPOSE)?;
                let mut updated = Vec::with_capacity(entries.len());
                let mut seen = HashSet::new();
                for (k, v) in entries {
                    let v = match k.as_str() {
                        Some(name) if settings.fields.contains(name) => {
                            seen.insert(name);
                            Self::masked(settings, v, None)?
                        }
                        _ => v.clone(),
                    };
                    updated.push((k.clone(), v));
                }
                let mut absent: Vec<&String> = settings
                    .fields
                    .iter()
                    .filter(|f| !seen.contains(f.as_str()))
                    .collect();
                absent.sort();
                updated.extend(
                    absent
                        .into_iter()
                        .map(|f| (Value::from(f.as_str()), Value::Null)),
                );
                Value::Map(updated)
            }
            Some(_) => {
                let original = require_struct(self.part.value(&record), &self.name, PURPOSE)?;
                let mut updated = Struct::new(original.schema().clone())?;
                for (field, v) in original.iter() {
                    let v = match (&field.schema.default_value, v) {
                        (Some(d), Value::Null) if settings.replace_null_with_default => d,
                        _ => v,
                    };
                    let v = if settings.fields.contains(&field.name) {
                        Self::masked(settings, v, Some(&field.schema))?
                    } else {
                        v.clone()
                    };
                    updated.put(&field.name, v)?;
                }
                Value::Struct(updated)
            }
        };
        let (schema, _) = self.part.take(&mut record);
        self.part.set(&mut record, schema, masked);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{SchemaBuilder, SchemaRef, SchemaType};

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(pairs: &[(&str, &str)]) -> MaskField {
        let mut t = MaskField::new(RecordPart::Value);
        t.configure(&props(pairs)).unwrap();
        t
    }

    fn entry(k: &str, v: Value) -> (Value, Value) {
        (Value::from(k), v)
    }

    fn schema() -> SchemaRef {
        SchemaBuilder::struct_schema()
            .field("magic", Schema::int32())
            .field("bool", Schema::boolean())
            .field("long", Schema::int64())
            .field("double", Schema::float64())
            .field("string", Schema::string())
            .field("array", SchemaBuilder::array(Schema::int32()).build())
            .field(
                "decimal",
                SchemaBuilder::new(SchemaType::Bytes)
                    .name(logical::DECIMAL)
                    .parameter("scale", "2")
                    .build(),
            )
            .field("keep", Schema::string())
            .build()
    }

    fn struct_value() -> Value {
        let s = Struct::new(schema())
            .unwrap()
            .with("magic", 42)
            .unwrap()
            .with("bool", true)
            .unwrap()
            .with("long", 42i64)
            .unwrap()
            .with("double", 42.0)
            .unwrap()
            .with("string", "blabla")
            .unwrap()
            .with("array", Value::Array(vec![Value::Int32(1)]))
            .unwrap()
            .with("decimal", Value::Bytes(vec![1, 2]))
            .unwrap()
            .with("keep", "kept")
            .unwrap();
        Value::Struct(s)
    }

    const ALL: &str = "magic,bool,long,double,string,array,decimal";

    #[test]
    fn schemaless_fields_get_empty_values() {
        let t = configured(&[(FIELDS, "magic,bool,string,array,map,absent")]);
        let v = Value::Map(vec![
            entry("magic", Value::Int32(42)),
            entry("bool", Value::Boolean(true)),
            entry("string", Value::from("x")),
            entry("array", Value::Array(vec![Value::Int32(1)])),
            entry("map", Value::Map(vec![entry("k", Value::Int32(1))])),
            entry("keep", Value::from("kept")),
        ]);
        let out = apply(&t, ConnectRecord::new("t", v)).unwrap().unwrap();
        assert_eq!(
            out.value,
            Value::Map(vec![
                entry("magic", Value::Int32(0)),
                entry("bool", Value::Boolean(false)),
                entry("string", Value::from("")),
                entry("array", Value::Array(vec![])),
                entry("map", Value::Map(vec![])),
                entry("keep", Value::from("kept")),
                entry("absent", Value::Null),
            ])
        );
    }

    #[test]
    fn struct_fields_get_empty_values() {
        let t = configured(&[(FIELDS, ALL)]);
        let mut r = ConnectRecord::new("t", struct_value());
        r.value_schema = Some(schema());
        let out = apply(&t, r).unwrap().unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("magic"), Some(&Value::Int32(0)));
        assert_eq!(s.get("bool"), Some(&Value::Boolean(false)));
        assert_eq!(s.get("long"), Some(&Value::Int64(0)));
        assert_eq!(s.get("double"), Some(&Value::Float64(0.0)));
        assert_eq!(s.get("string"), Some(&Value::from("")));
        assert_eq!(s.get("array"), Some(&Value::Array(vec![])));
        assert_eq!(s.get("decimal"), Some(&Value::Bytes(vec![0])));
        assert_eq!(s.get("keep"), Some(&Value::from("kept")));
    }

    #[test]
    fn replacement_is_converted_to_the_field_type() {
        let t = configured(&[(FIELDS, "magic,long,double,string"), (REPLACEMENT, "123")]);
        let mut r = ConnectRecord::new("t", struct_value());
        r.value_schema = Some(schema());
        let out = apply(&t, r).unwrap().unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("magic"), Some(&Value::Int32(123)));
        assert_eq!(s.get("long"), Some(&Value::Int64(123)));
        assert_eq!(s.get("double"), Some(&Value::Float64(123.0)));
        assert_eq!(s.get("string"), Some(&Value::from("123")));

        let t = configured(&[(FIELDS, "s"), (REPLACEMENT, "***")]);
        let v = Value::Map(vec![entry("s", Value::from("secret"))]);
        let out = apply(&t, ConnectRecord::new("t", v)).unwrap().unwrap();
        assert_eq!(out.value, Value::Map(vec![entry("s", Value::from("***"))]));
    }

    #[test]
    fn errors() {
        let t = configured(&[(FIELDS, "magic"), (REPLACEMENT, "abc")]);
        let v = Value::Map(vec![entry("magic", Value::Int32(1))]);
        let err = apply(&t, ConnectRecord::new("t", v)).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(
            err.to_string(),
            "Unable to convert abc (class java.lang.String) to number"
        );

        let t = configured(&[(FIELDS, "bool"), (REPLACEMENT, "1")]);
        let v = Value::Map(vec![entry("bool", Value::Boolean(true))]);
        let err = apply(&t, ConnectRecord::new("t", v)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Cannot mask value of type class java.lang.Boolean with custom replacement."
        );

        let t = configured(&[(FIELDS, "b")]);
        let v = Value::Map(vec![entry("b", Value::Bytes(vec![1]))]);
        let err = apply(&t, ConnectRecord::new("t", v)).unwrap_err();
        assert_eq!(err.to_string(), "Cannot mask value of type: class [B");

        let err = apply(&t, ConnectRecord::new("t", Value::Null)).unwrap_err();
        assert!(err.to_string().contains("[mask fields]"), "{err}");

        let mut t = MaskField::new(RecordPart::Key);
        assert!(t.configure(&props(&[(FIELDS, "")])).is_err());
        let err = t
            .configure(&props(&[(FIELDS, "a"), (REPLACEMENT, " ")]))
            .unwrap_err();
        assert!(err.to_string().contains("non-empty"), "{err}");
    }
}
