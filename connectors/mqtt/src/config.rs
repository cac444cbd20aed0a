//! The connector's settings: Confluent's keys, types and defaults, plus a few extensions.

use std::time::Duration;

use sluice_api::{
    Config, ConfigDef, ConfigKey, ConfigType, ConnectError, DefaultValue, Importance, Props,
    Result, Validator, config::ParsedValue,
};

/// Broker URIs, tried in order (failover).
pub const SERVER_URI: &str = "mqtt.server.uri";
/// Topic filters to subscribe to.
pub const TOPICS: &str = "mqtt.topics";
/// The Kafka topic every record goes to.
pub const KAFKA_TOPIC: &str = "kafka.topic";
/// QoS requested in SUBSCRIBE.
pub const QOS: &str = "mqtt.qos";
/// User name; empty for none.
pub const USERNAME: &str = "mqtt.username";
/// Password; empty for none.
pub const PASSWORD: &str = "mqtt.password";
/// MQTT CleanSession flag.
pub const CLEAN_SESSION: &str = "mqtt.clean.session.enabled";
/// Connect timeout in seconds.
pub const CONNECT_TIMEOUT: &str = "mqtt.connect.timeout.seconds";
/// Keep-alive in seconds.
pub const KEEPALIVE: &str = "mqtt.keepalive.interval.seconds";
/// How long connecting may keep failing before the task fails.
pub const MAX_RETRY_TIME: &str = "max.retry.time.ms";
/// Capacity of the queue between the MQTT connection and `poll`.
pub const QUEUE_SIZE: &str = "records.buffer.queue.size";
/// Most records one `poll` returns.
pub const MAX_BATCH: &str = "records.buffer.queue.max.batch.size";
/// How long `poll` waits on an empty queue, in milliseconds.
pub const EMPTY_TIMEOUT: &str = "records.buffer.queue.empty.timeout";
/// How long the connection may wait on a full queue, in milliseconds (kept for compatibility:
/// a full queue here stops reading from the socket, which pushes back on the broker).
pub const FULL_TIMEOUT: &str = "records.buffer.queue.full.timeout";
/// Trust store: a PEM file of CA certificates, or a PKCS#12 file (Java JKS files are refused).
pub const TRUST_STORE_PATH: &str = "mqtt.ssl.trust.store.path";
/// Trust store password (PKCS#12; unused for PEM).
pub const TRUST_STORE_PASSWORD: &str = "mqtt.ssl.trust.store.password";
/// Key store: a PEM file with the client certificate chain and its private key, or a PKCS#12
/// file with the key and its certificate.
pub const KEY_STORE_PATH: &str = "mqtt.ssl.key.store.path";
/// Key store password (PKCS#12; unused for PEM).
pub const KEY_STORE_PASSWORD: &str = "mqtt.ssl.key.store.password";
/// Password of an encrypted PEM private key (PKCS#8). A PKCS#12 key must use the store password
/// (as `openssl pkcs12 -export` and `keytool` write it).
pub const KEY_PASSWORD: &str = "mqtt.ssl.key.password";
/// Extension: MQTT protocol version, `3.1.1` (default) or `5`.
pub const VERSION: &str = "mqtt.version";
/// Extension: a prefix for the client ids derived from connector name and task number.
pub const CLIENT_ID_PREFIX: &str = "mqtt.client.id.prefix";

/// Licence keys of Confluent Platform, accepted and ignored.
pub const CONFLUENT_KEYS: &[&str] = &[
    "confluent.license",
    "confluent.topic",
    "confluent.topic.bootstrap.servers",
    "confluent.topic.replication.factor",
];

const CONNECTION_GROUP: &str = "Connection";
const SOURCE_GROUP: &str = "MQTT Source";

/// URI schemes accepted in `mqtt.server.uri`, and whether they use TLS.
const SCHEMES: &[(&str, bool)] = &[
    ("tcp", false),
    ("mqtt", false),
    ("ssl", true),
    ("tls", true),
    ("mqtts", true),
];

/// One broker address from `mqtt.server.uri`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerUri {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// Whether the connection uses TLS.
    pub tls: bool,
    /// The URI as written, for messages.
    pub original: String,
}

/// Parses `tcp://host:port` (or `ssl://`, `mqtt://`, `mqtts://`, `tls://`); the port defaults to
/// 1883, or 8883 with TLS.
pub fn parse_uri(uri: &str) -> std::result::Result<BrokerUri, String> {
    let (scheme, rest) = uri
        .split_once("://")
        .ok_or_else(|| format!("'{uri}' is not a URI: expected scheme://host:port"))?;
    let tls = SCHEMES
        .iter()
        .find(|(s, _)| s.eq_ignore_ascii_case(scheme))
        .map(|(_, tls)| *tls)
        .ok_or_else(|| {
            format!(
                "'{uri}' has the unsupported scheme '{scheme}': use one of {}",
                SCHEMES
                    .iter()
                    .map(|(s, _)| *s)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })?;
    let authority = rest.trim_end_matches('/');
    if authority.is_empty() || authority.contains('/') {
        return Err(format!(
            "'{uri}' must be scheme://host[:port] without a path"
        ));
    }
    let default_port = if tls { 8883 } else { 1883 };
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(':') => {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("'{uri}' has an invalid port '{port}'"))?;
            (host, port)
        }
        _ => (authority, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("'{uri}' has no host"));
    }
    Ok(BrokerUri {
        host: host.to_owned(),
        port,
        tls,
        original: uri.to_owned(),
    })
}

fn uri_list_validator() -> Validator {
    Validator::custom(|name, value| {
        let ParsedValue::List(uris) = value else {
            return Ok(());
        };
        if uris.is_empty() {
            return Err(format!(
                "Invalid value for configuration {name}: at least one broker URI is required"
            ));
        }
        for uri in uris {
            parse_uri(uri).map_err(|e| format!("Invalid value for configuration {name}: {e}"))?;
        }
        Ok(())
    })
}

fn topics_validator() -> Validator {
    Validator::custom(|name, value| {
        let ParsedValue::List(filters) = value else {
            return Ok(());
        };
        if filters.is_empty() {
            return Err(format!(
                "Invalid value for configuration {name}: at least one topic filter is required"
            ));
        }
        for filter in filters {
            check_filter(filter)
                .map_err(|e| format!("Invalid value {filter} for configuration {name}: {e}"))?;
        }
        Ok(())
    })
}

/// Checks an MQTT topic filter: `#` only as the last level, `+` only as a whole level, and a
/// `$share/<group>/<filter>` prefix with a non-empty group.
pub fn check_filter(filter: &str) -> std::result::Result<(), String> {
    let inner = match filter.strip_prefix("$share/") {
        Some(rest) => {
            let (group, inner) = rest
                .split_once('/')
                .ok_or("a shared subscription needs $share/<group>/<filter>")?;
            if group.is_empty() || group.contains(['+', '#']) {
                return Err("the share group name must be non-empty, without wildcards".into());
            }
            inner
        }
        None => filter,
    };
    if inner.is_empty() {
        return Err("a topic filter must not be empty".into());
    }
    let levels: Vec<&str> = inner.split('/').collect();
    for (i, level) in levels.iter().enumerate() {
        if level.contains('#') && (*level != "#" || i + 1 != levels.len()) {
            return Err("'#' must be a whole level and the last one".into());
        }
        if level.contains('+') && *level != "+" {
            return Err("'+' must be a whole level".into());
        }
    }
    Ok(())
}

/// The connector's [`ConfigDef`].
pub fn config_def() -> ConfigDef {
    let mut def = ConfigDef::new()
        .define(
            ConfigKey::new(
                SERVER_URI,
                ConfigType::List,
                DefaultValue::Required,
                Importance::High,
                "MQTT broker URIs (tcp://host:1883 or ssl://host:8883), tried in order for failover.",
            )
            .validator(uri_list_validator())
            .in_group(CONNECTION_GROUP, 0, Default::default(), "MQTT server URIs"),
        )
        .define(
            ConfigKey::new(
                USERNAME,
                ConfigType::String,
                DefaultValue::Value(String::new()),
                Importance::High,
                "User name to authenticate with; empty for none.",
            )
            .in_group(CONNECTION_GROUP, 1, Default::default(), "Username"),
        )
        .define(
            ConfigKey::new(
                PASSWORD,
                ConfigType::Password,
                DefaultValue::Value(String::new()),
                Importance::High,
                "Password to authenticate with; empty for none.",
            )
            .in_group(CONNECTION_GROUP, 2, Default::default(), "Password"),
        )
        .define(
            ConfigKey::new(
                CLEAN_SESSION,
                ConfigType::Boolean,
                DefaultValue::Value("true".into()),
                Importance::Medium,
                "MQTT CleanSession flag. Set false for at-least-once: the broker keeps the session of each task's stable client id while it is away.",
            )
            .in_group(CONNECTION_GROUP, 3, Default::default(), "Clean session"),
        )
        .define(
            ConfigKey::new(
                CONNECT_TIMEOUT,
                ConfigType::Int,
                DefaultValue::Value("30".into()),
                Importance::Low,
                "Connect timeout in seconds.",
            )
            .validator(Validator::at_least(1.0))
            .in_group(CONNECTION_GROUP, 4, Default::default(), "Connect timeout"),
        )
        .define(
            ConfigKey::new(
                KEEPALIVE,
                ConfigType::Int,
                DefaultValue::Value("60".into()),
                Importance::Low,
                "Keep-alive interval in seconds.",
            )
            .validator(Validator::at_least(1.0))
            .in_group(CONNECTION_GROUP, 5, Default::default(), "Keep-alive interval"),
        )
        .define(
            ConfigKey::new(
                MAX_RETRY_TIME,
                ConfigType::Long,
                DefaultValue::Value("30000".into()),
                Importance::Low,
                "How long connecting may keep failing (with exponential backoff) before the task fails.",
            )
            .validator(Validator::at_least(0.0))
            .in_group(CONNECTION_GROUP, 6, Default::default(), "Max retry time"),
        )
        .define(
            ConfigKey::new(
                VERSION,
                ConfigType::String,
                DefaultValue::Value("3.1.1".into()),
                Importance::Low,
                "MQTT protocol version: 3.1.1 or 5.",
            )
            .validator(Validator::one_of(&["3.1.1", "5"]))
            .in_group(CONNECTION_GROUP, 7, Default::default(), "MQTT version"),
        )
        .define(
            ConfigKey::new(
                CLIENT_ID_PREFIX,
                ConfigType::String,
                DefaultValue::Value(String::new()),
                Importance::Low,
                "Prefix of the client ids; each task's id is <prefix><connector name>-<task number>.",
            )
            .in_group(CONNECTION_GROUP, 8, Default::default(), "Client id prefix"),
        );
    for (order, (key, kind, doc)) in [
        (
            TRUST_STORE_PATH,
            ConfigType::String,
            "PEM or PKCS#12 (.p12/.pfx) file with the CA certificates that validate the broker (TLS URIs); empty for the system's CAs.",
        ),
        (
            TRUST_STORE_PASSWORD,
            ConfigType::Password,
            "Password of a PKCS#12 trust store (not needed for PEM).",
        ),
        (
            KEY_STORE_PATH,
            ConfigType::String,
            "PEM file with the client certificate chain and unencrypted private key, or PKCS#12 (.p12/.pfx) file with the key and its certificate, for mutual TLS.",
        ),
        (
            KEY_STORE_PASSWORD,
            ConfigType::Password,
            "Password of a PKCS#12 key store (not needed for PEM).",
        ),
        (
            KEY_PASSWORD,
            ConfigType::Password,
            "Password of an encrypted private key (PKCS#8 ENCRYPTED PRIVATE KEY) in a PEM key store. A PKCS#12 key store's key uses the store password, as in keytool's PKCS12 stores.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        def = def.define(
            ConfigKey::new(
                key,
                kind,
                DefaultValue::Value(String::new()),
                Importance::Low,
                doc,
            )
            .in_group(CONNECTION_GROUP, 9 + order as i32, Default::default(), key),
        );
    }
    def = def
        .define(
            ConfigKey::new(
                TOPICS,
                ConfigType::List,
                DefaultValue::Required,
                Importance::High,
                "MQTT topic filters to subscribe to; + and # wildcards and $share/<group>/ prefixes are allowed.",
            )
            .validator(topics_validator())
            .in_group(SOURCE_GROUP, 0, Default::default(), "MQTT topics"),
        )
        .define(
            ConfigKey::new(
                KAFKA_TOPIC,
                ConfigType::String,
                DefaultValue::Value("mqtt".into()),
                Importance::High,
                "The Kafka topic every record is written to.",
            )
            .validator(Validator::NonEmptyString)
            .in_group(SOURCE_GROUP, 1, Default::default(), "Kafka topic"),
        )
        .define(
            ConfigKey::new(
                QOS,
                ConfigType::Int,
                DefaultValue::Value("0".into()),
                Importance::Medium,
                "QoS requested when subscribing; messages arrive with min(publish QoS, this).",
            )
            .validator(Validator::between(0.0, 2.0))
            .in_group(SOURCE_GROUP, 2, Default::default(), "MQTT QoS"),
        );
    for (order, (key, default, doc)) in [
        (
            QUEUE_SIZE,
            "50000",
            "Capacity of the queue between the MQTT connection and the task.",
        ),
        (MAX_BATCH, "4096", "Most records one poll returns."),
        (
            EMPTY_TIMEOUT,
            "100",
            "How long a poll waits on an empty queue, in milliseconds.",
        ),
        (
            FULL_TIMEOUT,
            "60000",
            "Accepted for compatibility; a full queue stops reading from the broker instead.",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        def = def.define(
            ConfigKey::new(
                key,
                ConfigType::Int,
                DefaultValue::Value(default.into()),
                Importance::Low,
                doc,
            )
            .validator(Validator::at_least(if key == EMPTY_TIMEOUT {
                0.0
            } else {
                1.0
            }))
            .in_group(SOURCE_GROUP, 3 + order as i32, Default::default(), key),
        );
    }
    def
}

/// MQTT protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttVersion {
    /// MQTT 3.1.1.
    V311,
    /// MQTT 5.
    V5,
}

/// Typed settings of one task.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// Brokers, in failover order.
    pub brokers: Vec<BrokerUri>,
    /// Topic filters this task subscribes to.
    pub topics: Vec<String>,
    /// Destination Kafka topic.
    pub kafka_topic: String,
    /// Requested QoS (0..=2).
    pub qos: u8,
    /// User name, if any.
    pub username: Option<String>,
    /// Password (empty for none).
    pub password: String,
    /// CleanSession flag.
    pub clean_session: bool,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Keep-alive.
    pub keepalive: Duration,
    /// How long reconnecting may fail before the task fails.
    pub max_retry_time: Duration,
    /// Queue capacity.
    pub queue_size: usize,
    /// Most records per poll.
    pub max_batch: usize,
    /// Wait on an empty queue.
    pub empty_timeout: Duration,
    /// Trust store path (PEM or PKCS#12).
    pub trust_store: Option<String>,
    /// Trust store password (PKCS#12).
    pub trust_store_password: String,
    /// Key store path (PEM or PKCS#12).
    pub key_store: Option<String>,
    /// Key store password (PKCS#12).
    pub key_store_password: String,
    /// Password of an encrypted private key (PEM key store).
    pub key_password: String,
    /// Protocol version.
    pub version: MqttVersion,
    /// Client id prefix.
    pub client_id_prefix: String,
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn password(config: &Config, key: &str) -> String {
    config
        .password(key)
        .map(|p| p.value().to_owned())
        .unwrap_or_default()
}

fn positive(config: &Config, key: &str) -> usize {
    config.int(key).unwrap_or(1).max(1) as usize
}

impl MqttSettings {
    /// The trust store file, if one is set.
    pub fn trust_store_file(&self) -> Option<crate::tls::StoreFile<'_>> {
        self.trust_store
            .as_deref()
            .map(|path| crate::tls::StoreFile {
                path,
                password: &self.trust_store_password,
                password_key: TRUST_STORE_PASSWORD,
                key_password: "",
            })
    }

    /// The key store file, if one is set.
    pub fn key_store_file(&self) -> Option<crate::tls::StoreFile<'_>> {
        self.key_store.as_deref().map(|path| crate::tls::StoreFile {
            path,
            password: &self.key_store_password,
            password_key: KEY_STORE_PASSWORD,
            key_password: &self.key_password,
        })
    }

    /// Parses and validates the properties.
    pub fn parse(props: &Props) -> Result<Self> {
        let config = config_def().parse(props)?;
        let brokers = config
            .list(SERVER_URI)
            .iter()
            .map(|u| parse_uri(u))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(ConnectError::config)?;
        Ok(Self {
            brokers,
            topics: config.list(TOPICS),
            kafka_topic: config.string(KAFKA_TOPIC).unwrap_or("mqtt").to_owned(),
            qos: config.int(QOS).unwrap_or(0).clamp(0, 2) as u8,
            username: non_empty(config.string(USERNAME)),
            password: password(&config, PASSWORD),
            clean_session: config.bool(CLEAN_SESSION).unwrap_or(true),
            connect_timeout: Duration::from_secs(positive(&config, CONNECT_TIMEOUT) as u64),
            keepalive: Duration::from_secs(positive(&config, KEEPALIVE) as u64),
            max_retry_time: Duration::from_millis(
                config.long(MAX_RETRY_TIME).unwrap_or(30_000).max(0) as u64,
            ),
            queue_size: positive(&config, QUEUE_SIZE),
            max_batch: positive(&config, MAX_BATCH),
            empty_timeout: Duration::from_millis(
                config.int(EMPTY_TIMEOUT).unwrap_or(100).max(0) as u64
            ),
            trust_store: non_empty(config.string(TRUST_STORE_PATH)),
            trust_store_password: password(&config, TRUST_STORE_PASSWORD),
            key_store: non_empty(config.string(KEY_STORE_PATH)),
            key_store_password: password(&config, KEY_STORE_PASSWORD),
            key_password: password(&config, KEY_PASSWORD),
            version: if config.string(VERSION) == Some("5") {
                MqttVersion::V5
            } else {
                MqttVersion::V311
            },
            client_id_prefix: config.string(CLIENT_ID_PREFIX).unwrap_or("").to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn errors_of(props: &Props, key: &str) -> Vec<String> {
        config_def()
            .validate(props)
            .into_iter()
            .find(|v| v.name == key)
            .map(|v| v.errors)
            .unwrap_or_default()
    }

    #[test]
    fn defaults_match_confluent() {
        let s = MqttSettings::parse(&props(&[
            (SERVER_URI, "tcp://broker:1883"),
            (TOPICS, "a/#"),
        ]))
        .unwrap();
        assert_eq!(s.kafka_topic, "mqtt");
        assert_eq!(s.qos, 0);
        assert!(s.clean_session);
        assert_eq!(s.connect_timeout, Duration::from_secs(30));
        assert_eq!(s.keepalive, Duration::from_secs(60));
        assert_eq!(s.max_retry_time, Duration::from_millis(30_000));
        assert_eq!(s.queue_size, 50_000);
        assert_eq!(s.max_batch, 4096);
        assert_eq!(s.empty_timeout, Duration::from_millis(100));
        assert_eq!(s.username, None);
        assert_eq!(s.password, "");
        assert_eq!(s.version, MqttVersion::V311);
        let def = config_def();
        assert_eq!(def.get(PASSWORD).unwrap().config_type, ConfigType::Password);
        assert_eq!(def.get(SERVER_URI).unwrap().config_type, ConfigType::List);
        assert_eq!(
            def.get(MAX_RETRY_TIME).unwrap().config_type,
            ConfigType::Long
        );
    }

    #[test]
    fn uris_parse_with_default_ports_and_tls() {
        let u = parse_uri("tcp://h:1884").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.tls), ("h", 1884, false));
        let u = parse_uri("ssl://h").unwrap();
        assert_eq!((u.port, u.tls), (8883, true));
        let u = parse_uri("mqtt://h").unwrap();
        assert_eq!((u.port, u.tls), (1883, false));
        let u = parse_uri("tcp://[::1]:1883").unwrap();
        assert_eq!(u.host, "::1");
    }

    #[test]
    fn bad_uris_are_validation_errors() {
        for bad in [
            "http://h:1883",
            "h:1883",
            "tcp://",
            "tcp://h:notaport",
            "tcp://h:1883/path",
        ] {
            let p = props(&[(SERVER_URI, bad), (TOPICS, "a")]);
            let errors = errors_of(&p, SERVER_URI);
            assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
            assert!(errors[0].contains(bad), "{errors:?}");
            assert!(MqttSettings::parse(&p).is_err());
        }
        let errors = errors_of(
            &props(&[(SERVER_URI, "http://h"), (TOPICS, "a")]),
            SERVER_URI,
        );
        assert!(
            errors[0].contains("unsupported scheme 'http'"),
            "{errors:?}"
        );
    }

    #[test]
    fn topic_filters_are_checked() {
        for good in ["a", "a/+/c", "#", "a/#", "+", "$share/g/a/#", "$SYS/#"] {
            assert!(check_filter(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "a/#/b",
            "a#",
            "a/b+",
            "$share//a",
            "$share/g",
            "$share/g/",
        ] {
            assert!(check_filter(bad).is_err(), "{bad}");
        }
        let errors = errors_of(
            &props(&[(SERVER_URI, "tcp://h"), (TOPICS, "a/#/b")]),
            TOPICS,
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn qos_and_version_are_range_checked() {
        let p = props(&[(SERVER_URI, "tcp://h"), (TOPICS, "a"), (QOS, "3")]);
        assert_eq!(errors_of(&p, QOS).len(), 1);
        let p = props(&[(SERVER_URI, "tcp://h"), (TOPICS, "a"), (VERSION, "4")]);
        assert_eq!(errors_of(&p, VERSION).len(), 1);
        let p = props(&[(SERVER_URI, "tcp://h"), (TOPICS, "a"), (VERSION, "5")]);
        assert_eq!(MqttSettings::parse(&p).unwrap().version, MqttVersion::V5);
    }

    #[test]
    fn required_keys_are_reported() {
        let p = props(&[]);
        assert_eq!(errors_of(&p, SERVER_URI).len(), 1);
        assert_eq!(errors_of(&p, TOPICS).len(), 1);
    }

    #[test]
    fn the_demo_configuration_parses() {
        let p = props(&[
            ("connector.class", "io.confluent.connect.mqtt.MqttConnector"),
            (SERVER_URI, "tcp://ml234-ml234-ml234-ml234:1883"),
            (PASSWORD, "Secret"),
            (USERNAME, "user"),
            (TOPICS, "owntracks/#"),
            (KAFKA_TOPIC, "data_mqtt"),
            ("tasks.max", "1"),
            ("confluent.topic.bootstrap.servers", "kafka-1:9092"),
            ("confluent.topic.replication.factor", "1"),
        ]);
        let s = MqttSettings::parse(&p).unwrap();
        assert_eq!(s.username.as_deref(), Some("user"));
        assert_eq!(s.password, "Secret");
        assert_eq!(s.kafka_topic, "data_mqtt");
        assert!(
            config_def()
                .validate(&p)
                .iter()
                .all(|v| v.errors.is_empty())
        );
    }
}
