//! `Flatten$Key` / `Flatten$Value`: flattens nested structs or maps into one level, joining
//! field names with a delimiter.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Schema, SchemaBuilder, SchemaType, Struct, Transform, Value, async_trait,
};

use crate::part::RecordPart;
use crate::requirements::{not_configured, require_map, require_struct};
use crate::schema_cache::SchemaCache;
use crate::schema_util::copy_schema_basics;

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.Flatten$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.Flatten$Value";

const DELIMITER: &str = "delimiter";
const PURPOSE: &str = "flattening";

/// Flattens nested data: `{"a": {"b": 1}}` becomes `{"a.b": 1}` with the default delimiter.
/// Structs (with a schema) and maps (without) are flattened; arrays and primitives are kept as
/// they are. A flattened field is optional when any ancestor is, and takes its default from its
/// own schema or, failing that, from an ancestor's default struct. Maps inside structs are not
/// supported, as in Kafka. Null data passes through (with a schema, the schema is flattened).
#[derive(Debug)]
pub struct Flatten {
    part: RecordPart,
    name: String,
    delimiter: Option<String>,
    schema_cache: SchemaCache,
}

impl Flatten {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("Flatten"),
            delimiter: None,
            schema_cache: SchemaCache::default(),
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new().define(ConfigKey::new(
            DELIMITER,
            ConfigType::String,
            DefaultValue::Value(".".into()),
            Importance::Medium,
            "Delimiter to insert between field names from the input record when generating \
             field names for the output record",
        ))
    }

    fn field_name(delimiter: &str, prefix: &str, name: &str) -> String {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}{delimiter}{name}")
        }
    }

    fn unsupported(schema_type: SchemaType, field: &str) -> ConnectError {
        ConnectError::data(format!(
            "Flatten transformation does not support {schema_type} for record with schemas \
             (for field {field})."
        ))
    }

    fn flatten_map(
        delimiter: &str,
        entries: &[(Value, Value)],
        prefix: &str,
        out: &mut Vec<(Value, Value)>,
    ) -> Result<()> {
        for (k, v) in entries {
            let key = match k {
                Value::String(s) => s.clone(),
                other => {
                    return Err(ConnectError::data(format!(
                        "Flatten transformation supports only string map keys, found: {}",
                        other.kind_name()
                    )));
                }
            };
            let name = Self::field_name(delimiter, prefix, &key);
            match v {
                Value::Map(inner) => Self::flatten_map(delimiter, inner, &name, out)?,
                Value::Struct(_) => {
                    return Err(ConnectError::data(format!(
                        "Flatten transformation does not support class \
                         org.apache.kafka.connect.data.Struct for record without schemas \
                         (for field {name})."
                    )));
                }
                other => {
                    out.retain(|(existing, _)| existing.as_str() != Some(&name));
                    out.push((Value::String(name), other.clone()));
                }
            }
        }
        Ok(())
    }

    fn flatten_schema(
        delimiter: &str,
        schema: &Schema,
        prefix: &str,
        optional: bool,
        parent_default: Option<&Struct>,
        mut builder: SchemaBuilder,
    ) -> Result<SchemaBuilder> {
        for field in &schema.fields {
            let name = Self::field_name(delimiter, prefix, &field.name);
            let field_optional = optional || field.schema.optional;
            let default = field.schema.default_value.clone().or_else(|| {
                parent_default
                    .and_then(|d| d.get(&field.name))
                    .filter(|v| !v.is_null())
                    .cloned()
            });
            match field.schema.schema_type {
                SchemaType::Struct => {
                    let nested_default = match &default {
                        Some(Value::Struct(s)) => Some(s),
                        _ => None,
                    };
                    builder = Self::flatten_schema(
                        delimiter,
                        &field.schema,
                        &name,
                        field_optional,
                        nested_default,
                        builder,
                    )?;
                }
                SchemaType::Map => return Err(Self::unsupported(SchemaType::Map, &name)),
                _ => {
                    let mut converted =
                        copy_schema_basics(&field.schema).set_optional(field_optional);
                    if let Some(d) = default {
                        converted = converted.default_value(d);
                    }
                    builder = builder.field(name, converted.build());
                }
            }
        }
        Ok(builder)
    }

    fn flatten_struct(
        delimiter: &str,
        value: &Struct,
        prefix: &str,
        out: &mut Struct,
    ) -> Result<()> {
        for (field, _) in value.iter() {
            let name = Self::field_name(delimiter, prefix, &field.name);
            let v = value.get(&field.name).unwrap_or(&Value::Null);
            match field.schema.schema_type {
                SchemaType::Struct => {
                    if let Value::Struct(inner) = v {
                        Self::flatten_struct(delimiter, inner, &name, out)?;
                    }
                }
                SchemaType::Map => return Err(Self::unsupported(SchemaType::Map, &name)),
                _ => {
                    out.put(&name, v.clone())?;
                }
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Transform for Flatten {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        // Read the raw value: the config parser trims strings, and a delimiter may be a space.
        let delimiter = props
            .get(DELIMITER)
            .cloned()
            .or_else(|| config.string(DELIMITER).map(str::to_owned))
            .unwrap_or_else(|| ".".to_owned());
        self.delimiter = Some(delimiter);
        self.schema_cache = SchemaCache::default();
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let delimiter = self
            .delimiter
            .as_deref()
            .ok_or_else(|| not_configured(&self.name))?;
        let value = self.part.value(&record);
        if value.is_null() && self.part.schema(&record).is_none() {
            return Ok(Some(record));
        }
        match self.part.schema(&record) {
            None => {
                let entries = require_map(value, &self.name, PURPOSE)?;
                let mut flat = Vec::with_capacity(entries.len());
                Self::flatten_map(delimiter, entries, "", &mut flat)?;
                self.part.set(&mut record, None, Value::Map(flat));
            }
            Some(schema) => {
                let updated =
                    self.schema_cache.get_or_derive(schema, |s| {
                        let parent_default = match &s.default_value {
                            Some(Value::Struct(d)) => Some(d),
                            _ => None,
                        };
                        let builder = copy_schema_basics(s).set_optional(s.optional);
                        Ok(Self::flatten_schema(
                            delimiter,
                            s,
                            "",
                            s.optional,
                            parent_default,
                            builder,
                        )?
                        .build())
                    })?;
                let flat = if value.is_null() {
                    Value::Null
                } else {
                    let original = require_struct(value, &self.name, PURPOSE)?;
                    let mut out = Struct::new(updated.clone())?;
                    Self::flatten_struct(delimiter, original, "", &mut out)?;
                    Value::Struct(out)
                };
                self.part.set(&mut record, Some(updated), flat);
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::SchemaRef;

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(part: RecordPart, pairs: &[(&str, &str)]) -> Flatten {
        let mut t = Flatten::new(part);
        t.configure(&props(pairs)).unwrap();
        t
    }

    fn map(pairs: Vec<(&str, Value)>) -> Value {
        Value::Map(
            pairs
                .into_iter()
                .map(|(k, v)| (Value::from(k), v))
                .collect(),
        )
    }

    #[test]
    fn nested_maps_are_flattened_arrays_kept() {
        let t = configured(RecordPart::Value, &[]);
        let v = map(vec![
            (
                "A",
                map(vec![
                    ("B", map(vec![("int", Value::Int32(8))])),
                    ("string", Value::from("s")),
                    ("array", Value::Array(vec![Value::Int32(1)])),
                    ("nil", Value::Null),
                ]),
            ),
            ("top", Value::Boolean(true)),
        ]);
        let out = apply(&t, ConnectRecord::new("t", v)).unwrap().unwrap();
        assert_eq!(
            out.value,
            map(vec![
                ("A.B.int", Value::Int32(8)),
                ("A.string", Value::from("s")),
                ("A.array", Value::Array(vec![Value::Int32(1)])),
                ("A.nil", Value::Null),
                ("top", Value::Boolean(true)),
            ])
        );

        let t = configured(RecordPart::Key, &[(DELIMITER, "#")]);
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key = map(vec![("a", map(vec![("b", Value::Int32(1))]))]);
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(out.key, map(vec![("a#b", Value::Int32(1))]));
    }

    fn nested_schema(optional_inner: bool) -> (SchemaRef, SchemaRef) {
        let inner = SchemaBuilder::struct_schema()
            .field("int8", Schema::int8())
            .field("string", Schema::string())
            .field("array", SchemaBuilder::array(Schema::int32()).build())
            .set_optional(optional_inner)
            .build();
        let outer = SchemaBuilder::struct_schema()
            .name("outer")
            .field("A", inner.clone())
            .field("n", Schema::int64())
            .build();
        (outer, inner)
    }

    #[test]
    fn nested_structs_are_flattened_with_schema() {
        let (outer, inner) = nested_schema(true);
        let inner_v = Struct::new(inner)
            .unwrap()
            .with("int8", Value::Int8(8))
            .unwrap()
            .with("string", "s")
            .unwrap()
            .with("array", Value::Array(vec![Value::Int32(1)]))
            .unwrap();
        let v = Struct::new(outer.clone())
            .unwrap()
            .with("A", inner_v)
            .unwrap()
            .with("n", 5i64)
            .unwrap();
        let mut r = ConnectRecord::new("t", Value::Struct(v));
        r.value_schema = Some(outer.clone());
        let t = configured(RecordPart::Value, &[(DELIMITER, "_")]);
        let out = apply(&t, r).unwrap().unwrap();
        let s = out.value_schema.clone().unwrap();
        assert_eq!(s.name.as_deref(), Some("outer"));
        let names: Vec<_> = s.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["A_int8", "A_string", "A_array", "n"]);
        // Children of an optional struct become optional.
        assert!(s.field("A_int8").unwrap().schema.optional);
        assert!(!s.field("n").unwrap().schema.optional);
        assert_eq!(
            s.field("A_array").unwrap().schema.value_schema,
            Some(Schema::int32())
        );
        let v = out.value.as_struct().unwrap();
        assert_eq!(v.get("A_int8"), Some(&Value::Int8(8)));
        assert_eq!(v.get("A_array"), Some(&Value::Array(vec![Value::Int32(1)])));
        assert_eq!(v.get("n"), Some(&Value::Int64(5)));

        // An absent optional struct leaves its flattened fields null.
        let v = Struct::new(outer.clone()).unwrap().with("n", 1i64).unwrap();
        let mut r = ConnectRecord::new("t", Value::Struct(v));
        r.value_schema = Some(outer);
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(
            out.value.as_struct().unwrap().get("A_string"),
            Some(&Value::Null)
        );
    }

    #[test]
    fn parent_defaults_flow_into_flattened_fields() {
        let inner = SchemaBuilder::struct_schema()
            .field("x", Schema::int32())
            .build();
        let inner_default = Struct::new(inner.clone()).unwrap().with("x", 7).unwrap();
        let inner = SchemaBuilder::from_schema(&inner)
            .optional()
            .default_value(Value::Struct(inner_default))
            .build();
        let outer = SchemaBuilder::struct_schema().field("in", inner).build();
        let t = configured(RecordPart::Value, &[]);
        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(outer);
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(out.value, Value::Null);
        let s = out.value_schema.unwrap();
        let x = &s.field("in.x").unwrap().schema;
        assert_eq!(x.default_value, Some(Value::Int32(7)));
        assert!(x.optional);
    }

    #[test]
    fn errors() {
        let t = configured(RecordPart::Value, &[]);
        let schema = SchemaBuilder::struct_schema()
            .field(
                "m",
                SchemaBuilder::map(Schema::string(), Schema::string()).build(),
            )
            .build();
        let mut r = ConnectRecord::new("t", Value::Struct(Struct::new(schema.clone()).unwrap()));
        r.value_schema = Some(schema);
        let err = apply(&t, r).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(
            err.to_string(),
            "Flatten transformation does not support MAP for record with schemas (for field m)."
        );
        let err = apply(&t, ConnectRecord::new("t", Value::Int32(1))).unwrap_err();
        assert!(err.to_string().contains("[flattening]"), "{err}");
        let mut r = ConnectRecord::new("t", Value::Int32(1));
        r.value_schema = Some(Schema::int32());
        let err = apply(&t, r).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
        let r = ConnectRecord::new("t", Value::Null);
        assert_eq!(apply(&t, r.clone()).unwrap().unwrap(), r);
    }
}
