//! Checks on the data a transform receives, with Kafka's wording (`util.Requirements`), prefixed
//! with the transform's name so a failing record points at the right link of the chain.

use sluice_api::{ConnectError, Result, Struct, Value};

/// The entries of a schemaless map value, or a data error when the value is something else.
pub fn require_map<'a>(
    value: &'a Value,
    transform: &str,
    purpose: &str,
) -> Result<&'a Vec<(Value, Value)>> {
    match value {
        Value::Map(entries) => Ok(entries),
        other => Err(ConnectError::data(format!(
            "{transform}: Only Map objects supported in absence of schema for [{purpose}], found: {}",
            other.kind_name()
        ))),
    }
}

/// The struct inside a value that has a schema, or a data error when the value is not a struct.
pub fn require_struct<'a>(value: &'a Value, transform: &str, purpose: &str) -> Result<&'a Struct> {
    match value {
        Value::Struct(s) => Ok(s),
        other => Err(ConnectError::data(format!(
            "{transform}: Only Struct objects supported for [{purpose}], found: {}",
            other.kind_name()
        ))),
    }
}

/// The error for a transform whose `apply` or `test` runs before `configure` succeeded.
pub fn not_configured(transform: &str) -> ConnectError {
    ConnectError::connect(format!("{transform} was used before it was configured"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_is_required_without_schema() {
        let map = Value::Map(vec![("a".into(), Value::Int32(1))]);
        assert_eq!(require_map(&map, "T", "p").unwrap().len(), 1);
        let err =
            require_map(&Value::from("x"), "InsertField$Value", "field insertion").unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert_eq!(
            err.to_string(),
            "InsertField$Value: Only Map objects supported in absence of schema for [field insertion], found: String"
        );
    }

    #[test]
    fn struct_is_required_with_schema() {
        let err = require_struct(&Value::Int32(1), "T", "p").unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert!(err.to_string().contains("found: Integer"), "{err}");
    }
}
