//! `RegexRouter`: renames the topic of records whose topic matches a regular expression.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Transform, async_trait,
};

use crate::java_regex::{JavaRegex, JavaReplacement};
use crate::requirements::not_configured;
use crate::validators::{invalid, regex};

/// Java class of this transform.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.RegexRouter";

const REGEX: &str = "regex";
const REPLACEMENT: &str = "replacement";
const NAME: &str = "RegexRouter";

#[derive(Debug, Clone)]
struct Settings {
    regex: JavaRegex,
    replacement: JavaReplacement,
}

/// Rewrites the topic when the whole topic matches `regex`, replacing the first match with
/// `replacement` in Java's syntax (`$1`, `${name}`, `\$`), as Kafka's `RegexRouter` does with
/// `Matcher.matches()` and `replaceFirst`. Topics that do not match are left alone.
#[derive(Debug, Default)]
pub struct RegexRouter {
    settings: Option<Settings>,
}

impl RegexRouter {
    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(
                ConfigKey::new(
                    REGEX,
                    ConfigType::String,
                    DefaultValue::Required,
                    Importance::High,
                    "Regular expression the whole topic name must match.",
                )
                .validator(regex()),
            )
            .define(ConfigKey::new(
                REPLACEMENT,
                ConfigType::String,
                DefaultValue::Required,
                Importance::High,
                "Replacement string, in Java's syntax: $1 or ${name} for a group, \\$ for a \
                 literal dollar sign.",
            ))
    }
}

#[async_trait]
impl Transform for RegexRouter {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let pattern = config.string(REGEX).unwrap_or_default();
        let regex = JavaRegex::new(pattern).map_err(|e| {
            ConnectError::config(invalid(REGEX, pattern, &format!("Invalid regex: {e}")))
        })?;
        let raw = config.string(REPLACEMENT).unwrap_or_default();
        let replacement = JavaReplacement::parse(raw, &regex)
            .map_err(|e| ConnectError::config(invalid(REPLACEMENT, raw, &e)))?;
        self.settings = Some(Settings { regex, replacement });
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self.settings.as_ref().ok_or_else(|| not_configured(NAME))?;
        if settings.regex.matches(&record.topic) {
            let topic = settings
                .regex
                .replace_first(&record.topic, &settings.replacement);
            tracing::trace!(from = %record.topic, to = %topic, "rerouting record");
            record.topic = topic;
        } else {
            tracing::trace!(topic = %record.topic, "topic does not match; not rerouting");
        }
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::Value;

    use super::*;
    use crate::test_util::{apply, props};

    fn router(regex: &str, replacement: &str) -> RegexRouter {
        let mut t = RegexRouter::default();
        t.configure(&props(&[(REGEX, regex), (REPLACEMENT, replacement)]))
            .unwrap();
        t
    }

    fn route(t: &RegexRouter, topic: &str) -> String {
        let mut record = ConnectRecord::new(topic, Value::from("v"));
        record.kafka_partition = Some(2);
        let out = apply(t, record).unwrap().unwrap();
        assert_eq!(out.kafka_partition, Some(2));
        assert_eq!(out.value, Value::from("v"));
        out.topic
    }

    #[test]
    fn group_references_build_the_new_topic() {
        let t = router("(.*)-(\\d+)", "$2_$1");
        assert_eq!(route(&t, "orders-42"), "42_orders");
        // Kafka's documented example.
        let t = router("([^.]+)\\.([^.]+)\\.([^.]+)", "$3");
        assert_eq!(route(&t, "server.db.customers"), "customers");
        // Letters right after a group reference are literal text, as in Java.
        let t = router("(.*)\\.raw", "$1cleaned");
        assert_eq!(route(&t, "orders.raw"), "orderscleaned");
    }

    #[test]
    fn only_whole_topic_matches_are_rerouted() {
        let t = router("orders", "sales");
        assert_eq!(route(&t, "orders"), "sales");
        assert_eq!(route(&t, "orders-eu"), "orders-eu");
        assert_eq!(route(&t, "old-orders"), "old-orders");
    }

    #[test]
    fn bad_settings_are_config_errors_naming_the_key() {
        let err_for = |pairs: &[(&str, &str)]| {
            let mut t = RegexRouter::default();
            let err = t.configure(&props(pairs)).unwrap_err();
            assert!(matches!(err, ConnectError::Config(_)), "{err:?}");
            err.to_string()
        };
        assert!(err_for(&[(REPLACEMENT, "x")]).contains("\"regex\""));
        assert!(err_for(&[(REGEX, "x")]).contains("\"replacement\""));
        let err = err_for(&[(REGEX, "(x"), (REPLACEMENT, "y")]);
        assert!(
            err.starts_with("Invalid value (x for configuration regex"),
            "{err}"
        );
        let err = err_for(&[(REGEX, "(x)"), (REPLACEMENT, "$2")]);
        assert_eq!(
            err,
            "Invalid value $2 for configuration replacement: No group 2"
        );
    }
}
