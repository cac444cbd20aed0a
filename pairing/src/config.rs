//! The job's settings: a Java properties file plus `--set key=value` overrides.

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::{EngineConfig, Mode};

/// A settings error, naming the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read or parsed.
    #[error("cannot read {path}: {reason}")]
    File {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A `--set` argument without `=`.
    #[error("--set {0}: expected key=value")]
    BadOverride(String),
    /// A required key is missing.
    #[error("missing required setting {0}")]
    Missing(&'static str),
    /// A value is invalid.
    #[error("invalid value {value:?} for {key}: {reason}")]
    Invalid {
        /// The key.
        key: String,
        /// The value given.
        value: String,
        /// What is expected.
        reason: String,
    },
}

/// Keys the job reads itself (others with a `consumer.`, `producer.`, `ssl.`, `sasl.` or
/// `security.` prefix go to the Kafka clients).
const KNOWN_KEYS: &[&str] = &[
    "bootstrap.servers",
    "application.id",
    "instance.id",
    "input.topic",
    "sightings.topic",
    "pairs.topic",
    "blank.label",
    "window.size.ms",
    "sighting.min.frames",
    "sighting.merge.gap.ms",
    "grace.ms",
    "mode",
    "timestamp.field",
    "compatible.intermediate.rows",
    "sightings.key.format",
    "commit.interval.ms",
    "auto.offset.reset",
    "http.address",
    "topic.partitions",
    "stream.time.advance",
];

/// How sighting records are keyed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SightingKeyFormat {
    /// `IMAGE@WINDOW_START` as UTF-8 text.
    Text,
    /// Kafka Streams' windowed key, as ksqlDB wrote it: the UTF-8 image then the window start
    /// as 8 big-endian bytes.
    Windowed,
}

/// Everything the job needs.
#[derive(Debug, Clone)]
pub struct PairingConfig {
    /// Kafka bootstrap servers.
    pub bootstrap_servers: String,
    /// Consumer group id and prefix of the state topic.
    pub application_id: String,
    /// Distinguishes instances of one application (part of the transactional id); each
    /// instance needs its own, stable across restarts.
    pub instance_id: String,
    /// The topic of camera classifications.
    pub input_topic: String,
    /// Where sightings go.
    pub sightings_topic: String,
    /// Where pair states go.
    pub pairs_topic: String,
    /// The pairing logic's settings.
    pub engine: EngineConfig,
    /// A JSON field holding the event time (ms since the epoch) instead of the record time.
    pub timestamp_field: Option<String>,
    /// Sighting key format.
    pub sightings_key_format: SightingKeyFormat,
    /// Sighting mode: whether a caught-up partition's stream time also moves with the wall
    /// clock (`stream.time.advance=wall-clock`, the default), so that sightings are decided
    /// at window end + grace even when no frame follows, or only with records (`records`).
    pub wall_clock_advance: bool,
    /// Longest time a batch collects records before its transaction commits.
    pub commit_interval_ms: u64,
    /// Where to start without saved state or committed offsets (`earliest` or `latest`).
    pub auto_offset_reset: String,
    /// Address of the HTTP server (`/metrics`, `/health`).
    pub http_address: String,
    /// Partitions of the output and input topics when the job creates them.
    pub topic_partitions: i32,
    /// Extra settings for the consumer (prefix `consumer.` removed, plus shared security ones).
    pub consumer_props: BTreeMap<String, String>,
    /// Extra settings for the producer.
    pub producer_props: BTreeMap<String, String>,
    /// Keys given that the job does not know (warned about).
    pub unknown_keys: Vec<String>,
}

impl PairingConfig {
    /// The compacted topic holding the job's state.
    pub fn state_topic(&self) -> String {
        format!("{}-pairing-state-changelog", self.application_id)
    }

    /// The producer's transactional id.
    pub fn transactional_id(&self) -> String {
        format!("{}-{}", self.application_id, self.instance_id)
    }

    /// Reads `path` and applies `overrides` (`key=value`).
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self, ConfigError> {
        let file = std::fs::File::open(path).map_err(|e| ConfigError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let mut props: BTreeMap<String, String> =
            java_properties::read(std::io::BufReader::new(file))
                .map_err(|e| ConfigError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?
                .into_iter()
                .collect();
        for entry in overrides {
            let (key, value) = entry
                .split_once('=')
                .ok_or_else(|| ConfigError::BadOverride(entry.clone()))?;
            props.insert(key.trim().to_owned(), value.trim().to_owned());
        }
        Self::from_props(&props)
    }

    /// Builds the settings from key-value pairs, applying defaults.
    pub fn from_props(props: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        let get = |key: &str, default: &str| -> String {
            props
                .get(key)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
                .unwrap_or_else(|| default.to_owned())
        };
        let bootstrap_servers = get("bootstrap.servers", "");
        if bootstrap_servers.is_empty() {
            return Err(ConfigError::Missing("bootstrap.servers"));
        }
        let mode = match get("mode", "sighting").as_str() {
            "sighting" => Mode::Sighting,
            "compatible" => Mode::Compatible,
            other => return Err(invalid("mode", other, "sighting or compatible")),
        };
        let window_size_ms = positive(props, "window.size.ms", 5000)?;
        let engine = EngineConfig {
            mode,
            blank_label: props
                .get("blank.label")
                .cloned()
                .unwrap_or_else(|| "Blank".to_owned()),
            window_size_ms,
            min_frames: u32::try_from(positive(props, "sighting.min.frames", 4)?)
                .map_err(|_| invalid("sighting.min.frames", "", "too large"))?,
            merge_gap_ms: positive(props, "sighting.merge.gap.ms", 2000)?,
            grace_ms: non_negative(props, "grace.ms", 1000)?,
            intermediate_rows: boolean(props, "compatible.intermediate.rows", true)?,
        };
        let sightings_key_format = match get("sightings.key.format", "text").as_str() {
            "text" => SightingKeyFormat::Text,
            "windowed" => SightingKeyFormat::Windowed,
            other => return Err(invalid("sightings.key.format", other, "text or windowed")),
        };
        let wall_clock_advance = match get("stream.time.advance", "wall-clock").as_str() {
            "wall-clock" => true,
            "records" => false,
            other => {
                return Err(invalid(
                    "stream.time.advance",
                    other,
                    "wall-clock or records",
                ));
            }
        };
        let auto_offset_reset = get("auto.offset.reset", "earliest");
        if !matches!(auto_offset_reset.as_str(), "earliest" | "latest") {
            return Err(invalid(
                "auto.offset.reset",
                &auto_offset_reset,
                "earliest or latest",
            ));
        }
        let timestamp_field = props
            .get("timestamp.field")
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        let mut consumer_props = BTreeMap::new();
        let mut producer_props = BTreeMap::new();
        let mut unknown_keys = Vec::new();
        for (key, value) in props {
            if let Some(rest) = key.strip_prefix("consumer.") {
                consumer_props.insert(rest.to_owned(), value.clone());
            } else if let Some(rest) = key.strip_prefix("producer.") {
                producer_props.insert(rest.to_owned(), value.clone());
            } else if ["security.", "ssl.", "sasl."]
                .iter()
                .any(|prefix| key.starts_with(prefix))
            {
                consumer_props.insert(key.clone(), value.clone());
                producer_props.insert(key.clone(), value.clone());
            } else if !KNOWN_KEYS.contains(&key.as_str()) {
                unknown_keys.push(key.clone());
            }
        }
        Ok(Self {
            bootstrap_servers,
            application_id: get("application.id", "sluice-pairing"),
            instance_id: get("instance.id", "0"),
            input_topic: get("input.topic", "data_mqtt"),
            sightings_topic: get("sightings.topic", "sock_sightings"),
            pairs_topic: get("pairs.topic", "sock_pairs"),
            engine,
            timestamp_field,
            sightings_key_format,
            wall_clock_advance,
            commit_interval_ms: positive(props, "commit.interval.ms", 100)? as u64,
            auto_offset_reset,
            http_address: get("http.address", "127.0.0.1:9480"),
            topic_partitions: i32::try_from(positive(props, "topic.partitions", 1)?)
                .map_err(|_| invalid("topic.partitions", "", "too large"))?,
            consumer_props,
            producer_props,
            unknown_keys,
        })
    }
}

fn invalid(key: &str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_owned(),
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

fn integer(props: &BTreeMap<String, String>, key: &str, default: i64) -> Result<i64, ConfigError> {
    match props.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(default),
        Some(value) => value
            .parse()
            .map_err(|_| invalid(key, value, "expected an integer")),
    }
}

fn positive(props: &BTreeMap<String, String>, key: &str, default: i64) -> Result<i64, ConfigError> {
    let value = integer(props, key, default)?;
    if value <= 0 {
        return Err(invalid(key, &value.to_string(), "must be positive"));
    }
    Ok(value)
}

fn non_negative(
    props: &BTreeMap<String, String>,
    key: &str,
    default: i64,
) -> Result<i64, ConfigError> {
    let value = integer(props, key, default)?;
    if value < 0 {
        return Err(invalid(key, &value.to_string(), "must not be negative"));
    }
    Ok(value)
}

fn boolean(
    props: &BTreeMap<String, String>,
    key: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match props.get(key).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v.is_empty() => Ok(default),
        Some(v) if v == "true" => Ok(true),
        Some(v) if v == "false" => Ok(false),
        Some(v) => Err(invalid(key, &v, "true or false")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_those_of_the_specification() {
        let config =
            PairingConfig::from_props(&props(&[("bootstrap.servers", "k:9092")])).expect("valid");
        assert_eq!(config.input_topic, "data_mqtt");
        assert_eq!(config.sightings_topic, "sock_sightings");
        assert_eq!(config.pairs_topic, "sock_pairs");
        assert_eq!(config.engine, EngineConfig::default());
        assert_eq!(config.engine.grace_ms, 1000);
        assert_eq!(
            config.state_topic(),
            "sluice-pairing-pairing-state-changelog"
        );
        assert_eq!(config.transactional_id(), "sluice-pairing-0");
        assert!(config.wall_clock_advance);
        let records = PairingConfig::from_props(&props(&[
            ("bootstrap.servers", "k:9092"),
            ("stream.time.advance", "records"),
        ]))
        .expect("valid");
        assert!(!records.wall_clock_advance);
    }

    #[test]
    fn keys_override_defaults_and_client_settings_pass_through() {
        let config = PairingConfig::from_props(&props(&[
            ("bootstrap.servers", "k:9092"),
            ("mode", "compatible"),
            ("window.size.ms", "10000"),
            ("blank.label", "Nothing"),
            ("consumer.session.timeout.ms", "6000"),
            ("security.protocol", "SSL"),
            ("no.such.key", "x"),
        ]))
        .expect("valid");
        assert_eq!(config.engine.mode, Mode::Compatible);
        assert_eq!(config.engine.window_size_ms, 10_000);
        assert_eq!(config.engine.blank_label, "Nothing");
        assert_eq!(config.consumer_props["session.timeout.ms"], "6000");
        assert_eq!(config.producer_props["security.protocol"], "SSL");
        assert_eq!(config.unknown_keys, vec!["no.such.key".to_owned()]);
    }

    #[test]
    fn invalid_values_name_their_key() {
        for (key, value) in [
            ("mode", "windows"),
            ("window.size.ms", "0"),
            ("grace.ms", "-1"),
            ("sighting.min.frames", "four"),
            ("stream.time.advance", "processing-time"),
        ] {
            let error =
                PairingConfig::from_props(&props(&[("bootstrap.servers", "k"), (key, value)]))
                    .expect_err("invalid");
            assert!(error.to_string().contains(key), "{error}");
        }
        assert!(matches!(
            PairingConfig::from_props(&props(&[])),
            Err(ConfigError::Missing("bootstrap.servers"))
        ));
    }

    #[test]
    fn files_and_overrides_load() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("pairing.properties");
        std::fs::write(&path, "bootstrap.servers=a:1\nmode=compatible\n").expect("write");
        let config = PairingConfig::load(&path, &["mode=sighting".into(), "grace.ms=0".into()])
            .expect("valid");
        assert_eq!(config.engine.mode, Mode::Sighting);
        assert_eq!(config.engine.grace_ms, 0);
        assert!(PairingConfig::load(&path, &["oops".into()]).is_err());
    }
}
