//! `ExtractField$Key` / `ExtractField$Value`: replaces the key or value with one of its fields.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Transform, Value, async_trait,
};

use crate::field_path::{FieldPath, SyntaxVersion};
use crate::part::RecordPart;
use crate::requirements::{not_configured, require_map, require_struct};

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.ExtractField$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.ExtractField$Value";

const FIELD: &str = "field";
const REPLACE_NULL_WITH_DEFAULT: &str = "replace.null.with.default";
const PURPOSE: &str = "field extraction";

#[derive(Debug, Clone)]
struct Settings {
    path: FieldPath,
    original: String,
    replace_null_with_default: bool,
}

/// Extracts a field (a nested one with `field.syntax.version=V2`) from a struct, taking the
/// field's schema as the new schema, or from a schemaless map. A null key or value stays null;
/// a field missing from a schemaless map gives null, one missing from a schema is an error.
#[derive(Debug)]
pub struct ExtractField {
    part: RecordPart,
    name: String,
    settings: Option<Settings>,
}

impl ExtractField {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("ExtractField"),
            settings: None,
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new(
                FIELD,
                ConfigType::String,
                DefaultValue::Required,
                Importance::Medium,
                "Field name to extract.",
            ))
            .define(SyntaxVersion::config_key())
            .define(ConfigKey::new(
                REPLACE_NULL_WITH_DEFAULT,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "Whether a null field with a default value is extracted as that default.",
            ))
    }
}

#[async_trait]
impl Transform for ExtractField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let original = config.string(FIELD).unwrap_or_default().to_owned();
        let version =
            SyntaxVersion::from_setting(config.string(crate::field_path::FIELD_SYNTAX_VERSION));
        self.settings = Some(Settings {
            path: FieldPath::parse(&original, version)?,
            original,
            replace_null_with_default: config.bool(REPLACE_NULL_WITH_DEFAULT).unwrap_or(true),
        });
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self
            .settings
            .as_ref()
            .ok_or_else(|| not_configured(&self.name))?;
        let value = self.part.value(&record);
        match self.part.schema(&record) {
            None => {
                let extracted = if value.is_null() {
                    Value::Null
                } else {
                    require_map(value, &self.name, PURPOSE)?;
                    settings.path.value_from_map(value, &self.name)?
                };
                self.part.set(&mut record, None, extracted);
            }
            Some(schema) => {
                let field = settings.path.field_from(schema).ok_or_else(|| {
                    ConnectError::data(format!("Unknown field: {}", settings.original))
                })?;
                let field_schema = field.schema.clone();
                let extracted = if value.is_null() {
                    Value::Null
                } else {
                    let s = require_struct(value, &self.name, PURPOSE)?;
                    settings.path.value_from_struct(
                        s,
                        settings.replace_null_with_default,
                        &self.name,
                    )?
                };
                self.part.set(&mut record, Some(field_schema), extracted);
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{Schema, SchemaBuilder, SchemaRef, SchemaType, Struct};

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(part: RecordPart, pairs: &[(&str, &str)]) -> ExtractField {
        let mut t = ExtractField::new(part);
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

    fn nested_schema() -> (SchemaRef, SchemaRef) {
        let inner = SchemaBuilder::struct_schema()
            .field("magic", Schema::int32())
            .field(
                "dflt",
                SchemaBuilder::new(SchemaType::Int32)
                    .optional()
                    .default_value(Value::Int32(5))
                    .build(),
            )
            .build();
        let outer = SchemaBuilder::struct_schema()
            .field("magic", Schema::int32())
            .field("inner", inner.clone())
            .build();
        (outer, inner)
    }

    fn nested_value() -> Value {
        let (outer, inner) = nested_schema();
        let inner = Struct::new(inner).unwrap().with("magic", 42).unwrap();
        Value::Struct(
            Struct::new(outer)
                .unwrap()
                .with("magic", 1)
                .unwrap()
                .with("inner", inner)
                .unwrap(),
        )
    }

    #[test]
    fn schemaless_key_field_is_extracted() {
        let t = configured(RecordPart::Key, &[(FIELD, "magic")]);
        let mut r = ConnectRecord::new("t", Value::from("v"));
        r.key = map(vec![("magic", Value::Int32(42))]);
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(out.key, Value::Int32(42));
        assert!(out.key_schema.is_none());
        assert_eq!(out.value, Value::from("v"));

        // A missing field gives null.
        let mut r = ConnectRecord::new("t", Value::Null);
        r.key = map(vec![("other", Value::Int32(1))]);
        assert_eq!(apply(&t, r).unwrap().unwrap().key, Value::Null);
    }

    #[test]
    fn struct_field_and_its_schema_are_extracted() {
        let t = configured(RecordPart::Value, &[(FIELD, "magic")]);
        let mut r = ConnectRecord::new("t", nested_value());
        r.value_schema = Some(nested_schema().0);
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(out.value, Value::Int32(1));
        assert_eq!(out.value_schema, Some(Schema::int32()));
    }

    #[test]
    fn v2_paths_reach_nested_fields() {
        let t = configured(
            RecordPart::Value,
            &[(FIELD, "inner.magic"), ("field.syntax.version", "v2")],
        );
        let mut r = ConnectRecord::new("t", nested_value());
        r.value_schema = Some(nested_schema().0);
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(out.value, Value::Int32(42));

        let inner = map(vec![("magic", Value::Int32(7))]);
        let r = ConnectRecord::new("t", map(vec![("inner", inner)]));
        assert_eq!(apply(&t, r).unwrap().unwrap().value, Value::Int32(7));

        // V1 takes the dotted name literally.
        let v1 = configured(RecordPart::Value, &[(FIELD, "inner.magic")]);
        let r = ConnectRecord::new("t", map(vec![("inner.magic", Value::Int32(3))]));
        assert_eq!(apply(&v1, r).unwrap().unwrap().value, Value::Int32(3));
    }

    #[test]
    fn defaults_apply_unless_disabled() {
        let path = [(FIELD, "inner.dflt"), ("field.syntax.version", "V2")];
        let record = || {
            let mut r = ConnectRecord::new("t", nested_value());
            r.value_schema = Some(nested_schema().0);
            r
        };
        let t = configured(RecordPart::Value, &path);
        assert_eq!(apply(&t, record()).unwrap().unwrap().value, Value::Int32(5));
        let mut pairs = path.to_vec();
        pairs.push((REPLACE_NULL_WITH_DEFAULT, "false"));
        let t = configured(RecordPart::Value, &pairs);
        assert_eq!(apply(&t, record()).unwrap().unwrap().value, Value::Null);
    }

    #[test]
    fn nulls_pass_through() {
        let t = configured(RecordPart::Value, &[(FIELD, "magic")]);
        let out = apply(&t, ConnectRecord::new("t", Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(out.value, Value::Null);
        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(nested_schema().0);
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(out.value, Value::Null);
        assert_eq!(out.value_schema, Some(Schema::int32()));
    }

    #[test]
    fn errors() {
        let t = configured(RecordPart::Value, &[(FIELD, "nope")]);
        let mut r = ConnectRecord::new("t", nested_value());
        r.value_schema = Some(nested_schema().0);
        let err = apply(&t, r).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(err.to_string(), "Unknown field: nope");

        let err = apply(&t, ConnectRecord::new("t", Value::Int32(1))).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ExtractField$Value: Only Map objects supported in absence of schema for \
             [field extraction], found: Integer"
        );

        let t = configured(
            RecordPart::Value,
            &[(FIELD, "a.b"), ("field.syntax.version", "V2")],
        );
        let r = ConnectRecord::new("t", map(vec![("a", Value::Int32(1))]));
        let err = apply(&t, r).unwrap_err();
        assert!(err.to_string().contains("[nested field access]"), "{err}");

        let mut t = ExtractField::new(RecordPart::Value);
        let err = t.configure(&props(&[])).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        let err = t
            .configure(&props(&[(FIELD, "a"), ("field.syntax.version", "V3")]))
            .unwrap_err();
        assert!(err.to_string().contains("field.syntax.version"), "{err}");
    }
}
