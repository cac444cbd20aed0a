//! Config validators shared by several transforms and predicates (Kafka's `transforms.util`
//! validators), so the REST `validate` call reports the same problems `configure` would.

use sluice_api::Validator;
use sluice_api::config::ParsedValue;

use crate::java_regex::JavaRegex;

/// A string that compiles as a regular expression (Kafka's `RegexValidator`).
pub fn regex() -> Validator {
    Validator::custom(|name, value| match value.as_str() {
        Some(pattern) => JavaRegex::new(pattern)
            .map(|_| ())
            .map_err(|e| invalid(name, pattern, &format!("Invalid regex: {e}"))),
        None => Ok(()),
    })
}

/// A non-empty string that compiles as a regular expression (Kafka's `NonEmptyString` combined
/// with `RegexValidator`, as `TopicNameMatches` uses them).
pub fn non_empty_regex() -> Validator {
    Validator::custom(|name, value| match value.as_str() {
        Some("") => Err(invalid(name, "", "String must be non-empty")),
        Some(pattern) => JavaRegex::new(pattern).map(|_| ()).map_err(|e| {
            invalid(
                name,
                pattern,
                &format!("entry must be a Java-compatible regular expression: {e}"),
            )
        }),
        None => Ok(()),
    })
}

/// A list with at least one item (Kafka's `NonEmptyListValidator`).
pub fn non_empty_list() -> Validator {
    Validator::custom(|name, value| match value {
        ParsedValue::List(items) if items.is_empty() => Err(invalid(name, "[]", "Empty list")),
        _ => Ok(()),
    })
}

/// Kafka's `ConfigException(name, value, message)` wording.
pub fn invalid(name: &str, value: &str, message: &str) -> String {
    format!("Invalid value {value} for configuration {name}: {message}")
}

#[cfg(test)]
mod tests {
    use sluice_api::{ConfigDef, ConfigKey, ConfigType, DefaultValue, Importance, Props};

    use super::*;

    fn check(validator: Validator, config_type: ConfigType, raw: &str) -> Result<(), String> {
        let def = ConfigDef::new().define(
            ConfigKey::new(
                "k",
                config_type,
                DefaultValue::Required,
                Importance::High,
                "",
            )
            .validator(validator),
        );
        let props: Props = [("k".to_owned(), raw.to_owned())].into();
        def.parse(&props).map(|_| ()).map_err(|e| e.to_string())
    }

    #[test]
    fn regex_validator_names_key_and_problem() {
        assert!(check(regex(), ConfigType::String, "a.*").is_ok());
        let err = check(regex(), ConfigType::String, "(a").unwrap_err();
        assert!(
            err.starts_with("Invalid value (a for configuration k: Invalid regex:"),
            "{err}"
        );
    }

    #[test]
    fn non_empty_regex_rejects_blank_and_broken() {
        assert!(check(non_empty_regex(), ConfigType::String, "t.*").is_ok());
        let err = check(non_empty_regex(), ConfigType::String, "  ").unwrap_err();
        assert!(err.contains("String must be non-empty"), "{err}");
        let err = check(non_empty_regex(), ConfigType::String, "[").unwrap_err();
        assert!(err.contains("Java-compatible regular expression"), "{err}");
    }

    #[test]
    fn non_empty_list_rejects_empty() {
        assert!(check(non_empty_list(), ConfigType::List, "a,b").is_ok());
        let err = check(non_empty_list(), ConfigType::List, "").unwrap_err();
        assert_eq!(err, "Invalid value [] for configuration k: Empty list");
    }
}
