//! `SetSchemaMetadata$Key` / `SetSchemaMetadata$Value`: sets the name and/or version of the key
//! or value schema.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Schema, SchemaBuilder, SchemaRef, Struct, Transform, Value, async_trait,
};

use crate::part::RecordPart;
use crate::requirements::not_configured;

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.SetSchemaMetadata$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value";

const SCHEMA_NAME: &str = "schema.name";
const SCHEMA_VERSION: &str = "schema.version";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
const PURPOSE: &str = "updating schema metadata";

#[derive(Debug, Clone)]
struct Settings {
    name: Option<String>,
    version: Option<i32>,
    replace_null_with_default: bool,
}

/// Replaces the schema's name and/or version, keeping everything else. A struct is rebuilt on
/// the renamed schema so its own schema matches the record's. Data without a schema is an
/// error, unless it is null (then the record passes unchanged).
#[derive(Debug)]
pub struct SetSchemaMetadata {
    part: RecordPart,
    name: String,
    settings: Option<Settings>,
}

impl SetSchemaMetadata {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("SetSchemaMetadata"),
            settings: None,
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new(
                SCHEMA_NAME,
                ConfigType::String,
                DefaultValue::Null,
                Importance::High,
                "Schema name to set.",
            ))
            .define(ConfigKey::new(
                SCHEMA_VERSION,
                ConfigType::Int,
                DefaultValue::Null,
                Importance::High,
                "Schema version to set.",
            ))
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether null struct fields with a default value are copied as that default.",
            ))
    }

    fn renamed(settings: &Settings, schema: &Schema) -> SchemaRef {
        let mut builder = SchemaBuilder::from_schema(schema);
        if let Some(name) = &settings.name {
            builder = builder.name(name.clone());
        }
        if let Some(version) = settings.version {
            builder = builder.version(version);
        }
        builder.build()
    }
}

#[async_trait]
impl Transform for SetSchemaMetadata {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let settings = Settings {
            name: config.string(SCHEMA_NAME).map(str::to_owned),
            version: config.int(SCHEMA_VERSION),
            replace_null_with_default: config.bool(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        };
        if settings.name.is_none() && settings.version.is_none() {
            return Err(ConnectError::config(
                "Neither schema name nor version configured",
            ));
        }
        self.settings = Some(settings);
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self
            .settings
            .as_ref()
            .ok_or_else(|| not_configured(&self.name))?;
        let Some(schema) = self.part.schema(&record) else {
            if self.part.value(&record).is_null() {
                return Ok(Some(record));
            }
            return Err(ConnectError::data(format!(
                "{}: Schema required for [{PURPOSE}]",
                self.name
            )));
        };
        let updated = Self::renamed(settings, schema);
        let (_, value) = self.part.take(&mut record);
        let value = match value {
            Value::Struct(original) => {
                let mut rebuilt = Struct::new(updated.clone())?;
                for (field, v) in original.iter() {
                    let v = match (&field.schema.default_value, v) {
                        (Some(d), Value::Null) if settings.replace_null_with_default => d.clone(),
                        _ => v.clone(),
                    };
                    rebuilt.put(&field.name, v)?;
                }
                Value::Struct(rebuilt)
            }
            other => other,
        };
        self.part.set(&mut record, Some(updated), value);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::SchemaType;

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(part: RecordPart, pairs: &[(&str, &str)]) -> SetSchemaMetadata {
        let mut t = SetSchemaMetadata::new(part);
        t.configure(&props(pairs)).unwrap();
        t
    }

    #[test]
    fn name_and_version_are_set_on_primitive_schemas() {
        let t = configured(
            RecordPart::Value,
            &[(SCHEMA_NAME, "foo"), (SCHEMA_VERSION, "42")],
        );
        let mut r = ConnectRecord::new("t", Value::from("v"));
        r.value_schema = Some(SchemaBuilder::new(SchemaType::String).doc("d").build());
        let out = apply(&t, r).unwrap().unwrap();
        let s = out.value_schema.unwrap();
        assert_eq!(s.name.as_deref(), Some("foo"));
        assert_eq!(s.version, Some(42));
        assert_eq!(s.doc.as_deref(), Some("d"));
        assert_eq!(out.value, Value::from("v"));

        let t = configured(RecordPart::Key, &[(SCHEMA_VERSION, "7")]);
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key_schema = Some(SchemaBuilder::new(SchemaType::Int32).name("keep").build());
        r.key = Value::Int32(1);
        let out = apply(&t, r).unwrap().unwrap();
        let s = out.key_schema.unwrap();
        assert_eq!((s.name.as_deref(), s.version), (Some("keep"), Some(7)));
    }

    #[test]
    fn structs_are_rebuilt_on_the_new_schema() {
        let schema = SchemaBuilder::struct_schema()
            .name("old")
            .field("a", Schema::int32())
            .field(
                "b",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(3))
                    .build(),
            )
            .build();
        let value = Struct::new(schema.clone()).unwrap().with("a", 1).unwrap();
        let mut r = ConnectRecord::new("t", Value::Struct(value));
        r.value_schema = Some(schema);
        let t = configured(RecordPart::Value, &[(SCHEMA_NAME, "new")]);
        let out = apply(&t, r.clone()).unwrap().unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.schema().name.as_deref(), Some("new"));
        assert_eq!(Some(s.schema()), out.value_schema.as_ref());
        assert_eq!(s.get_without_default("a"), Some(&Value::Int32(1)));
        assert_eq!(s.get_without_default("b"), Some(&Value::Int32(3)));

        let t = configured(
            RecordPart::Value,
            &[(SCHEMA_NAME, "new"), (REPLACE_NULL_WITH_DEFAULT, "false")],
        );
        let out = apply(&t, r).unwrap().unwrap();
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get_without_default("b"), Some(&Value::Null));
    }

    #[test]
    fn null_without_schema_passes_and_null_with_schema_is_renamed() {
        let t = configured(RecordPart::Value, &[(SCHEMA_NAME, "n")]);
        let r = ConnectRecord::new("t", Value::Null);
        assert_eq!(apply(&t, r.clone()).unwrap().unwrap(), r);
        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(Schema::optional_string());
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(out.value_schema.unwrap().name.as_deref(), Some("n"));
        assert_eq!(out.value, Value::Null);
    }

    #[test]
    fn errors() {
        let t = configured(RecordPart::Value, &[(SCHEMA_NAME, "n")]);
        let err = apply(&t, ConnectRecord::new("t", Value::from("x"))).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(
            err.to_string(),
            "SetSchemaMetadata$Value: Schema required for [updating schema metadata]"
        );
        let mut t = SetSchemaMetadata::new(RecordPart::Value);
        let err = t.configure(&props(&[])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "Neither schema name nor version configured"
        );
        let err = t.configure(&props(&[(SCHEMA_VERSION, "x")])).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(err.to_string().contains(SCHEMA_VERSION), "{err}");
    }
}
