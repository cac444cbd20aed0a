//! `TopicNameMatches`: true for records whose whole topic name matches a regular expression.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance,
    Predicate, Props, Result,
};

use crate::java_regex::JavaRegex;
use crate::validators::{invalid, non_empty_regex};

const PATTERN: &str = "pattern";

/// Matches records whose topic matches `pattern` in full, like Java's `Matcher.matches()`
/// (Kafka's `TopicNameMatches`): `orders` does not match the topic `orders-eu`.
#[derive(Debug, Default)]
pub struct TopicNameMatches {
    pattern: Option<JavaRegex>,
}

impl TopicNameMatches {
    /// The settings this predicate accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new().define(
            ConfigKey::new(
                PATTERN,
                ConfigType::String,
                DefaultValue::Required,
                Importance::Medium,
                "A regular expression the whole name of a record's topic must match.",
            )
            .validator(non_empty_regex()),
        )
    }
}

impl Predicate for TopicNameMatches {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let pattern = config.string(PATTERN).unwrap_or_default();
        let regex = JavaRegex::new(pattern).map_err(|e| {
            ConnectError::config(invalid(
                PATTERN,
                pattern,
                &format!("entry must be a Java-compatible regular expression: {e}"),
            ))
        })?;
        self.pattern = Some(regex);
        Ok(())
    }

    fn test(&self, record: &ConnectRecord) -> bool {
        self.pattern
            .as_ref()
            .is_some_and(|p| p.matches(&record.topic))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::Value;

    use super::*;
    use crate::test_util::props;

    fn matcher(pattern: &str) -> TopicNameMatches {
        let mut p = TopicNameMatches::default();
        p.configure(&props(&[(PATTERN, pattern)])).unwrap();
        p
    }

    fn on(topic: &str) -> ConnectRecord {
        ConnectRecord::new(topic, Value::Null)
    }

    #[test]
    fn the_whole_topic_must_match() {
        let p = matcher("orders");
        assert!(p.test(&on("orders")));
        assert!(!p.test(&on("orders-eu")));
        assert!(!p.test(&on("old-orders")));
        let p = matcher("orders-.*");
        assert!(p.test(&on("orders-eu")));
        assert!(!p.test(&on("orders")));
        assert!(!p.test(&on("x-orders-eu")));
        // Alternatives are tried until the whole topic matches.
        let p = matcher("a|ab");
        assert!(p.test(&on("ab")));
    }

    #[test]
    fn pattern_is_required_valid_and_non_empty() {
        let err_for = |pairs: &[(&str, &str)]| {
            let mut p = TopicNameMatches::default();
            let err = p.configure(&props(pairs)).unwrap_err();
            assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
            err.to_string()
        };
        assert!(err_for(&[]).contains("\"pattern\""));
        assert!(err_for(&[(PATTERN, "")]).contains("non-empty"));
        let err = err_for(&[(PATTERN, "orders-[")]);
        assert!(
            err.starts_with("Invalid value orders-[ for configuration pattern: entry must be a Java-compatible regular expression"),
            "{err}"
        );
    }

    #[test]
    fn unconfigured_matches_nothing() {
        assert!(!TopicNameMatches::default().test(&on("")));
    }
}
