//! The connector's settings (connectors.md B.2), their cross-field rules (B.3), and the parsed
//! form the task uses.

use std::collections::BTreeSet;
use std::time::Duration;

use sluice_api::config::ParsedValue;
use sluice_api::{
    ConfigDef, ConfigKey, ConfigType, ConfigValue, ConnectError, DefaultValue, Importance, Props,
    Result, Validator, Width,
};

/// Keys of older connector versions that are accepted with a deprecation warning and ignored.
pub const DEPRECATED_KEYS: &[(&str, &str)] = &[
    (
        "type.name",
        "mapping types were removed in Elasticsearch 7; documents are written without a type",
    ),
    (
        "topic.index.map",
        "removed in connector 11; use a RegexRouter transform with flush.synchronously=true",
    ),
    (
        "auto.create.indices.at.start",
        "removed in connector 11; indices are created on first write",
    ),
    ("max.connection.idle.time.ms", "unused since connector 11"),
];

/// Sluice extension: the longest wait between retries (Confluent's cap is fixed at 24 h).
pub const RETRY_BACKOFF_MAX_MS: &str = "retry.backoff.max.ms";
/// Sluice extension: retry item-level 429 rejections (B.16; Confluent fails the task).
pub const RETRY_REJECTED_ITEMS: &str = "bulk.retry.rejected.items";

fn key(
    name: &str,
    ty: ConfigType,
    default: DefaultValue,
    importance: Importance,
    group: &str,
    order: i32,
    doc: &str,
) -> ConfigKey {
    ConfigKey::new(name, ty, default, importance, doc).in_group(group, order, Width::Short, name)
}

fn val(v: &str) -> DefaultValue {
    DefaultValue::Value(v.to_owned())
}

const CONNECTOR: &str = "Connector";
const CONVERSION: &str = "Data Conversion";
const PROXY: &str = "Proxy";
const SECURITY: &str = "Security";
const KERBEROS: &str = "Kerberos";
const DATA_STREAM: &str = "Data Stream";

/// Checks a data stream dataset/namespace: lower case, at most 100 characters, none of
/// `\/*?"<>| ,#-:` (B.2).
fn data_stream_part(name: &str, value: &ParsedValue) -> std::result::Result<(), String> {
    let Some(s) = value.as_str() else {
        return Ok(());
    };
    if s.is_empty() || s == "${topic}" {
        return Ok(());
    }
    let bad = s.len() > 100
        || s.to_lowercase() != s
        || s.contains([
            '\\', '/', '*', '?', '"', '<', '>', '|', ' ', ',', '#', '-', ':',
        ]);
    if bad {
        Err(format!(
            "Invalid value {s} for configuration {name}: must be lowercase, at most 100 characters, and must not contain any of \\/*?\"<>| ,#-:"
        ))
    } else {
        Ok(())
    }
}

/// The connector's configuration definition.
pub fn config_def() -> ConfigDef {
    use ConfigType::*;
    use Importance::*;
    let mut def = ConfigDef::new()
        .define(key("connection.url", List, DefaultValue::Required, High, CONNECTOR, 1,
            "Elasticsearch node URLs, e.g. http://eshost1:9200,http://eshost2:9200. A URL without a scheme is http.")
            .validator(Validator::custom(|name, v| match v {
                ParsedValue::List(urls) if urls.is_empty() => Err(format!("Invalid value for configuration {name}: at least one URL is required")),
                ParsedValue::List(urls) => urls.iter().try_for_each(|u| crate::service::parse_url(u).map(|_| ()).map_err(|e| format!("Invalid value {u} for configuration {name}: {e}"))),
                _ => Ok(()),
            })))
        .define(key("connection.username", String, DefaultValue::Null, Medium, CONNECTOR, 2,
            "User for basic authentication; used only with connection.password."))
        .define(key("connection.password", Password, DefaultValue::Null, Medium, CONNECTOR, 3,
            "Password for basic authentication."))
        .define(key("batch.size", Int, val("2000"), Medium, CONNECTOR, 4,
            "Most actions in one bulk request.").validator(Validator::between(1.0, 1_000_000.0)))
        .define(key("bulk.size.bytes", Long, val("5242880"), Low, CONNECTOR, 5,
            "A bulk request is sent when its size reaches this many bytes; -1 disables the limit.")
            .validator(Validator::between(-1.0, 2_147_483_647.0)))
        .define(key("max.in.flight.requests", Int, val("5"), Medium, CONNECTOR, 6,
            "Concurrency limit: at most max.in.flight.requests-1 bulks are outstanding (1 means synchronous), as in Confluent's connector.")
            .validator(Validator::between(1.0, 1000.0)))
        .define(key("max.buffered.records", Int, val("20000"), Low, CONNECTOR, 7,
            "Records held by a task (queued and in flight) before put waits for room.")
            .validator(Validator::at_least(1.0)))
        .define(key("linger.ms", Long, val("1"), Low, CONNECTOR, 8,
            "Longest time a partly filled batch waits before it is sent.")
            .validator(Validator::between(0.0, 604_800_000.0)))
        .define(key("flush.timeout.ms", Long, val("180000"), Low, CONNECTOR, 9,
            "Longest wait for buffer room in put, and for outstanding requests on close and synchronous flush.")
            .validator(Validator::between(1000.0, 604_800_000.0)))
        .define(key("flush.synchronously", Boolean, val("false"), Low, CONNECTOR, 10,
            "Make pre-commit wait for every outstanding bulk (needed with topic-renaming transforms)."))
        .define(key("max.retries", Int, val("5"), Low, CONNECTOR, 11,
            "Retries after the first attempt of any Elasticsearch call.").validator(Validator::at_least(0.0)))
        .define(key("retry.backoff.ms", Long, val("100"), Low, CONNECTOR, 12,
            "Base of the full-jitter exponential backoff between retries; 0 retries at once.")
            .validator(Validator::between(0.0, 86_400_000.0)))
        .define(key(RETRY_BACKOFF_MAX_MS, Long, val("86400000"), Low, CONNECTOR, 13,
            "Sluice extension: the longest wait between retries (Confluent's fixed cap is 24 h).")
            .validator(Validator::between(0.0, 86_400_000.0)))
        .define(key(RETRY_REJECTED_ITEMS, Boolean, val("true"), Low, CONNECTOR, 14,
            "Sluice extension: retry items Elasticsearch rejected with 429 (es_rejected_execution_exception) with the retry backoff, up to max.retries, before failing; false fails the task at once as Confluent's connector does."))
        .define(key("connection.compression", Boolean, val("false"), Low, CONNECTOR, 15,
            "Gzip request bodies (Elasticsearch accepts gzip bodies)."))
        .define(key("max.connection.idle.time.ms", Int, val("60000"), Low, CONNECTOR, 16,
            "Idle time after which pooled connections are closed.").validator(Validator::between(-1.0, 86_400_000.0)))
        .define(key("connection.timeout.ms", Int, val("1000"), Low, CONNECTOR, 17,
            "TCP connect timeout.").validator(Validator::between(0.0, 43_200_000.0)))
        .define(key("read.timeout.ms", Int, val("3000"), Low, CONNECTOR, 18,
            "Longest wait for a response.").validator(Validator::between(0.0, 604_800_000.0)))
        .define(key("use.autogenerated.ids", Boolean, val("false"), Low, CONNECTOR, 19,
            "With write.method=insert, let Elasticsearch generate document ids (at-least-once, duplicates possible)."))
        .define(key("external.resource.usage", String, val("DISABLED"), Low, CONNECTOR, 20,
            "Write to existing resources named by topic.to.external.resource.mapping.")
            .validator(Validator::one_of_ignore_case(&["INDEX", "DATASTREAM", "ALIAS_INDEX", "ALIAS_DATASTREAM", "DISABLED"])))
        .define(key("topic.to.external.resource.mapping", List, val(""), Low, CONNECTOR, 21,
            "topic:resource pairs, one per configured topic."))
        .define(key("max.external.resource.mappings", Int, val("15"), Low, CONNECTOR, 22,
            "Most entries in topic.to.external.resource.mapping.").validator(Validator::at_least(1.0)))
        .define(key("key.ignore", Boolean, val("false"), High, CONVERSION, 1,
            "Use topic+partition+offset as the document id instead of the record key."))
        .define(key("topic.key.ignore", List, val(""), Low, CONVERSION, 2,
            "Topics for which key.ignore is true."))
        .define(key("schema.ignore", Boolean, val("false"), Low, CONVERSION, 3,
            "Do not create mappings from record schemas."))
        .define(key("topic.schema.ignore", List, val(""), Low, CONVERSION, 4,
            "Topics for which schema.ignore is true."))
        .define(key("compact.map.entries", Boolean, val("true"), Low, CONVERSION, 5,
            "Write maps with string keys as JSON objects rather than arrays of key/value entries."))
        .define(key("drop.invalid.message", Boolean, val("false"), Low, CONVERSION, 6,
            "Report records that cannot be converted and carry on, instead of failing."))
        .define(key("behavior.on.null.values", String, val("FAIL"), Low, CONVERSION, 7,
            "What to do with tombstones: ignore, delete or fail.")
            .validator(Validator::one_of_ignore_case(&["IGNORE", "DELETE", "FAIL"])))
        .define(key("behavior.on.malformed.documents", String, val("FAIL"), Low, CONVERSION, 8,
            "What to do when Elasticsearch rejects a document as malformed: ignore, warn or fail.")
            .validator(Validator::one_of_ignore_case(&["IGNORE", "WARN", "FAIL"])))
        .define(key("external.version.header", String, val(""), Low, CONVERSION, 9,
            "Header holding a numeric external version, used instead of the Kafka offset."))
        .define(key("write.method", String, val("INSERT"), Low, CONVERSION, 10,
            "insert (index, replacing documents) or upsert (partial update or create).")
            .validator(Validator::one_of_ignore_case(&["INSERT", "UPSERT"])))
        .define(key("proxy.host", String, val(""), Low, PROXY, 1, "HTTP proxy host."))
        .define(key("proxy.port", Int, val("8080"), Low, PROXY, 2, "HTTP proxy port.")
            .validator(Validator::between(1.0, 65535.0)))
        .define(key("proxy.username", String, val(""), Low, PROXY, 3, "Proxy user (basic auth)."))
        .define(key("proxy.password", Password, DefaultValue::Null, Low, PROXY, 4, "Proxy password."))
        .define(key("elastic.security.protocol", String, val("PLAINTEXT"), Medium, SECURITY, 1,
            "PLAINTEXT or SSL (HTTPS settings under elastic.https.*).")
            .validator(Validator::one_of_ignore_case(&["PLAINTEXT", "SSL"])))
        .define(key("elastic.https.ssl.truststore.location", String, val(""), Medium, SECURITY, 2,
            "PEM file of CA certificates to trust (Sluice reads PEM, not JKS/PKCS12)."))
        .define(key("elastic.https.ssl.truststore.password", Password, DefaultValue::Null, Low, SECURITY, 3,
            "Accepted for compatibility; PEM trust stores need no password."))
        .define(key("elastic.https.ssl.truststore.type", String, val("JKS"), Low, SECURITY, 4,
            "Accepted for compatibility; the trust store is read as PEM."))
        .define(key("elastic.https.ssl.endpoint.identification.algorithm", String, val("https"), Low, SECURITY, 5,
            "Empty turns host name verification off."))
        .define(key("kerberos.user.principal", String, DefaultValue::Null, Low, KERBEROS, 1,
            "Kerberos principal (not supported by Sluice)."))
        .define(key("kerberos.keytab.path", String, DefaultValue::Null, Low, KERBEROS, 2,
            "Kerberos keytab (not supported by Sluice)."))
        .define(key("data.stream.type", String, val("NONE"), Low, DATA_STREAM, 1,
            "LOGS or METRICS to write to data streams; NONE writes to indices.")
            .validator(Validator::one_of_ignore_case(&["LOGS", "METRICS", "NONE"])))
        .define(key("data.stream.dataset", String, val(""), Low, DATA_STREAM, 2,
            "Data stream dataset.").validator(Validator::custom(data_stream_part)))
        .define(key("data.stream.namespace", String, val("${topic}"), Low, DATA_STREAM, 3,
            "Data stream namespace; ${topic} is the lower-cased topic.").validator(Validator::custom(data_stream_part)))
        .define(key("data.stream.timestamp.field", List, val(""), Low, DATA_STREAM, 4,
            "Fields whose first present value becomes @timestamp; empty uses the record timestamp."));
    for (name, why) in DEPRECATED_KEYS {
        if def.get(name).is_none() {
            def = def.define(key(
                name,
                String,
                DefaultValue::Null,
                Low,
                CONNECTOR,
                99,
                &format!("Deprecated and ignored: {why}."),
            ));
        }
    }
    // Other elastic.https.* keys of Kafka's SSL family are accepted (and unused) for compatibility.
    for suffix in [
        "ssl.keystore.location",
        "ssl.keystore.type",
        "ssl.protocol",
        "ssl.enabled.protocols",
        "ssl.cipher.suites",
        "ssl.keymanager.algorithm",
        "ssl.trustmanager.algorithm",
        "ssl.keystore.certificate.chain",
        "ssl.truststore.certificates",
    ] {
        def = def.define(key(
            &format!("elastic.https.{suffix}"),
            String,
            DefaultValue::Null,
            Low,
            SECURITY,
            10,
            "Accepted for compatibility with Confluent's configuration; not used by Sluice.",
        ));
    }
    for suffix in [
        "ssl.keystore.password",
        "ssl.key.password",
        "ssl.keystore.key",
    ] {
        def = def.define(key(
            &format!("elastic.https.{suffix}"),
            Password,
            DefaultValue::Null,
            Low,
            SECURITY,
            10,
            "Accepted for compatibility with Confluent's configuration; not used by Sluice.",
        ));
    }
    def
}

/// What to do with tombstones (B.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NullBehavior {
    /// Skip (and report to the DLQ).
    Ignore,
    /// Delete the document with the record key as id.
    Delete,
    /// Data error.
    Fail,
}

/// What to do with documents ES rejects as malformed (B.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MalformedBehavior {
    /// Report and carry on quietly.
    Ignore,
    /// Report, log a warning, carry on.
    Warn,
    /// Fail the task.
    Fail,
}

/// `proxy.host`, `proxy.port` and the optional proxy user and password.
pub type Proxy = (String, u16, Option<(String, String)>);

/// Parsed settings of one task.
#[derive(Debug, Clone)]
pub struct EsConfig {
    /// Base URLs, without trailing `/`, deduplicated.
    pub urls: Vec<String>,
    /// Basic auth user and password.
    pub credentials: Option<(String, String)>,
    /// `batch.size`.
    pub batch_size: usize,
    /// `bulk.size.bytes`; `None` when -1.
    pub bulk_size_bytes: Option<usize>,
    /// `max.in.flight.requests`.
    pub max_in_flight: usize,
    /// `max.buffered.records`.
    pub max_buffered_records: usize,
    /// `linger.ms`.
    pub linger: Duration,
    /// `flush.timeout.ms`.
    pub flush_timeout: Duration,
    /// `flush.synchronously`.
    pub flush_synchronously: bool,
    /// `max.retries`.
    pub max_retries: u32,
    /// `retry.backoff.ms`.
    pub retry_backoff: Duration,
    /// `retry.backoff.max.ms` (extension).
    pub retry_backoff_max: Duration,
    /// `bulk.retry.rejected.items` (extension).
    pub retry_rejected_items: bool,
    /// `connection.compression`.
    pub compression: bool,
    /// `max.connection.idle.time.ms`; `None` when -1.
    pub idle_timeout: Option<Duration>,
    /// `connection.timeout.ms`.
    pub connect_timeout: Duration,
    /// `read.timeout.ms`.
    pub read_timeout: Duration,
    /// `use.autogenerated.ids`.
    pub use_autogenerated_ids: bool,
    /// `external.resource.usage` (upper case).
    pub external_resource_usage: String,
    /// topic → resource from `topic.to.external.resource.mapping`.
    pub external_resources: Vec<(String, String)>,
    /// `key.ignore`.
    pub key_ignore: bool,
    /// `topic.key.ignore`.
    pub topic_key_ignore: BTreeSet<String>,
    /// `schema.ignore`.
    pub schema_ignore: bool,
    /// `topic.schema.ignore`.
    pub topic_schema_ignore: BTreeSet<String>,
    /// `compact.map.entries`.
    pub compact_map_entries: bool,
    /// `drop.invalid.message`.
    pub drop_invalid_message: bool,
    /// `behavior.on.null.values`.
    pub null_behavior: NullBehavior,
    /// `behavior.on.malformed.documents`.
    pub malformed_behavior: MalformedBehavior,
    /// `external.version.header`; `None` when empty.
    pub external_version_header: Option<String>,
    /// `write.method=upsert`.
    pub upsert: bool,
    /// `proxy.host:proxy.port` with optional credentials.
    pub proxy: Option<Proxy>,
    /// CA file (PEM) to trust for HTTPS.
    pub ca_file: Option<String>,
    /// Host name verification (`...endpoint.identification.algorithm` not empty).
    pub verify_hostname: bool,
    /// `data.stream.type` (upper case) when data streams are used.
    pub data_stream_type: Option<String>,
    /// `data.stream.dataset`.
    pub data_stream_dataset: String,
    /// `data.stream.namespace`.
    pub data_stream_namespace: String,
    /// `data.stream.timestamp.field`.
    pub data_stream_timestamp_fields: Vec<String>,
}

impl EsConfig {
    /// Parses (and cross-checks) a task or connector configuration.
    pub fn parse(props: &Props) -> Result<Self> {
        let errors: Vec<String> = validate(props).into_iter().flat_map(|v| v.errors).collect();
        if !errors.is_empty() {
            return Err(ConnectError::config(errors.join("; ")));
        }
        let c = config_def().parse(props)?;
        let s = |k: &str| c.string(k).unwrap_or("").to_owned();
        let b = |k: &str| c.bool(k).unwrap_or(false);
        let ms = |k: &str| Duration::from_millis(c.long(k).unwrap_or(0).max(0).unsigned_abs());
        let int = |k: &str| c.int(k).unwrap_or(0);
        let mut urls: Vec<String> = Vec::new();
        for raw in c.list("connection.url") {
            let url = crate::service::parse_url(&raw).map_err(ConnectError::config)?;
            if !urls.contains(&url) {
                urls.push(url);
            }
        }
        // B.2: if any URL is https, https is used for all.
        if urls.iter().any(|u| u.starts_with("https://")) {
            urls = urls
                .into_iter()
                .map(|u| match u.strip_prefix("http://") {
                    Some(rest) => format!("https://{rest}"),
                    None => u,
                })
                .collect();
        }
        let credentials = match (
            c.string("connection.username"),
            c.password("connection.password"),
        ) {
            (Some(u), Some(p)) => Some((u.to_owned(), p.value().to_owned())),
            _ => None,
        };
        let proxy_host = s("proxy.host");
        let proxy = (!proxy_host.is_empty()).then(|| {
            let user = s("proxy.username");
            let pass = c.password("proxy.password").map(|p| p.value().to_owned());
            let creds = (!user.is_empty())
                .then_some(())
                .and(pass)
                .map(|p| (user.clone(), p));
            (proxy_host.clone(), int("proxy.port") as u16, creds)
        });
        let ds_type = s("data.stream.type").to_uppercase();
        let ds_dataset = s("data.stream.dataset");
        let data_stream_type = (ds_type != "NONE" && !ds_dataset.is_empty()).then_some(ds_type);
        let bulk_bytes = c.long("bulk.size.bytes").unwrap_or(-1);
        let idle = int("max.connection.idle.time.ms");
        let header = s("external.version.header");
        let truststore = s("elastic.https.ssl.truststore.location");
        Ok(Self {
            urls,
            credentials,
            batch_size: int("batch.size").max(1) as usize,
            bulk_size_bytes: (bulk_bytes >= 0).then_some(bulk_bytes as usize),
            max_in_flight: int("max.in.flight.requests").max(1) as usize,
            max_buffered_records: int("max.buffered.records").max(1) as usize,
            linger: ms("linger.ms"),
            flush_timeout: ms("flush.timeout.ms"),
            flush_synchronously: b("flush.synchronously"),
            max_retries: int("max.retries").max(0) as u32,
            retry_backoff: ms("retry.backoff.ms"),
            retry_backoff_max: ms(RETRY_BACKOFF_MAX_MS),
            retry_rejected_items: b(RETRY_REJECTED_ITEMS),
            compression: b("connection.compression"),
            idle_timeout: (idle >= 0).then(|| Duration::from_millis(idle as u64)),
            connect_timeout: Duration::from_millis(int("connection.timeout.ms").max(0) as u64),
            read_timeout: Duration::from_millis(int("read.timeout.ms").max(0) as u64),
            use_autogenerated_ids: b("use.autogenerated.ids"),
            external_resource_usage: s("external.resource.usage").to_uppercase(),
            external_resources: c
                .list("topic.to.external.resource.mapping")
                .iter()
                .filter_map(|e| e.split_once(':'))
                .map(|(t, r)| (t.trim().to_owned(), r.trim().to_owned()))
                .collect(),
            key_ignore: b("key.ignore"),
            topic_key_ignore: c.list("topic.key.ignore").into_iter().collect(),
            schema_ignore: b("schema.ignore"),
            topic_schema_ignore: c.list("topic.schema.ignore").into_iter().collect(),
            compact_map_entries: b("compact.map.entries"),
            drop_invalid_message: b("drop.invalid.message"),
            null_behavior: match s("behavior.on.null.values").to_uppercase().as_str() {
                "IGNORE" => NullBehavior::Ignore,
                "DELETE" => NullBehavior::Delete,
                _ => NullBehavior::Fail,
            },
            malformed_behavior: match s("behavior.on.malformed.documents").to_uppercase().as_str() {
                "IGNORE" => MalformedBehavior::Ignore,
                "WARN" => MalformedBehavior::Warn,
                _ => MalformedBehavior::Fail,
            },
            external_version_header: (!header.is_empty()).then_some(header),
            upsert: s("write.method").eq_ignore_ascii_case("upsert"),
            proxy,
            ca_file: (!truststore.is_empty()).then_some(truststore),
            verify_hostname: !s("elastic.https.ssl.endpoint.identification.algorithm").is_empty(),
            data_stream_type,
            data_stream_dataset: ds_dataset,
            data_stream_namespace: s("data.stream.namespace"),
            data_stream_timestamp_fields: c.list("data.stream.timestamp.field"),
        })
    }

    /// Whether records of `topic` use topic+partition+offset ids.
    pub fn ignores_key(&self, topic: &str) -> bool {
        self.key_ignore || self.topic_key_ignore.contains(topic)
    }

    /// Whether mappings are not created for `topic`.
    pub fn ignores_schema(&self, topic: &str) -> bool {
        self.schema_ignore || self.topic_schema_ignore.contains(topic)
    }

    /// Whether records go to data streams.
    pub fn is_data_stream(&self) -> bool {
        self.data_stream_type.is_some()
    }
}

/// Per-key checks plus the cross-field rules of B.3 (connectivity is checked when a task starts).
pub fn validate(props: &Props) -> Vec<ConfigValue> {
    let mut values = config_def().validate(props);
    let get = |k: &str| {
        props
            .get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let is_true = |k: &str| get(k).is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let num = |k: &str, default: i64| {
        get(k)
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(default)
    };
    let list = |k: &str| -> Vec<String> {
        get(k)
            .map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut errors: Vec<(&str, String)> = Vec::new();
    // B.3: both or neither.
    for (a, b) in [
        ("connection.username", "connection.password"),
        ("kerberos.user.principal", "kerberos.keytab.path"),
        ("proxy.username", "proxy.password"),
    ] {
        if get(a).is_some() != get(b).is_some() {
            let msg = format!("Both {a} and {b} must be set, or neither.");
            errors.push((a, msg.clone()));
            errors.push((b, msg));
        }
    }
    if get("kerberos.user.principal").is_some() {
        errors.push((
            "kerberos.user.principal",
            "Kerberos (SPNEGO) authentication is not supported by Sluice.".into(),
        ));
    }
    if (get("proxy.username").is_some() || get("proxy.password").is_some())
        && get("proxy.host").is_none()
    {
        errors.push((
            "proxy.host",
            "proxy.host must be set to use a proxy user and password.".into(),
        ));
    }
    if is_true("key.ignore") && !list("topic.key.ignore").is_empty() {
        let msg = "topic.key.ignore cannot be set when key.ignore is true.".to_owned();
        errors.push(("key.ignore", msg.clone()));
        errors.push(("topic.key.ignore", msg));
    }
    if is_true("schema.ignore") && !list("topic.schema.ignore").is_empty() {
        let msg = "topic.schema.ignore cannot be set when schema.ignore is true.".to_owned();
        errors.push(("schema.ignore", msg.clone()));
        errors.push(("topic.schema.ignore", msg));
    }
    let linger = num("linger.ms", 1);
    let flush_timeout = num("flush.timeout.ms", 180_000);
    if linger > flush_timeout {
        errors.push((
            "linger.ms",
            format!(
                "linger.ms ({linger}) cannot be larger than flush.timeout.ms ({flush_timeout})."
            ),
        ));
    }
    let buffered = num("max.buffered.records", 20_000);
    let batch = num("batch.size", 2000);
    let in_flight = num("max.in.flight.requests", 5);
    if buffered < batch.saturating_mul(in_flight) {
        errors.push(("max.buffered.records", format!(
            "max.buffered.records ({buffered}) must be at least batch.size ({batch}) times max.in.flight.requests ({in_flight}).")));
    }
    let ds_type = get("data.stream.type")
        .map(|t| t.to_uppercase())
        .filter(|t| t != "NONE");
    let ds_dataset = get("data.stream.dataset");
    if ds_type.is_some() != ds_dataset.is_some() {
        let msg = "data.stream.type and data.stream.dataset must be set together.".to_owned();
        errors.push(("data.stream.type", msg.clone()));
        errors.push(("data.stream.dataset", msg));
    }
    let data_stream = ds_type.is_some() && ds_dataset.is_some();
    if !data_stream && !list("data.stream.timestamp.field").is_empty() {
        errors.push((
            "data.stream.timestamp.field",
            "data.stream.timestamp.field is only valid with data streams.".into(),
        ));
    }
    if data_stream {
        if get("write.method").is_some_and(|m| m.eq_ignore_ascii_case("upsert")) {
            errors.push((
                "write.method",
                "Data streams do not support write.method=upsert.".into(),
            ));
        }
        if get("behavior.on.null.values").is_some_and(|m| m.eq_ignore_ascii_case("delete")) {
            errors.push((
                "behavior.on.null.values",
                "Data streams do not support behavior.on.null.values=delete.".into(),
            ));
        }
    }
    let usage = get("external.resource.usage")
        .map(|u| u.to_uppercase())
        .unwrap_or_else(|| "DISABLED".into());
    let mapping = list("topic.to.external.resource.mapping");
    if (usage != "DISABLED") == mapping.is_empty() {
        errors.push((
            "external.resource.usage",
            "external.resource.usage and topic.to.external.resource.mapping must be set together."
                .into(),
        ));
    }
    if !mapping.is_empty() {
        if data_stream {
            errors.push(("external.resource.usage", "external.resource.usage cannot be combined with data.stream.type and data.stream.dataset.".into()));
        }
        let max = num("max.external.resource.mappings", 15);
        if mapping.len() as i64 > max {
            errors.push((
                "topic.to.external.resource.mapping",
                format!("At most {max} mappings are allowed (max.external.resource.mappings)."),
            ));
        }
        let mut mapped = BTreeSet::new();
        for entry in &mapping {
            match entry.split_once(':') {
                Some((t, r)) if !t.trim().is_empty() && !r.trim().is_empty() => {
                    if !mapped.insert(t.trim().to_owned()) {
                        errors.push((
                            "topic.to.external.resource.mapping",
                            format!("Topic {} is mapped twice.", t.trim()),
                        ));
                    }
                }
                _ => errors.push((
                    "topic.to.external.resource.mapping",
                    format!("Invalid entry {entry}: expected topic:resource."),
                )),
            }
        }
        let topics: BTreeSet<String> = list("topics").into_iter().collect();
        if get("topics.regex").is_some() || topics != mapped {
            errors.push((
                "topic.to.external.resource.mapping",
                "Every configured topic must be mapped, and only configured topics.".into(),
            ));
        }
    }
    let protocol = get("elastic.security.protocol")
        .map(|p| p.to_uppercase())
        .unwrap_or_else(|| "PLAINTEXT".into());
    let https_keys = props
        .iter()
        .any(|(k, v)| k.starts_with("elastic.https.") && !v.trim().is_empty());
    if protocol != "SSL" && https_keys {
        errors.push((
            "elastic.security.protocol",
            "elastic.https.* settings require elastic.security.protocol=SSL.".into(),
        ));
    }
    if protocol == "SSL" && !https_keys {
        errors.push(("elastic.security.protocol", "elastic.security.protocol=SSL needs elastic.https.* settings (at least a trust store).".into()));
    }
    for (name, msg) in errors {
        if let Some(v) = values.iter_mut().find(|v| v.name == name) {
            v.errors.push(msg);
        }
    }
    values
}

/// Logs a deprecation warning for each legacy key present.
pub fn warn_deprecated(props: &Props) {
    for (name, why) in DEPRECATED_KEYS {
        if props.contains_key(*name) {
            tracing::warn!(
                key = name,
                "configuration key {name} is deprecated and ignored: {why}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Props {
        let mut p: Props = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        p.entry("connection.url".into())
            .or_insert("http://localhost:9200".into());
        p.entry("topics".into()).or_insert("t".into());
        p
    }

    fn errors(p: &Props) -> Vec<String> {
        validate(p).into_iter().flat_map(|v| v.errors).collect()
    }

    #[test]
    fn demo_config_is_valid_and_type_name_is_accepted() {
        let p = props(&[
            ("key.ignore", "true"),
            ("schema.ignore", "true"),
            ("type.name", "type.name=kafkaconnect"),
            ("connection.url", "http://elasticsearch:9200"),
        ]);
        assert!(errors(&p).is_empty(), "{:?}", errors(&p));
        let c = EsConfig::parse(&p).unwrap();
        assert_eq!(c.urls, vec!["http://elasticsearch:9200"]);
        assert!(c.key_ignore && c.schema_ignore);
    }

    #[test]
    fn cross_field_rules() {
        assert!(!errors(&props(&[("connection.username", "u")])).is_empty());
        assert!(!errors(&props(&[("key.ignore", "true"), ("topic.key.ignore", "t")])).is_empty());
        assert!(!errors(&props(&[("linger.ms", "200000")])).is_empty());
        assert!(!errors(&props(&[("max.buffered.records", "100")])).is_empty());
        assert!(!errors(&props(&[("data.stream.type", "logs")])).is_empty());
        assert!(!errors(&props(&[("data.stream.timestamp.field", "ts")])).is_empty());
        assert!(
            !errors(&props(&[
                ("data.stream.type", "logs"),
                ("data.stream.dataset", "d"),
                ("write.method", "upsert")
            ]))
            .is_empty()
        );
        assert!(
            !errors(&props(&[
                ("data.stream.dataset", "Bad-Name"),
                ("data.stream.type", "logs")
            ]))
            .is_empty()
        );
        assert!(
            !errors(&props(&[(
                "elastic.https.ssl.truststore.location",
                "/ca.pem"
            )]))
            .is_empty()
        );
        assert!(!errors(&props(&[("elastic.security.protocol", "SSL")])).is_empty());
        assert!(
            errors(&props(&[
                ("elastic.security.protocol", "SSL"),
                ("elastic.https.ssl.truststore.location", "/ca.pem")
            ]))
            .is_empty()
        );
        assert!(!errors(&props(&[("external.resource.usage", "INDEX")])).is_empty());
        assert!(
            errors(&props(&[
                ("external.resource.usage", "INDEX"),
                ("topic.to.external.resource.mapping", "t:idx")
            ]))
            .is_empty()
        );
        assert!(
            !errors(&props(&[
                ("external.resource.usage", "INDEX"),
                ("topic.to.external.resource.mapping", "u:idx")
            ]))
            .is_empty()
        );
        assert!(!errors(&props(&[("connection.url", "")])).is_empty());
    }

    #[test]
    fn urls_are_normalised() {
        let c = EsConfig::parse(&props(&[(
            "connection.url",
            "localhost:9200/, http://a:1,https://b:2,http://a:1",
        )]))
        .unwrap();
        assert_eq!(
            c.urls,
            vec!["https://localhost:9200", "https://a:1", "https://b:2"]
        );
    }
}
