//! `HoistField$Key` / `HoistField$Value`: wraps the key or value in a struct or map with one field.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectRecord, DefaultValue, Importance, Props, Result,
    SchemaBuilder, Struct, Transform, Value, async_trait,
};

use crate::part::RecordPart;
use crate::requirements::not_configured;
use crate::schema_cache::SchemaCache;

/// Java class of the key variant.
pub const KEY_CLASS: &str = "org.apache.kafka.connect.transforms.HoistField$Key";
/// Java class of the value variant.
pub const VALUE_CLASS: &str = "org.apache.kafka.connect.transforms.HoistField$Value";

const FIELD: &str = "field";

/// Wraps the data in a struct with a single field of the data's schema, or, without a schema, in
/// a map with a single entry. Like Kafka, null data is wrapped too (a field that the schema
/// requires cannot hold it, which is a data error).
#[derive(Debug)]
pub struct HoistField {
    part: RecordPart,
    name: String,
    field: Option<String>,
    schema_cache: SchemaCache,
}

impl HoistField {
    /// An unconfigured transform acting on `part`.
    pub fn new(part: RecordPart) -> Self {
        Self {
            part,
            name: part.qualify("HoistField"),
            field: None,
            schema_cache: SchemaCache::default(),
        }
    }

    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new().define(ConfigKey::new(
            FIELD,
            ConfigType::String,
            DefaultValue::Required,
            Importance::Medium,
            "Field name for the single field that will be created in the resulting Struct or Map.",
        ))
    }
}

#[async_trait]
impl Transform for HoistField {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        self.field = Some(config.string(FIELD).unwrap_or_default().to_owned());
        self.schema_cache = SchemaCache::default();
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let field = self
            .field
            .as_deref()
            .ok_or_else(|| not_configured(&self.name))?;
        let (schema, value) = self.part.take(&mut record);
        match schema {
            None => {
                let hoisted = Value::Map(vec![(Value::from(field), value)]);
                self.part.set(&mut record, None, hoisted);
            }
            Some(schema) => {
                let updated = self.schema_cache.get_or_derive(&schema, |s| {
                    Ok(SchemaBuilder::struct_schema()
                        .field(field, s.clone())
                        .build())
                })?;
                let hoisted = Struct::new(updated.clone())?.with(field, value)?;
                self.part
                    .set(&mut record, Some(updated), Value::Struct(hoisted));
            }
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{ConnectError, Schema};

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(part: RecordPart) -> HoistField {
        let mut t = HoistField::new(part);
        t.configure(&props(&[(FIELD, "magic")])).unwrap();
        t
    }

    #[test]
    fn schemaless_value_becomes_a_one_entry_map() {
        let t = configured(RecordPart::Key);
        let mut r = ConnectRecord::new("t", Value::from("v"));
        r.key = Value::Int32(42);
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(
            out.key,
            Value::Map(vec![(Value::from("magic"), Value::Int32(42))])
        );
        assert!(out.key_schema.is_none());
        assert_eq!(out.value, Value::from("v"));
    }

    #[test]
    fn schemaful_value_becomes_a_one_field_struct() {
        let t = configured(RecordPart::Value);
        let mut r = ConnectRecord::new("t", Value::Int32(42));
        r.value_schema = Some(Schema::int32());
        let out = apply(&t, r.clone()).unwrap().unwrap();
        let schema = out.value_schema.clone().unwrap();
        assert_eq!(schema.fields.len(), 1);
        assert_eq!(schema.fields[0].name, "magic");
        assert_eq!(schema.fields[0].schema, Schema::int32());
        let s = out.value.as_struct().unwrap();
        assert_eq!(s.get("magic"), Some(&Value::Int32(42)));
        // The derived schema is reused for the next record of the same schema.
        let again = apply(&t, r).unwrap().unwrap();
        assert!(std::sync::Arc::ptr_eq(
            &schema,
            again.value_schema.as_ref().unwrap()
        ));
    }

    #[test]
    fn null_is_wrapped_and_must_fit_the_schema() {
        let t = configured(RecordPart::Value);
        let out = apply(&t, ConnectRecord::new("t", Value::Null))
            .unwrap()
            .unwrap();
        assert_eq!(
            out.value,
            Value::Map(vec![(Value::from("magic"), Value::Null)])
        );

        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(Schema::optional_string());
        let out = apply(&t, r).unwrap().unwrap();
        assert_eq!(
            out.value.as_struct().unwrap().get("magic"),
            Some(&Value::Null)
        );

        let mut r = ConnectRecord::new("t", Value::Null);
        r.value_schema = Some(Schema::string());
        let err = apply(&t, r).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)), "{err:?}");
    }

    #[test]
    fn field_is_required() {
        let err = HoistField::new(RecordPart::Value)
            .configure(&props(&[]))
            .unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(err.to_string().contains("\"field\""), "{err}");
    }
}
