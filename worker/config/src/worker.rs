//! The worker's own settings: their definitions, and the merged, resolved, typed configuration.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::Path;

use sluice_api::config::ParsedValue;
use sluice_api::{
    Config, ConfigDef, ConfigKey, ConfigType, DefaultValue, Importance, Props, Validator,
};

use crate::env::{env_overrides_with_origin, env_var_for_key};
use crate::providers::{CONFIG_PROVIDERS, CONFIG_PROVIDERS_PREFIX, process_env};
use crate::{ConfigError, ConfigProviders, Mode, Scrubber, load_properties};

const BOOTSTRAP_SERVERS: &str = "bootstrap.servers";
const LISTENERS: &str = "listeners";
const ADMIN_LISTENERS: &str = "admin.listeners";
const REST_HOST_NAME: &str = "rest.host.name";
const REST_PORT: &str = "rest.port";
const REST_ADVERTISED_HOST_NAME: &str = "rest.advertised.host.name";
const REST_ADVERTISED_PORT: &str = "rest.advertised.port";
const REST_ADVERTISED_LISTENER: &str = "rest.advertised.listener";
/// The class that turns on HTTP basic authentication in `rest.extension.classes`.
pub const BASIC_AUTH_EXTENSION_CLASS: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";
const REST_EXTENSION_CLASSES: &str = "rest.extension.classes";
const REST_BASIC_AUTH_JAAS_CONFIG: &str = "rest.basic.auth.jaas.config";
const REST_BASIC_AUTH_USERS_FILE: &str = "rest.basic.auth.users.file";
const DEFAULT_LISTENER: &str = "http://:8083";

/// Prefixes of settings that belong to someone else (clients, converters, providers, TLS) and are
/// passed on rather than defined here; keys under them are never reported as unknown.
const PASSED_ON_PREFIXES: &[&str] = &[
    "producer.",
    "consumer.",
    "admin.",
    "key.converter.",
    "value.converter.",
    "header.converter.",
    CONFIG_PROVIDERS_PREFIX,
    "listeners.https.",
    "admin.listeners.https.",
    "ssl.",
    "sasl.",
    "metrics.context.",
];

/// In distributed mode, other `*.storage.*` keys are topic settings for the internal topics.
const INTERNAL_TOPIC_PREFIXES: &[&str] = &["config.storage.", "offset.storage.", "status.storage."];

/// Settings Kafka 3.0 removed; they are ignored with a warning.
const REMOVED_INTERNAL_CONVERTERS: &[&str] =
    &["internal.key.converter", "internal.value.converter"];

fn value(s: &str) -> DefaultValue {
    DefaultValue::Value(s.to_owned())
}

fn key(
    name: &str,
    config_type: ConfigType,
    default: DefaultValue,
    importance: Importance,
    doc: &str,
) -> ConfigKey {
    ConfigKey::new(name, config_type, default, importance, doc)
}

/// A replication factor or partition count: positive, or -1 for the broker's default.
fn positive_or_broker_default() -> Validator {
    Validator::custom(|name, v| {
        let n = match v {
            ParsedValue::Short(n) => i64::from(*n),
            ParsedValue::Int(n) => i64::from(*n),
            _ => return Ok(()),
        };
        if n >= 1 || n == -1 {
            Ok(())
        } else {
            Err(format!(
                "Invalid value {n} for configuration {name}: Value must be at least 1, or -1 to use the broker's default"
            ))
        }
    })
}

/// A list of `http://host:port` / `https://host:port` URLs; `allow_empty` for `admin.listeners`.
fn listener_list(allow_empty: bool) -> Validator {
    Validator::custom(move |name, v| {
        let ParsedValue::List(items) = v else {
            return Ok(());
        };
        if items.is_empty() && !allow_empty {
            return Err(format!(
                "Invalid value for {name}, at least one URL is expected, ex: http://localhost:8080,https://localhost:8443."
            ));
        }
        for item in items {
            Listener::parse(item)
                .map_err(|e| format!("Invalid value {item} for configuration {name}: {e}"))?;
        }
        Ok(())
    })
}

/// Accepted values of `connector.client.config.override.policy`.
const OVERRIDE_POLICIES: &[&str] = &[
    "All",
    "None",
    "Principal",
    "org.apache.kafka.connect.connector.policy.AllConnectorClientConfigOverridePolicy",
    "org.apache.kafka.connect.connector.policy.NoneConnectorClientConfigOverridePolicy",
    "org.apache.kafka.connect.connector.policy.PrincipalConnectorClientConfigOverridePolicy",
];

/// Every worker setting for `mode`: type, default, importance, documentation and validator.
///
/// Standalone and distributed share the common settings (converters, offsets flushing, REST,
/// plugins, providers, metrics, topic creation and tracking); standalone adds
/// `offset.storage.file.filename`; distributed adds group membership, the internal topics, the
/// inter-worker key settings, exactly-once source support and the Kafka client settings the
/// worker's own clients use.
pub fn worker_config_def(mode: Mode) -> ConfigDef {
    use ConfigType::{Boolean, Class, Int, List, Long, Short, String};
    use DefaultValue::{Null, Required};
    use Importance::{High, Low, Medium};

    let common = ConfigDef::new()
        .define(key(BOOTSTRAP_SERVERS, List, value("localhost:9092"), High,
            "Kafka brokers to connect to first, as host1:port1,host2:port2. The rest of the cluster is discovered from them, so a few are enough."))
        .define(key("key.converter", Class, Required, High,
            "Converter between Connect data and the bytes of record keys in Kafka (e.g. org.apache.kafka.connect.json.JsonConverter). Connectors may override it."))
        .define(key("value.converter", Class, Required, High,
            "Converter between Connect data and the bytes of record values in Kafka (e.g. org.apache.kafka.connect.json.JsonConverter). Connectors may override it."))
        .define(key("header.converter", Class, value("org.apache.kafka.connect.storage.SimpleHeaderConverter"), Low,
            "Converter between Connect data and the bytes of record header values. The default writes headers as strings and infers schemas when reading them."))
        .define(key("client.dns.lookup", String, value("use_all_dns_ips"), Medium,
            "How clients use the DNS addresses of bootstrap servers: use_all_dns_ips tries each address in turn; resolve_canonical_bootstrap_servers_only resolves each name to its canonical name first.")
            .validator(Validator::one_of(&["use_all_dns_ips", "resolve_canonical_bootstrap_servers_only"])))
        .define(key("task.shutdown.graceful.timeout.ms", Long, value("5000"), Low,
            "How long to wait, in total and not per task, for tasks to stop cleanly before giving up on them.")
            .validator(Validator::at_least(0.0)))
        .define(key("offset.flush.interval.ms", Long, value("60000"), Low,
            "How often to commit the offsets of source tasks (and of sink tasks, to the consumer group).")
            .validator(Validator::at_least(0.0)))
        .define(key("offset.flush.timeout.ms", Long, value("5000"), Low,
            "How long an offset commit may wait for outstanding records to be flushed before it is cancelled and retried at the next interval.")
            .validator(Validator::at_least(0.0)))
        .define(key(LISTENERS, List, value(DEFAULT_LISTENER), Low,
            "Comma-separated URLs the REST API listens on, e.g. http://myhost:8083,https://myhost:8443. An empty host binds all interfaces. https:// listeners take their certificate from listeners.https.ssl.* (or ssl.*), in PEM.")
            .validator(listener_list(false)))
        .define(key(REST_HOST_NAME, String, Null, Low,
            "Deprecated: use listeners. Interface for the REST API; used only when listeners is not set."))
        .define(key(REST_PORT, Int, value("8083"), Low,
            "Deprecated: use listeners. Port for the REST API; used only when listeners is not set.")
            .validator(Validator::between(0.0, 65535.0)))
        .define(key(REST_ADVERTISED_HOST_NAME, String, Null, Low,
            "Host name given to other workers to reach this one. Defaults to the listener's host, or this machine's host name."))
        .define(key(REST_ADVERTISED_PORT, Int, Null, Low,
            "Port given to other workers to reach this one. Defaults to the listener's port.")
            .validator(Validator::between(0.0, 65535.0)))
        .define(key(REST_ADVERTISED_LISTENER, String, Null, Low,
            "Protocol (http or https) of the URL given to other workers.")
            .validator(Validator::one_of_ignore_case(&["http", "https"])))
        .define(key(ADMIN_LISTENERS, List, Null, Low,
            "Comma-separated URLs for the admin endpoints (/admin). Unset: served on the regular listeners; empty: not served at all.")
            .validator(listener_list(true)))
        .define(key("access.control.allow.origin", String, value(""), Low,
            "Value of the Access-Control-Allow-Origin header of REST answers: a domain allowed to call the API from a browser, or * for any. Empty: same origin only."))
        .define(key("access.control.allow.methods", String, value(""), Low,
            "Value of the Access-Control-Allow-Methods header for cross-origin requests. Empty: GET, POST and HEAD."))
        .define(key(REST_EXTENSION_CLASSES, List, value(""), Low,
            "REST extension classes, in order. Sluice knows one: org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension, HTTP basic authentication with the users of a JAAS PropertyFileLoginModule (see rest.basic.auth.*). Any other class is an error."))
        .define(key(REST_BASIC_AUTH_JAAS_CONFIG, String, Null, Low,
            "Sluice: path of the JAAS file whose KafkaConnect entry names the users file of basic authentication. Unset: the path given by -Djava.security.auth.login.config= in KAFKA_OPTS, as for Kafka."))
        .define(key(REST_BASIC_AUTH_USERS_FILE, String, Null, Low,
            "Sluice: path of the users file of basic authentication (user=password lines, as read by Kafka's PropertyFileLoginModule), instead of a JAAS file. Needs BasicAuthSecurityRestExtension in rest.extension.classes."))
        .define(key("response.http.headers.config", String, value(""), Low,
            "Rules for extra HTTP response headers of the REST API, as '[action] [name]:[value]' separated by commas."))
        .define(key("ssl.client.auth", String, value("none"), Low,
            "Whether https:// listeners ask for client certificates: required, requested or none.")
            .validator(Validator::one_of(&["required", "requested", "none"])))
        .define(key("plugin.path", List, Null, Low,
            "Directories holding plugins. Sluice's plugins are built in, so this is accepted for compatibility and otherwise unused."))
        .define(key("plugin.discovery", String, value("hybrid_warn"), Low,
            "How plugins are discovered: only_scan, hybrid_warn, hybrid_fail or service_load. Accepted for compatibility; Sluice's plugins are built in.")
            .validator(Validator::one_of_ignore_case(&["only_scan", "hybrid_warn", "hybrid_fail", "service_load"])))
        .define(key(CONFIG_PROVIDERS, List, value(""), Low,
            "Names of the config providers that resolve ${name:path:key} references, each set up with config.providers.NAME.class and config.providers.NAME.param.*."))
        .define(key("connector.client.config.override.policy", String, value("All"), Medium,
            "Which client settings connectors may override with producer.override.*, consumer.override.* and admin.override.*: All, None or Principal.")
            .validator(Validator::one_of_ignore_case(OVERRIDE_POLICIES)))
        .define(key("metrics.sample.window.ms", Long, value("30000"), Low,
            "Time window over which metric samples are computed.")
            .validator(Validator::at_least(0.0)))
        .define(key("metrics.num.samples", Int, value("2"), Low,
            "Number of samples kept to compute metrics.")
            .validator(Validator::at_least(1.0)))
        .define(key("metrics.recording.level", String, value("INFO"), Low,
            "Highest recording level of metrics: INFO or DEBUG.")
            .validator(Validator::one_of(&["INFO", "DEBUG"])))
        .define(key("metric.reporters", List, value(""), Low,
            "Metric reporter classes. Sluice exposes its metrics itself; accepted for compatibility."))
        .define(key("topic.creation.enable", Boolean, value("true"), Low,
            "Whether source connectors may create their topics with the settings in their topic.creation.* configuration."))
        .define(key("topic.tracking.enable", Boolean, value("true"), Low,
            "Whether the worker records which topics each connector uses (GET /connectors/NAME/topics)."))
        .define(key("topic.tracking.allow.reset", Boolean, value("true"), Low,
            "Whether users may clear a connector's recorded topics (PUT /connectors/NAME/topics/reset)."));

    match mode {
        Mode::Standalone => common.define(key("offset.storage.file.filename", String, Required, High,
            "File in which a standalone worker keeps the offsets of its source connectors.")),
        Mode::Distributed => common
            .define(key("group.id", String, Required, High,
                "Name of the Connect cluster this worker belongs to; workers with the same group.id share connectors and tasks."))
            .define(key("session.timeout.ms", Int, value("10000"), High,
                "How long the group waits without heartbeats before it drops a worker and rebalances."))
            .define(key("heartbeat.interval.ms", Int, value("3000"), High,
                "How often a worker sends heartbeats to the group coordinator; well below session.timeout.ms."))
            .define(key("rebalance.timeout.ms", Int, value("60000"), High,
                "How long each worker may take to rejoin the group during a rebalance, including flushing and committing."))
            .define(key("worker.sync.timeout.ms", Int, value("3000"), Medium,
                "How long a worker waits to catch up with the config topic before giving up its work and rejoining."))
            .define(key("worker.unsync.backoff.ms", Int, value("300000"), Medium,
                "How long a worker that failed to catch up waits before rejoining the group."))
            .define(key("config.storage.topic", String, Required, High,
                "Topic holding connector and task configurations."))
            .define(key("config.storage.replication.factor", Short, value("3"), Low,
                "Replication factor of the config topic when the worker creates it; -1 for the broker's default.")
                .validator(positive_or_broker_default()))
            .define(key("offset.storage.topic", String, Required, High,
                "Topic holding source connector offsets."))
            .define(key("offset.storage.partitions", Int, value("25"), Low,
                "Partitions of the offsets topic when the worker creates it; -1 for the broker's default.")
                .validator(positive_or_broker_default()))
            .define(key("offset.storage.replication.factor", Short, value("3"), Low,
                "Replication factor of the offsets topic when the worker creates it; -1 for the broker's default.")
                .validator(positive_or_broker_default()))
            .define(key("status.storage.topic", String, Required, High,
                "Topic holding connector and task statuses."))
            .define(key("status.storage.partitions", Int, value("5"), Low,
                "Partitions of the status topic when the worker creates it; -1 for the broker's default.")
                .validator(positive_or_broker_default()))
            .define(key("status.storage.replication.factor", Short, value("3"), Low,
                "Replication factor of the status topic when the worker creates it; -1 for the broker's default.")
                .validator(positive_or_broker_default()))
            .define(key("connect.protocol", String, value("sessioned"), Low,
                "Group protocol: eager (stop everything on each rebalance), compatible (incremental) or sessioned (incremental, with signed internal requests).")
                .validator(Validator::one_of_ignore_case(&["eager", "compatible", "sessioned"])))
            // Kafka waits 5 minutes; Sluice restarts in milliseconds, so 5 s covers a rolling
            // restart while a dead worker's tasks run elsewhere within seconds.
            .define(key("scheduled.rebalance.max.delay.ms", Int, value("5000"), Low,
                "How long the group waits for a departed worker to return before its connectors and tasks are given to others. Sluice's default is 5000 ms (Kafka's is 300000): long enough for a rolling restart of a worker, short enough that a crashed worker's tasks run elsewhere within seconds.")
                .validator(Validator::between(0.0, f64::from(i32::MAX))))
            .define(key("inter.worker.key.generation.algorithm", String, value("HmacSHA256"), Low,
                "Algorithm of the key that signs requests between workers."))
            .define(key("inter.worker.key.size", Int, Null, Low,
                "Size in bits of the key that signs requests between workers; unset: the algorithm's default."))
            .define(key("inter.worker.key.ttl.ms", Int, value("3600000"), Low,
                "How long a signing key is used before the leader makes a new one.")
                .validator(Validator::between(0.0, f64::from(i32::MAX))))
            .define(key("inter.worker.signature.algorithm", String, value("HmacSHA256"), Low,
                "Algorithm used to sign requests between workers."))
            .define(key("inter.worker.verification.algorithms", List, value("HmacSHA256"), Low,
                "Algorithms accepted when checking the signature of requests between workers."))
            .define(key("exactly.once.source.support", String, value("disabled"), High,
                "Exactly-once delivery for source connectors: disabled, preparing (for a rolling upgrade) or enabled.")
                .validator(Validator::one_of(&["disabled", "preparing", "enabled"])))
            .define(key("client.id", String, value(""), Low,
                "Client id of the worker's own Kafka clients, shown in broker logs and quotas."))
            .define(key("security.protocol", String, value("PLAINTEXT"), Medium,
                "Protocol of the worker's own Kafka clients: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.")
                .validator(Validator::one_of_ignore_case(&["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"])))
            .define(key("metadata.max.age.ms", Long, value("300000"), Low,
                "How often the worker's clients refresh cluster metadata.")
                .validator(Validator::at_least(0.0)))
            .define(key("request.timeout.ms", Int, value("40000"), Medium,
                "How long the worker's clients wait for a broker's answer.")
                .validator(Validator::at_least(0.0)))
            .define(key("retry.backoff.ms", Long, value("100"), Low,
                "Wait before the worker's clients retry a failed request.")
                .validator(Validator::at_least(0.0)))
            .define(key("reconnect.backoff.ms", Long, value("50"), Low,
                "Wait before the worker's clients reconnect to a broker.")
                .validator(Validator::at_least(0.0)))
            .define(key("reconnect.backoff.max.ms", Long, value("1000"), Low,
                "Longest wait between reconnection attempts of the worker's clients.")
                .validator(Validator::at_least(0.0)))
            .define(key("connections.max.idle.ms", Long, value("540000"), Medium,
                "Idle connections of the worker's clients are closed after this long.")),
    }
}

/// One REST listener URL.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listener {
    /// `http` or `https`, lower-case.
    scheme: String,
    /// Host without IPv6 brackets; may be empty.
    host: String,
    port: u16,
}

impl Listener {
    fn parse(url: &str) -> Result<Self, String> {
        let url = url.trim();
        let bad = || format!("expected a URL like http://host:8083, got '{url}'");
        let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(format!(
                "unsupported protocol '{scheme}' in '{url}' (http or https)"
            ));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        let (host, port) = if let Some(bracketed) = authority.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']').ok_or_else(bad)?;
            (host, after.strip_prefix(':').ok_or_else(bad)?)
        } else {
            authority.rsplit_once(':').ok_or_else(bad)?
        };
        let port = port.parse::<u16>().map_err(|_| bad())?;
        Ok(Self {
            scheme,
            host: host.to_owned(),
            port,
        })
    }

    fn bind_addr(&self) -> Result<SocketAddr, String> {
        if self.host.is_empty() {
            return Ok(SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                self.port,
            ));
        }
        if let Ok(ip) = self.host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, self.port));
        }
        (self.host.as_str(), self.port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addrs| addrs.next())
            .ok_or_else(|| format!("could not resolve the listener host '{}'", self.host))
    }
}

/// The protocol of a REST listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListenerScheme {
    /// Plain HTTP.
    Http,
    /// HTTP over TLS.
    Https,
}

impl ListenerScheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

impl fmt::Display for ListenerScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One REST listener of `listeners` or `admin.listeners`, its host resolved to the address the
/// server binds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestListener {
    scheme: ListenerScheme,
    host: String,
    port: u16,
    bind_addr: SocketAddr,
}

impl RestListener {
    fn resolve(listener: &Listener) -> Result<Self, String> {
        let scheme = if listener.scheme == "https" {
            ListenerScheme::Https
        } else {
            ListenerScheme::Http
        };
        Ok(Self {
            scheme,
            host: listener.host.clone(),
            port: listener.port,
            bind_addr: listener.bind_addr()?,
        })
    }

    /// http or https.
    pub fn scheme(&self) -> ListenerScheme {
        self.scheme
    }

    /// The host as configured, without IPv6 brackets; empty for all interfaces.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port as configured (0: any free port).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where the server binds (an empty host is 0.0.0.0).
    pub fn bind_addr(&self) -> SocketAddr {
        self.bind_addr
    }

    /// The listener as a URL, `scheme://host:port`, as it would be written in `listeners`.
    pub fn url(&self) -> String {
        format!("{}://{}:{}", self.scheme, url_host(&self.host), self.port)
    }
}

/// Parses and resolves the URLs of a listener list, skipping empty entries as Kafka does.
fn resolve_listeners(urls: &[String]) -> Result<Vec<RestListener>, String> {
    urls.iter()
        .map(|url| url.trim())
        .filter(|url| !url.is_empty())
        .map(|url| Listener::parse(url).and_then(|l| RestListener::resolve(&l)))
        .collect()
}

/// A host as it appears in a URL: IPv6 addresses in brackets.
fn url_host(host: &str) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]")
    } else {
        host.to_owned()
    }
}

/// This machine's host name, for the advertised URL when nothing better is configured.
fn machine_hostname() -> String {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_owned())
        .chain(std::env::var("HOSTNAME").ok())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The worker configuration: the properties file with `CONNECT_*` overrides on top, provider
/// references resolved, checked and parsed by [`worker_config_def`].
#[derive(Clone)]
pub struct WorkerConfig {
    mode: Mode,
    file_name: String,
    raw_props: Props,
    props: Props,
    config: Config,
    providers: ConfigProviders,
    scrubber: Scrubber,
    secrets: Vec<String>,
    from_env: BTreeMap<String, String>,
    bootstrap_servers: String,
    listeners: Vec<RestListener>,
    admin_listeners: Option<Vec<RestListener>>,
    rest_bind_addr: SocketAddr,
    advertised_scheme: String,
    advertised_host: String,
    advertised_port: u16,
    unknown_keys: Vec<String>,
}

impl fmt::Debug for WorkerConfig {
    // Values may be secrets: show keys only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerConfig")
            .field("mode", &self.mode)
            .field("file", &self.file_name)
            .field("keys", &self.props.keys().collect::<Vec<_>>())
            .field("providers", &self.providers)
            .finish_non_exhaustive()
    }
}

impl WorkerConfig {
    /// Reads `path` and this process's `CONNECT_*` variables (which win), resolves provider
    /// references, and checks every setting.
    pub fn load(path: &Path, mode: Mode) -> Result<Self, ConfigError> {
        let file_props = load_properties(path)?;
        Self::from_sources(file_props, &path.display().to_string(), process_env(), mode)
    }

    /// Like [`WorkerConfig::load`] with the file already read: `file_name` is what errors call it,
    /// `env` is the environment (for `CONNECT_*` overrides and the env config provider).
    pub fn from_sources(
        file_props: Props,
        file_name: &str,
        env: Vec<(String, String)>,
        mode: Mode,
    ) -> Result<Self, ConfigError> {
        let mut raw_props = file_props;
        let mut from_env = BTreeMap::new();
        for (key, (var, value)) in env_overrides_with_origin(env.iter().cloned()) {
            if raw_props.contains_key(&key) {
                tracing::debug!("{var} overrides '{key}' from {file_name}");
            }
            raw_props.insert(key.clone(), value);
            from_env.insert(key, var);
        }
        let origin = |key: &str| match from_env.get(key) {
            Some(var) => format!("environment variable {var}"),
            None => file_name.to_owned(),
        };

        let providers = ConfigProviders::build(&raw_props, env, &origin)?;
        // Provider settings configure the providers; resolving them with those same providers
        // would be circular.
        let is_provider_setup =
            |k: &str| k == CONFIG_PROVIDERS || k.starts_with(CONFIG_PROVIDERS_PREFIX);
        let (setup, to_resolve): (Props, Props) = raw_props
            .clone()
            .into_iter()
            .partition(|(k, _)| is_provider_setup(k));
        let resolved = providers.resolve(&to_resolve).map_err(|e| match e {
            ConfigError::Provider { ref key, .. } => ConfigError::Invalid {
                origin: origin(key),
                key: key.clone(),
                message: e.to_string(),
            },
            other => other,
        })?;
        let scrubber = Scrubber::new(resolved.secrets.iter().cloned());
        let mut props = resolved.props;
        props.extend(setup);

        let def = worker_config_def(mode);
        let invalid = |key: &str, message: &str| {
            let mut message = scrubber.scrub(message);
            let origin = if props.contains_key(key) {
                origin(key)
            } else {
                if let Some(var) = env_var_for_key(key) {
                    message.push_str(&format!(
                        " Set it in {file_name} or with the environment variable {var}."
                    ));
                }
                file_name.to_owned()
            };
            ConfigError::Invalid {
                origin,
                key: key.to_owned(),
                message,
            }
        };
        if let Some((key, message)) = def
            .validate(&props)
            .into_iter()
            .find_map(|v| v.errors.first().map(|e| (v.name.clone(), e.clone())))
        {
            return Err(invalid(&key, &message));
        }
        let config = def.parse(&props).map_err(|e| ConfigError::Invalid {
            origin: file_name.to_owned(),
            key: String::new(),
            message: scrubber.scrub(&e.to_string()),
        })?;

        let bootstrap_servers = config.list(BOOTSTRAP_SERVERS).join(",");

        // `listeners` when given; otherwise the pre-1.1 rest.host.name/rest.port if either is set
        // (the Confluent image sets CONNECT_REST_PORT); otherwise the default http://:8083.
        let (listeners_key, listeners) = if props.contains_key(LISTENERS) {
            (LISTENERS, config.list(LISTENERS))
        } else if props.contains_key(REST_HOST_NAME) || props.contains_key(REST_PORT) {
            let host = config.string(REST_HOST_NAME).unwrap_or_default();
            let port = config.int(REST_PORT).unwrap_or(8083);
            let key = if props.contains_key(REST_PORT) {
                REST_PORT
            } else {
                REST_HOST_NAME
            };
            (key, vec![format!("http://{}:{port}", url_host(host))])
        } else {
            (LISTENERS, vec![DEFAULT_LISTENER.to_owned()])
        };
        let parsed = resolve_listeners(&listeners).map_err(|e| {
            invalid(
                listeners_key,
                &format!("Invalid value for configuration {listeners_key}: {e}"),
            )
        })?;
        // Kafka advertises http when any listener is http, https otherwise, with the host and
        // port of the first listener of that protocol.
        let wanted_scheme = match config.string(REST_ADVERTISED_LISTENER) {
            Some(s) if s.eq_ignore_ascii_case("https") => ListenerScheme::Https,
            Some(_) => ListenerScheme::Http,
            None if parsed.iter().any(|l| l.scheme == ListenerScheme::Http) => ListenerScheme::Http,
            None => ListenerScheme::Https,
        };
        let listener = parsed
            .iter()
            .find(|l| l.scheme == wanted_scheme)
            .or_else(|| parsed.first())
            .ok_or_else(|| {
                invalid(
                    listeners_key,
                    &format!("Invalid value for {listeners_key}, at least one URL is expected, ex: http://localhost:8080,https://localhost:8443."),
                )
            })?;
        let rest_bind_addr = listener.bind_addr;
        let admin_listeners = if props.contains_key(ADMIN_LISTENERS) {
            Some(
                resolve_listeners(&config.list(ADMIN_LISTENERS)).map_err(|e| {
                    invalid(
                        ADMIN_LISTENERS,
                        &format!("Invalid value for configuration {ADMIN_LISTENERS}: {e}"),
                    )
                })?,
            )
        } else {
            None
        };

        let advertised_scheme = wanted_scheme.as_str().to_owned();
        let advertised_host = match config
            .string(REST_ADVERTISED_HOST_NAME)
            .filter(|h| !h.is_empty())
        {
            Some(host) => host.to_owned(),
            // A wildcard address reaches nobody from another machine: advertise the host name.
            None if listener.host.is_empty()
                || listener
                    .host
                    .parse::<IpAddr>()
                    .is_ok_and(|ip| ip.is_unspecified()) =>
            {
                machine_hostname()
            }
            None => listener.host.clone(),
        };
        let advertised_port = config
            .int(REST_ADVERTISED_PORT)
            .and_then(|p| u16::try_from(p).ok())
            .unwrap_or(listener.port);

        let unknown_keys = unknown_keys(&def, mode, &props);
        for key in &unknown_keys {
            let source = from_env
                .get(key)
                .map(|var| format!(" (from {var})"))
                .unwrap_or_default();
            if REMOVED_INTERNAL_CONVERTERS
                .iter()
                .any(|r| key == r || key.starts_with(&format!("{r}.")))
            {
                tracing::warn!(
                    "The configuration '{key}'{source} was removed in Kafka 3.0 and has no effect; internal topics always use JSON without schemas"
                );
            } else {
                tracing::warn!(
                    "The configuration '{key}'{source} was supplied but isn't a known config."
                );
            }
        }

        Ok(Self {
            mode,
            file_name: file_name.to_owned(),
            raw_props,
            props,
            config,
            providers,
            secrets: resolved.secrets,
            scrubber,
            from_env,
            bootstrap_servers,
            listeners: parsed.clone(),
            admin_listeners,
            rest_bind_addr,
            advertised_scheme,
            advertised_host,
            advertised_port,
            unknown_keys,
        })
    }

    /// Standalone or distributed.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The merged properties (file, then environment), with provider references resolved.
    pub fn props(&self) -> &Props {
        &self.props
    }

    /// The merged properties as written, references not resolved (safe to show).
    pub fn raw_props(&self) -> &Props {
        &self.raw_props
    }

    /// The typed view, parsed by [`worker_config_def`].
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// `bootstrap.servers`, items trimmed and joined with commas.
    pub fn bootstrap_servers(&self) -> &str {
        &self.bootstrap_servers
    }

    /// Where the advertised listener binds (see [`WorkerConfig::advertised_url`]; an empty host
    /// is 0.0.0.0).
    pub fn rest_bind_addr(&self) -> SocketAddr {
        self.rest_bind_addr
    }

    /// Every REST listener of `listeners` (or of the legacy `rest.host.name`/`rest.port`), in
    /// order.
    pub fn listeners(&self) -> &[RestListener] {
        &self.listeners
    }

    /// The listeners of `admin.listeners`: `None` when unset (the admin endpoints are served on
    /// [`WorkerConfig::listeners`]), an empty list when set to nothing (not served at all).
    pub fn admin_listeners(&self) -> Option<&[RestListener]> {
        self.admin_listeners.as_deref()
    }

    /// The classes of `rest.extension.classes`, trimmed, in order.
    pub fn rest_extension_classes(&self) -> Vec<String> {
        self.config.list(REST_EXTENSION_CLASSES)
    }

    /// `rest.basic.auth.jaas.config`: the JAAS file naming the basic-auth users file.
    pub fn rest_basic_auth_jaas_config(&self) -> Option<&str> {
        self.config
            .string(REST_BASIC_AUTH_JAAS_CONFIG)
            .filter(|s| !s.trim().is_empty())
    }

    /// `rest.basic.auth.users.file`: the basic-auth users file itself.
    pub fn rest_basic_auth_users_file(&self) -> Option<&str> {
        self.config
            .string(REST_BASIC_AUTH_USERS_FILE)
            .filter(|s| !s.trim().is_empty())
    }

    /// The URL other workers use to reach this one, `scheme://host:port`.
    pub fn advertised_url(&self) -> String {
        format!(
            "{}://{}:{}",
            self.advertised_scheme,
            url_host(&self.advertised_host),
            self.advertised_port
        )
    }

    /// This worker's id: the advertised `host:port`.
    pub fn worker_id(&self) -> String {
        format!(
            "{}:{}",
            url_host(&self.advertised_host),
            self.advertised_port
        )
    }

    /// Settings for one of the worker's Kafka clients: the keys under `prefix` (e.g. `producer.`)
    /// with the prefix removed, on top of the worker's `bootstrap.servers`, the one setting
    /// clients inherit unprefixed.
    pub fn client_props(&self, prefix: &str) -> Props {
        let prefix = if prefix.ends_with('.') {
            prefix.to_owned()
        } else {
            format!("{prefix}.")
        };
        let mut out = Props::new();
        out.insert(BOOTSTRAP_SERVERS.to_owned(), self.bootstrap_servers.clone());
        out.extend(sluice_api::config::strip_prefix(&self.props, &prefix));
        out
    }

    /// The config providers set up by `config.providers`, for resolving connector configurations.
    pub fn providers(&self) -> &ConfigProviders {
        &self.providers
    }

    /// Keys that are neither defined nor under a passed-on prefix (`producer.`, `ssl.`, ...);
    /// each was logged as a warning when the configuration was loaded.
    pub fn unknown_keys(&self) -> Vec<String> {
        self.unknown_keys.clone()
    }

    /// The values that references in the worker properties resolved to.
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// A [`Scrubber`] for the worker properties' resolved secrets.
    pub fn scrubber(&self) -> &Scrubber {
        &self.scrubber
    }

    /// What the worker file was called when loaded.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }

    /// Where a key's value came from: the file name, or `environment variable CONNECT_X`.
    pub fn origin_of(&self, key: &str) -> String {
        match self.from_env.get(key) {
            Some(var) => format!("environment variable {var}"),
            None => self.file_name.clone(),
        }
    }
}

fn unknown_keys(def: &ConfigDef, mode: Mode, props: &Props) -> Vec<String> {
    props
        .keys()
        .filter(|k| def.get(k).is_none())
        .filter(|k| !PASSED_ON_PREFIXES.iter().any(|p| k.starts_with(p)))
        .filter(|k| {
            mode != Mode::Distributed || !INTERNAL_TOPIC_PREFIXES.iter().any(|p| k.starts_with(p))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_listener_urls() {
        let l = Listener::parse("HTTP://myhost:8083").unwrap();
        assert_eq!(
            (l.scheme.as_str(), l.host.as_str(), l.port),
            ("http", "myhost", 8083)
        );
        let l = Listener::parse("http://:8083/").unwrap();
        assert_eq!((l.host.as_str(), l.port), ("", 8083));
        let l = Listener::parse("https://[::1]:8443").unwrap();
        assert_eq!(
            (l.scheme.as_str(), l.host.as_str(), l.port),
            ("https", "::1", 8443)
        );
        assert!(Listener::parse("myhost:8083").is_err());
        assert!(Listener::parse("http://myhost").is_err());
        assert!(Listener::parse("ftp://myhost:21").is_err());
        assert!(Listener::parse("http://myhost:99999").is_err());
    }

    #[test]
    fn bind_addresses() {
        let any = Listener::parse("http://:8083")
            .unwrap()
            .bind_addr()
            .unwrap();
        assert_eq!(any, "0.0.0.0:8083".parse().unwrap());
        let v6 = Listener::parse("http://[::1]:9000")
            .unwrap()
            .bind_addr()
            .unwrap();
        assert_eq!(v6, "[::1]:9000".parse().unwrap());
        let local = Listener::parse("http://localhost:8085")
            .unwrap()
            .bind_addr()
            .unwrap();
        assert!(local.ip().is_loopback() && local.port() == 8085, "{local}");
    }
}

#[cfg(test)]
#[path = "worker_tests.rs"]
mod worker_tests;
