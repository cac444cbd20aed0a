//! `RecordIsTombstone`: true for records whose value is null.

use sluice_api::{ConfigDef, ConnectRecord, Predicate, Props, Result};

/// Matches tombstones, records with a null value (Kafka's `RecordIsTombstone`); no settings.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecordIsTombstone;

impl Predicate for RecordIsTombstone {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> Result<()> {
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        record.value.is_null()
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::{Schema, Value};

    use super::*;

    #[test]
    fn only_null_values_are_tombstones() {
        let p = RecordIsTombstone;
        assert!(p.test(&ConnectRecord::new("t", Value::Null)));
        // A schema on a null value does not make it less of a tombstone.
        let mut with_schema = ConnectRecord::new("t", Value::Null);
        with_schema.value_schema = Some(Schema::optional_string());
        assert!(p.test(&with_schema));
        assert!(!p.test(&ConnectRecord::new("t", Value::from(""))));
        assert!(!p.test(&ConnectRecord::new("t", Value::Map(vec![]))));
        // Only the value counts, not the key.
        let mut null_key = ConnectRecord::new("t", Value::Int32(1));
        null_key.key = Value::Null;
        assert!(!p.test(&null_key));
    }
}
