//! `InsertHeader`: adds a header with a fixed value to every record.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectRecord, DefaultValue, Importance, Props, Result,
    SchemaRef, Transform, Value, async_trait,
};

use crate::literal::parse_literal;
use crate::requirements::not_configured;

/// Java class of this transform.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.InsertHeader";

const HEADER: &str = "header";
const VALUE_LITERAL: &str = "value.literal";
const NAME: &str = "InsertHeader";

#[derive(Debug, Clone)]
struct Settings {
    header: String,
    schema: Option<SchemaRef>,
    value: Value,
}

/// Appends a header whose value is a configured literal (Kafka's `InsertHeader`). The literal is
/// typed the way Kafka's `Values.parseString` types it: `42` is an int8, `true` a boolean, `null`
/// a null, text a string (see [`crate::literal`]). Existing headers of the same name are kept.
#[derive(Debug, Default)]
pub struct InsertHeader {
    settings: Option<Settings>,
}

impl InsertHeader {
    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new(
                HEADER,
                ConfigType::String,
                DefaultValue::Required,
                Importance::High,
                "The name of the header.",
            ))
            .define(ConfigKey::new(
                VALUE_LITERAL,
                ConfigType::String,
                DefaultValue::Required,
                Importance::High,
                "The literal value to set as the header value on every record.",
            ))
    }
}

#[async_trait]
impl Transform for InsertHeader {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let header = config.string(HEADER).unwrap_or_default().to_owned();
        let (schema, value) = parse_literal(config.string(VALUE_LITERAL).unwrap_or_default());
        self.settings = Some(Settings {
            header,
            schema,
            value,
        });
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self.settings.as_ref().ok_or_else(|| not_configured(NAME))?;
        record.headers.add(
            settings.header.clone(),
            settings.schema.clone(),
            settings.value.clone(),
        );
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{ConnectError, Schema, SchemaType};

    use super::*;
    use crate::test_util::{apply, props};

    fn configured(header: &str, literal: &str) -> InsertHeader {
        let mut t = InsertHeader::default();
        t.configure(&props(&[(HEADER, header), (VALUE_LITERAL, literal)]))
            .unwrap();
        t
    }

    #[test]
    fn appends_a_typed_header() {
        let t = configured("source", "billing");
        let mut record = ConnectRecord::new("t", Value::from("v"));
        record.headers.add_string("source", "old");
        let out = apply(&t, record).unwrap().unwrap();
        let all: Vec<_> = out.headers.all_with_name("source").collect();
        assert_eq!(all.len(), 2, "the existing header is kept");
        let last = out.headers.last_with_name("source").unwrap();
        assert_eq!(last.value, Value::from("billing"));
        assert_eq!(last.schema, Some(Schema::string()));
        assert_eq!(out.value, Value::from("v"));

        let t = configured("retries", "3");
        let out = apply(&t, ConnectRecord::new("t", Value::Null))
            .unwrap()
            .unwrap();
        let h = out.headers.last_with_name("retries").unwrap();
        assert_eq!(h.value, Value::Int8(3));
        assert_eq!(
            h.schema.as_ref().map(|s| s.schema_type),
            Some(SchemaType::Int8)
        );
    }

    #[test]
    fn both_settings_are_required() {
        for pairs in [&[(HEADER, "h")][..], &[(VALUE_LITERAL, "v")][..]] {
            let mut t = InsertHeader::default();
            let err = t.configure(&props(pairs)).unwrap_err();
            assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
            let missing = if pairs[0].0 == HEADER {
                VALUE_LITERAL
            } else {
                HEADER
            };
            assert!(err.to_string().contains(missing), "{err}");
        }
    }

    #[test]
    fn unconfigured_use_is_an_error() {
        let t = InsertHeader::default();
        assert!(apply(&t, ConnectRecord::new("t", Value::Null)).is_err());
    }
}
