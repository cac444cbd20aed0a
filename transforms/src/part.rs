//! The `$Key` / `$Value` split shared by the transforms that come in both variants.
//!
//! Kafka writes each such transform once, with abstract `operatingSchema`, `operatingValue` and
//! `newRecord` methods, and two tiny subclasses. Here the transform holds a [`RecordPart`] and asks
//! it for the schema and value to work on, and to put the result back.

use sluice_api::{ConnectRecord, SchemaRef, Value};

/// Which half of a record a `$Key` or `$Value` transform operates on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordPart {
    /// The record key and key schema (`$Key`).
    Key,
    /// The record value and value schema (`$Value`).
    Value,
}

impl RecordPart {
    /// `Key` or `Value`, as the Java nested class is called.
    pub fn name(self) -> &'static str {
        match self {
            Self::Key => "Key",
            Self::Value => "Value",
        }
    }

    /// The transform's name with this variant, e.g. `InsertField$Value`, for messages.
    pub fn qualify(self, transform: &str) -> String {
        format!("{transform}${}", self.name())
    }

    /// The schema of this part, if any.
    pub fn schema(self, record: &ConnectRecord) -> Option<&SchemaRef> {
        match self {
            Self::Key => record.key_schema.as_ref(),
            Self::Value => record.value_schema.as_ref(),
        }
    }

    /// The value of this part.
    pub fn value(self, record: &ConnectRecord) -> &Value {
        match self {
            Self::Key => &record.key,
            Self::Value => &record.value,
        }
    }

    /// Moves the schema and value of this part out of the record, leaving no schema and null, so
    /// a transform can rebuild them without cloning.
    pub fn take(self, record: &mut ConnectRecord) -> (Option<SchemaRef>, Value) {
        match self {
            Self::Key => (record.key_schema.take(), std::mem::take(&mut record.key)),
            Self::Value => (
                record.value_schema.take(),
                std::mem::take(&mut record.value),
            ),
        }
    }

    /// Replaces the schema and value of this part.
    pub fn set(self, record: &mut ConnectRecord, schema: Option<SchemaRef>, value: Value) {
        match self {
            Self::Key => {
                record.key_schema = schema;
                record.key = value;
            }
            Self::Value => {
                record.value_schema = schema;
                record.value = value;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::Schema;

    fn record() -> ConnectRecord {
        ConnectRecord {
            key_schema: Some(Schema::string()),
            key: Value::from("k"),
            value_schema: Some(Schema::int32()),
            value: Value::Int32(7),
            ..ConnectRecord::new("t", Value::Null)
        }
    }

    #[test]
    fn reads_the_chosen_half() {
        let r = record();
        assert_eq!(RecordPart::Key.value(&r), &Value::from("k"));
        assert_eq!(RecordPart::Value.value(&r), &Value::Int32(7));
        assert_eq!(RecordPart::Key.schema(&r), Some(&Schema::string()));
        assert_eq!(RecordPart::Value.schema(&r), Some(&Schema::int32()));
    }

    #[test]
    fn take_and_set_touch_only_the_chosen_half() {
        let mut r = record();
        let (schema, value) = RecordPart::Key.take(&mut r);
        assert_eq!(value, Value::from("k"));
        assert_eq!(schema, Some(Schema::string()));
        assert_eq!(r.key, Value::Null);
        assert_eq!(r.value, Value::Int32(7));
        RecordPart::Key.set(&mut r, None, Value::from("new"));
        assert_eq!(r.key, Value::from("new"));
        assert!(r.key_schema.is_none());
        assert_eq!(r.value_schema, Some(Schema::int32()));
        RecordPart::Value.set(&mut r, None, Value::Null);
        assert_eq!(r.value, Value::Null);
        assert_eq!(r.key, Value::from("new"));
    }

    #[test]
    fn qualified_names_follow_java_nested_classes() {
        assert_eq!(RecordPart::Key.qualify("Cast"), "Cast$Key");
        assert_eq!(
            RecordPart::Value.qualify("InsertField"),
            "InsertField$Value"
        );
    }
}
