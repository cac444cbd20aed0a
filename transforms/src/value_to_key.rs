//! `ValueToKey`: replaces the record key with a struct or map of fields taken from the value.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, SchemaBuilder, Struct, Transform, Value, async_trait,
};

use crate::requirements::{not_configured, require_map, require_struct};
use crate::schema_cache::SchemaCache;
use crate::validators::non_empty_list;

/// Java class of this transform.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.ValueToKey";

const FIELDS: &str = "fields";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
const NAME: &str = "ValueToKey";
const PURPOSE: &str = "copying fields from value to key";

#[derive(Debug, Clone)]
struct Settings {
    fields: Vec<String>,
    replace_null_with_default: bool,
}

/// Builds the key from value fields: a map of the named entries (null when absent) for
/// schemaless values, a struct with the fields' schemas for struct values. A field the value
/// schema lacks is a data error; so is a value that is not a map or struct (tombstones included,
/// as in Kafka).
#[derive(Debug, Default)]
pub struct ValueToKey {
    settings: Option<Settings>,
    schema_cache: SchemaCache,
}

impl ValueToKey {
    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(
                    FIELDS,
                    ConfigType::List,
                    DefaultValue::Required,
                    Importance::High,
                    "Field names on the record value to extract as the record key.",
                )
                .validator(non_empty_list()),
            )
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether a null field with a default value is copied as that default.",
            ))
    }
}

#[async_trait]
impl Transform for ValueToKey {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        self.settings = Some(Settings {
            fields: config.list(FIELDS),
            replace_null_with_default: config.bool(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        });
        self.schema_cache = SchemaCache::default();
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self.settings.as_ref().ok_or_else(|| not_configured(NAME))?;
        if record.value_schema.is_none() {
            require_map(&record.value, NAME, PURPOSE)?;
            let key = settings
                .fields
                .iter()
                .map(|f| {
                    let v = record.value.map_get(f).cloned().unwrap_or(Value::Null);
                    (Value::from(f.as_str()), v)
                })
                .collect();
            record.key_schema = None;
            record.key = Value::Map(key);
        } else {
            let value = require_struct(&record.value, NAME, PURPOSE)?;
            let key_schema = self.schema_cache.get_or_derive(value.schema(), |s| {
                let mut builder = SchemaBuilder::struct_schema();
                for name in &settings.fields {
                    let field = s.field(name).ok_or_else(|| {
                        ConnectError::data(format!("Field does not exist: {name}"))
                    })?;
                    builder = builder.field(name.clone(), field.schema.clone());
                }
                Ok(builder.build())
            })?;
            let mut key = Struct::new(key_schema.clone())?;
            for name in &settings.fields {
                let v = if settings.replace_null_with_default {
                    value.get(name)
                } else {
                    value.get_without_default(name)
                };
                key.put(name, v.cloned().unwrap_or(Value::Null))?;
            }
            record.key_schema = Some(key_schema);
            record.key = Value::Struct(key);
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{Schema, SchemaRef, SchemaType};

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(fields: &str) -> ValueToKey {
        let mut t = ValueToKey::default();
        t.configure(&props(&[(FIELDS, fields)])).unwrap();
        t
    }

    fn value_schema() -> SchemaRef {
        SchemaBuilder::struct_schema()
            .field("a", Schema::int32())
            .field("b", Schema::int32())
            .field(
                "c",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(9))
                    .build(),
            )
            .build()
    }

    fn value() -> Value {
        Value::Struct(
            Struct::new(value_schema())
                .unwrap()
                .with("a", 1)
                .unwrap()
                .with("b", 2)
                .unwrap(),
        )
    }

    #[test]
    fn schemaless_key_is_a_map_of_the_fields() {
        let t = configured("a,b");
        let v = Value::Map(vec![
            ("a".into(), Value::Int32(1)),
            ("b".into(), Value::Int32(2)),
            ("c".into(), Value::Int32(3)),
        ]);
        let out = apply(&t, ConnectRecord::new("t", v.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.key,
            Value::Map(vec![
                ("a".into(), Value::Int32(1)),
                ("b".into(), Value::Int32(2))
            ])
        );
        assert_eq!(out.value, v);
        let out = apply(&configured("z"), ConnectRecord::new("t", v))
            .unwrap()
            .unwrap();
        assert_eq!(out.key, Value::Map(vec![("z".into(), Value::Null)]));
    }

    #[test]
    fn schemaful_key_is_a_struct_of_the_fields() {
        let t = configured("a,b,c");
        let mut r = ConnectRecord::new("t", value());
        r.value_schema = Some(value_schema());
        let out = apply(&t, r.clone()).unwrap().unwrap();
        let ks = out.key_schema.clone().unwrap();
        let names: Vec<_> = ks.fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let key = out.key.as_struct().unwrap();
        assert_eq!(key.get_without_default("a"), Some(&Value::Int32(1)));
        assert_eq!(key.get_without_default("c"), Some(&Value::Int32(9)));
        assert_eq!(out.value, value());

        let mut t = ValueToKey::default();
        t.configure(&props(&[
            (FIELDS, "c"),
            (REPLACE_NULL_WITH_DEFAULT, "false"),
        ]))
        .unwrap();
        let out = apply(&t, r).unwrap().unwrap();
        let key = out.key.as_struct().unwrap();
        assert_eq!(key.get_without_default("c"), Some(&Value::Null));
    }

    #[test]
    fn errors() {
        let t = configured("a,nope");
        let mut r = ConnectRecord::new("t", value());
        r.value_schema = Some(value_schema());
        let err = apply(&t, r).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(err.to_string(), "Field does not exist: nope");

        let err = apply(&t, ConnectRecord::new("t", Value::Null)).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert!(
            err.to_string()
                .contains("[copying fields from value to key]")
        );

        let err = ValueToKey::default()
            .configure(&props(&[(FIELDS, "")]))
            .unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(err.to_string().contains("Empty list"), "{err}");
    }
}
