//! `TimestampRouter`: renames the topic from a template with the topic and the record timestamp.

use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConnectError, ConnectRecord, DefaultValue, Importance, Props,
    Result, Transform, Validator, async_trait,
};

use crate::java_date::JavaDateFormat;
use crate::requirements::not_configured;
use crate::validators::invalid;

/// Java class of this transform.
pub const CLASS: &str = "org.apache.kafka.connect.transforms.TimestampRouter";

const TOPIC_FORMAT: &str = "topic.format";
const TIMESTAMP_FORMAT: &str = "timestamp.format";
const NAME: &str = "TimestampRouter";

#[derive(Debug, Clone)]
struct Settings {
    topic_format: String,
    timestamp_format: JavaDateFormat,
}

/// Sets the topic to `topic.format` with `${topic}` replaced by the original topic and
/// `${timestamp}` by the record timestamp in `timestamp.format` (a Java `SimpleDateFormat`
/// pattern, UTC; see [`crate::java_date`]). A record without a timestamp is a data error.
#[derive(Debug, Default)]
pub struct TimestampRouter {
    settings: Option<Settings>,
}

impl TimestampRouter {
    /// The settings this transform accepts.
    pub fn definition() -> ConfigDef {
        ConfigDef::new()
            .define(ConfigKey::new(
                TOPIC_FORMAT,
                ConfigType::String,
                DefaultValue::Value("${topic}-${timestamp}".into()),
                Importance::High,
                "Format string which can contain ${topic} and ${timestamp} as placeholders for \
                 the topic and timestamp, respectively.",
            ))
            .define(
                ConfigKey::new(
                    TIMESTAMP_FORMAT,
                    ConfigType::String,
                    DefaultValue::Value("yyyyMMdd".into()),
                    Importance::High,
                    "Format string for the timestamp that is compatible with \
                     java.text.SimpleDateFormat (UTC).",
                )
                .validator(Validator::custom(|name, value| match value.as_str() {
                    Some(p) => JavaDateFormat::new(p)
                        .map(|_| ())
                        .map_err(|e| invalid(name, p, &e)),
                    None => Ok(()),
                })),
            )
    }
}

#[async_trait]
impl Transform for TimestampRouter {
    fn config_def(&self) -> ConfigDef {
        Self::definition()
    }

    fn configure(&mut self, props: &Props) -> Result<()> {
        let config = Self::definition().parse(props)?;
        let pattern = config.string(TIMESTAMP_FORMAT).unwrap_or("yyyyMMdd");
        let timestamp_format = JavaDateFormat::new(pattern)
            .map_err(|e| ConnectError::config(invalid(TIMESTAMP_FORMAT, pattern, &e)))?;
        self.settings = Some(Settings {
            topic_format: config
                .string(TOPIC_FORMAT)
                .unwrap_or("${topic}-${timestamp}")
                .to_owned(),
            timestamp_format,
        });
        Ok(())
    }

    async fn apply(&self, mut record: ConnectRecord) -> Result<Option<ConnectRecord>> {
        let settings = self.settings.as_ref().ok_or_else(|| not_configured(NAME))?;
        let Some(timestamp) = record.timestamp else {
            return Err(ConnectError::data(format!(
                "Timestamp missing on record: topic {}, partition {:?}",
                record.topic, record.kafka_partition
            )));
        };
        let formatted = settings.timestamp_format.format(timestamp);
        record.topic = settings
            .topic_format
            .replace("${topic}", &record.topic)
            .replace("${timestamp}", &formatted);
        Ok(Some(record))
    }
}

#[cfg(test)]
mod tests {
    use sluice_api::Value;

    use super::*;
    use crate::test_util::{apply, props};

    fn route(pairs: &[(&str, &str)], timestamp: Option<i64>) -> Result<String> {
        let mut t = TimestampRouter::default();
        t.configure(&props(pairs))?;
        let mut r = ConnectRecord::new("test", Value::from("v"));
        r.timestamp = timestamp;
        Ok(apply(&t, r)?.unwrap().topic)
    }

    #[test]
    fn default_format_appends_the_utc_date() {
        // 2017-01-01T00:00:00Z, as in Kafka's test.
        assert_eq!(
            route(&[], Some(1_483_228_800_000)).unwrap(),
            "test-20170101"
        );
        // One millisecond earlier is still 2016 in UTC.
        assert_eq!(
            route(&[], Some(1_483_228_799_999)).unwrap(),
            "test-20161231"
        );
    }

    #[test]
    fn custom_formats() {
        let pairs = [
            (TOPIC_FORMAT, "${timestamp}.${topic}.${topic}"),
            (TIMESTAMP_FORMAT, "yyyy-MM-dd'T'HH"),
        ];
        assert_eq!(
            route(&pairs, Some(1_700_000_000_000)).unwrap(),
            "2023-11-14T22.test.test"
        );
    }

    #[test]
    fn errors() {
        let err = route(&[], None).unwrap_err();
        assert!(matches!(err, ConnectError::Data(_)));
        assert!(
            err.to_string().starts_with("Timestamp missing on record"),
            "{err}"
        );
        let err = route(&[(TIMESTAMP_FORMAT, "yyyyQQ")], Some(0)).unwrap_err();
        assert!(matches!(err, ConnectError::Config(_)));
        assert!(err.to_string().contains(TIMESTAMP_FORMAT), "{err}");
    }
}
