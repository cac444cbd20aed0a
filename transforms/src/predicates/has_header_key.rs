//! `HasHeaderKey`: true for records with at least one header of a given name.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectRecord, DefaultValue, Importance, Predicate, Props,
    Result, Validator,
};

const NAME_CONFIG: &str = "name";

/// Matches records that carry at least one header named `name` (Kafka's `HasHeaderKey`).
#[derive(Debug, Default)]
pub struct HasHeaderKey {
    name: Option<String>,
}

impl HasHeaderKey {
    /// The settings this predicate accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(
                NAME_CONFIG,
                ConfigType::String,
                DefaultValue::Required,
                Importance::Medium,
                "The header name.",
            )
            .validator(Validator::NonEmptyString),
        )
    }
}

impl Predicate for HasHeaderKey {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        self.name = config.string(NAME_CONFIG).map(str::to_owned);
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        // Unconfigured, it names no header, so nothing has it.
        self.name
            .as_deref()
            .is_some_and(|name| record.headers.all_with_name(name).next().is_some())
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{ConnectError, Value};

    use super::*;
    use crate::test_util::props;

    #[test]
    fn matches_when_any_header_has_the_name() {
        let mut p = HasHeaderKey::default();
        p.configure(&props(&[(NAME_CONFIG, "trace-id")])).unwrap();
        let mut record = ConnectRecord::new("t", Value::from("v"));
        assert!(!p.test(&record));
        record.headers.add_string("other", "x");
        assert!(!p.test(&record));
        record.headers.add("trace-id", None, Value::Null);
        assert!(p.test(&record), "a header with a null value still counts");
        record.headers.add_string("trace-id", "again");
        assert!(p.test(&record));
        // Names are case-sensitive.
        let mut upper = ConnectRecord::new("t", Value::Null);
        upper.headers.add_string("Trace-Id", "x");
        assert!(!p.test(&upper));
    }

    #[test]
    fn name_is_required_and_non_empty() {
        let mut p = HasHeaderKey::default();
        let err = p.configure(&props(&[])).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(err.to_string().contains("\"name\""), "{err}");
        let err = p.configure(&props(&[(NAME_CONFIG, "")])).unwrap_err();
        assert!(err.to_string().contains("non-empty"), "{err}");
    }

    #[test]
    fn unconfigured_matches_nothing() {
        let mut record = ConnectRecord::new("t", Value::Null);
        record.headers.add_string("", "x");
        assert!(!HasHeaderKey::default().test(&record));
    }
}
