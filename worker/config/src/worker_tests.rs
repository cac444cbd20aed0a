use std::fs;

use super::*;
use crate::test_support::{capture_logs, env, props};

const FILE: &str = "worker.properties";

fn standalone_base() -> Props {
    props(&[
        (
            "key.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        (
            "value.converter",
            "org.apache.kafka.connect.json.JsonConverter",
        ),
        ("offset.storage.file.filename", "/tmp/connect.offsets"),
    ])
}

fn standalone(extra: &[(&str, &str)], vars: &[(&str, &str)]) -> Result<WorkerConfig, ConfigError> {
    let mut p = standalone_base();
    p.extend(props(extra));
    WorkerConfig::from_sources(p, FILE, env(vars), Mode::Standalone)
}

#[test]
fn standalone_defaults() {
    let w = standalone(&[], &[]).unwrap();
    assert_eq!(w.mode(), Mode::Standalone);
    assert_eq!(w.bootstrap_servers(), "localhost:9092");
    let c = w.config();
    assert_eq!(
        c.string("header.converter"),
        Some("org.apache.kafka.connect.storage.SimpleHeaderConverter")
    );
    assert_eq!(c.long("offset.flush.interval.ms"), Some(60000));
    assert_eq!(c.long("offset.flush.timeout.ms"), Some(5000));
    assert_eq!(c.long("task.shutdown.graceful.timeout.ms"), Some(5000));
    assert_eq!(
        c.string("connector.client.config.override.policy"),
        Some("All")
    );
    assert_eq!(c.bool("topic.creation.enable"), Some(true));
    assert_eq!(w.rest_bind_addr(), "0.0.0.0:8083".parse().unwrap());
    assert!(w.unknown_keys().is_empty(), "{:?}", w.unknown_keys());
}

#[test]
fn distributed_defaults_and_required_keys() {
    let mut p = standalone_base();
    p.remove("offset.storage.file.filename");
    p.extend(props(&[
        ("bootstrap.servers", " kafka-1:9092 , kafka-2:9092 "),
        ("group.id", "connect-cluster"),
        ("config.storage.topic", "connect-configs"),
        ("offset.storage.topic", "connect-offsets"),
        ("status.storage.topic", "connect-status"),
        ("offset.storage.replication.factor", "-1"),
        ("config.storage.min.insync.replicas", "2"),
    ]));
    let w = WorkerConfig::from_sources(p.clone(), FILE, Vec::new(), Mode::Distributed).unwrap();
    assert_eq!(w.bootstrap_servers(), "kafka-1:9092,kafka-2:9092");
    let c = w.config();
    assert_eq!(c.int("offset.storage.partitions"), Some(25));
    assert_eq!(c.int("status.storage.partitions"), Some(5));
    assert_eq!(c.int("config.storage.replication.factor"), Some(3));
    assert_eq!(c.int("offset.storage.replication.factor"), Some(-1));
    assert_eq!(c.int("session.timeout.ms"), Some(10000));
    assert_eq!(c.int("heartbeat.interval.ms"), Some(3000));
    assert_eq!(c.int("rebalance.timeout.ms"), Some(60000));
    assert_eq!(c.int("worker.sync.timeout.ms"), Some(3000));
    assert_eq!(c.int("worker.unsync.backoff.ms"), Some(300000));
    // Sluice's default (Kafka: 300000): see the key's documentation.
    assert_eq!(c.int("scheduled.rebalance.max.delay.ms"), Some(5000));
    assert_eq!(c.string("connect.protocol"), Some("sessioned"));
    assert_eq!(c.string("exactly.once.source.support"), Some("disabled"));
    // Topic settings for the internal topics are not unknown keys.
    assert!(w.unknown_keys().is_empty(), "{:?}", w.unknown_keys());

    for required in [
        "group.id",
        "config.storage.topic",
        "offset.storage.topic",
        "status.storage.topic",
    ] {
        let mut missing = p.clone();
        missing.remove(required);
        let err =
            WorkerConfig::from_sources(missing, FILE, Vec::new(), Mode::Distributed).unwrap_err();
        assert_eq!(err.key(), Some(required));
        assert!(
            err.to_string().starts_with(&format!(
                "worker.properties: Missing required configuration \"{required}\" which has no default value."
            )),
            "{err}"
        );
    }

    let mut zero = p.clone();
    zero.insert("status.storage.replication.factor".into(), "0".into());
    let err = WorkerConfig::from_sources(zero, FILE, Vec::new(), Mode::Distributed).unwrap_err();
    assert_eq!(err.key(), Some("status.storage.replication.factor"));
}

#[test]
fn missing_converter_names_key_file_and_variable() {
    let mut p = standalone_base();
    p.remove("key.converter");
    let err = WorkerConfig::from_sources(p, FILE, Vec::new(), Mode::Standalone).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "worker.properties: Missing required configuration \"key.converter\" which has no default value."
        ),
        "{text}"
    );
    assert!(text.contains("CONNECT_KEY_CONVERTER"), "{text}");

    let mut p = standalone_base();
    p.remove("offset.storage.file.filename");
    let err = WorkerConfig::from_sources(p, FILE, Vec::new(), Mode::Standalone).unwrap_err();
    assert_eq!(err.key(), Some("offset.storage.file.filename"));
}

#[test]
fn invalid_values_name_key_and_origin() {
    let err = standalone(&[("rest.port", "eighty")], &[]).unwrap_err();
    assert_eq!(err.key(), Some("rest.port"));
    let text = err.to_string();
    assert!(
        text.starts_with("worker.properties: Invalid value eighty for configuration rest.port"),
        "{text}"
    );

    let err = standalone(&[], &[("CONNECT_OFFSET_FLUSH_INTERVAL_MS", "soon")]).unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with(
            "environment variable CONNECT_OFFSET_FLUSH_INTERVAL_MS: Invalid value soon for configuration offset.flush.interval.ms"
        ),
        "{text}"
    );

    let err = standalone(&[("plugin.discovery", "guess")], &[]).unwrap_err();
    assert_eq!(err.key(), Some("plugin.discovery"));
    let err = standalone(&[("connector.client.config.override.policy", "Some")], &[]).unwrap_err();
    assert_eq!(err.key(), Some("connector.client.config.override.policy"));
}

#[test]
fn environment_wins_over_the_file() {
    let w = standalone(
        &[
            ("bootstrap.servers", "file-kafka:9092"),
            ("offset.flush.interval.ms", "1000"),
        ],
        &[
            ("CONNECT_BOOTSTRAP_SERVERS", "env-kafka:29092"),
            ("CONNECT_PRODUCER_ACKS", "all"),
            ("HOME", "/root"),
        ],
    )
    .unwrap();
    assert_eq!(w.bootstrap_servers(), "env-kafka:29092");
    assert_eq!(w.props()["bootstrap.servers"], "env-kafka:29092");
    assert_eq!(w.config().long("offset.flush.interval.ms"), Some(1000));
    assert_eq!(w.props()["producer.acks"], "all");
    assert_eq!(
        w.origin_of("bootstrap.servers"),
        "environment variable CONNECT_BOOTSTRAP_SERVERS"
    );
    assert_eq!(w.origin_of("offset.flush.interval.ms"), FILE);
}

#[test]
fn unknown_keys_warn_but_do_not_fail() {
    let (w, logs) = capture_logs(|| {
        standalone(
            &[
                ("made.up.setting", "1"),
                ("producer.acks", "all"),
                ("consumer.max.poll.records", "10"),
                ("admin.retries", "1"),
                ("key.converter.schemas.enable", "false"),
                ("value.converter.schemas.enable", "false"),
                ("header.converter.x", "y"),
                ("listeners.https.ssl.keystore.location", "/ks"),
                ("ssl.truststore.location", "/ts"),
                (
                    "internal.key.converter",
                    "org.apache.kafka.connect.json.JsonConverter",
                ),
            ],
            &[("CONNECT_GROUP_ID", "g")],
        )
        .unwrap()
    });
    assert_eq!(
        w.unknown_keys(),
        vec!["group.id", "internal.key.converter", "made.up.setting"]
    );
    assert!(
        logs.contains("The configuration 'made.up.setting' was supplied but isn't a known config."),
        "{logs}"
    );
    assert!(
        logs.contains("'group.id' (from CONNECT_GROUP_ID)"),
        "{logs}"
    );
    assert!(
        logs.contains("'internal.key.converter'") && logs.contains("no effect"),
        "{logs}"
    );
    assert!(!logs.contains("producer.acks"), "{logs}");
}

#[test]
fn worker_properties_resolve_their_own_references() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("worker-secrets.properties");
    fs::write(&secrets, "sasl.password=w0rker-s3cret\nport=8090\n").unwrap();
    let s = secrets.display();
    // Provider setup from the environment, as the Confluent image does it for socksort.
    let w = standalone(
        &[
            (
                "producer.sasl.jaas.config",
                &format!("password=\"${{file:{s}:sasl.password}}\";"),
            ),
            ("rest.port", &format!("${{file:{s}:port}}")),
            ("consumer.client.id", "${env:CLIENT_ID}"),
        ],
        &[
            ("CONNECT_CONFIG_PROVIDERS", "file,env"),
            (
                "CONNECT_CONFIG_PROVIDERS_FILE_CLASS",
                "org.apache.kafka.common.config.provider.FileConfigProvider",
            ),
            ("CONNECT_CONFIG_PROVIDERS_ENV_CLASS", "EnvVarConfigProvider"),
            ("CLIENT_ID", "sluice-1"),
        ],
    )
    .unwrap();
    assert_eq!(
        w.props()["producer.sasl.jaas.config"],
        "password=\"w0rker-s3cret\";"
    );
    assert_eq!(w.config().int("rest.port"), Some(8090));
    assert_eq!(w.rest_bind_addr(), "0.0.0.0:8090".parse().unwrap());
    assert_eq!(w.client_props("consumer.")["client.id"], "sluice-1");
    assert_eq!(w.providers().names(), vec!["env", "file"]);
    assert!(w.raw_props()["rest.port"].starts_with("${file:"));
    assert!(w.secrets().contains(&"w0rker-s3cret".to_owned()));
    assert_eq!(w.scrubber().scrub("pw=w0rker-s3cret"), "pw=[hidden]");
    let debug = format!("{w:?}");
    assert!(!debug.contains("w0rker-s3cret"), "{debug}");
}

#[test]
fn errors_never_show_a_resolved_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("s.properties");
    fs::write(&secrets, "port=not-a-port-s3cret\n").unwrap();
    let err = standalone(
        &[
            ("config.providers", "file"),
            ("config.providers.file.class", "file"),
            (
                "rest.port",
                &format!("${{file:{}:port}}", secrets.display()),
            ),
        ],
        &[],
    )
    .unwrap_err();
    let text = err.to_string();
    assert_eq!(err.key(), Some("rest.port"));
    assert!(text.contains("[hidden]"), "{text}");
    assert!(!text.contains("not-a-port-s3cret"), "{text}");

    let err = standalone(
        &[
            ("config.providers", "file"),
            ("config.providers.file.class", "file"),
            (
                "producer.sasl.jaas.config",
                "${file:/nonexistent/x.properties:pw}",
            ),
        ],
        &[],
    )
    .unwrap_err();
    let text = err.to_string();
    assert!(
        text.starts_with("worker.properties: Could not resolve the config provider reference in \"producer.sasl.jaas.config\""),
        "{text}"
    );
}

#[test]
fn provider_setup_errors_name_the_key() {
    let err = standalone(
        &[],
        &[
            ("CONNECT_CONFIG_PROVIDERS", "vault"),
            ("CONNECT_CONFIG_PROVIDERS_VAULT_CLASS", "Vault"),
        ],
    )
    .unwrap_err();
    assert_eq!(err.key(), Some("config.providers.vault.class"));
    assert!(
        err.to_string()
            .starts_with("environment variable CONNECT_CONFIG_PROVIDERS_VAULT_CLASS:"),
        "{err}"
    );
}

#[test]
fn listeners_bind_and_advertise() {
    let w = standalone(&[("listeners", "http://127.0.0.1:9090")], &[]).unwrap();
    assert_eq!(w.rest_bind_addr(), "127.0.0.1:9090".parse().unwrap());
    assert_eq!(w.advertised_url(), "http://127.0.0.1:9090");
    assert_eq!(w.worker_id(), "127.0.0.1:9090");

    // The first http listener is served.
    let w = standalone(&[("listeners", "https://:8443, HTTP://[::1]:8083")], &[]).unwrap();
    assert_eq!(w.rest_bind_addr(), "[::1]:8083".parse().unwrap());
    assert_eq!(w.advertised_url(), "http://[::1]:8083");

    let w = standalone(
        &[
            ("listeners", "http://:8083"),
            ("rest.advertised.host.name", "connect-1"),
            ("rest.advertised.port", "18083"),
            ("rest.advertised.listener", "HTTPS"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(w.rest_bind_addr(), "0.0.0.0:8083".parse().unwrap());
    assert_eq!(w.advertised_url(), "https://connect-1:18083");
    assert_eq!(w.worker_id(), "connect-1:18083");

    // An empty host advertises the machine's host name.
    let w = standalone(&[], &[]).unwrap();
    assert_eq!(
        w.advertised_url(),
        format!("http://{}:8083", machine_hostname())
    );
    assert_eq!(w.worker_id(), format!("{}:8083", machine_hostname()));

    // Only https listeners: https is advertised.
    let w = standalone(&[("listeners", "https://127.0.0.1:8443")], &[]).unwrap();
    assert_eq!(w.rest_bind_addr(), "127.0.0.1:8443".parse().unwrap());
    assert_eq!(w.advertised_url(), "https://127.0.0.1:8443");

    let err = standalone(&[("listeners", "myhost:8083")], &[]).unwrap_err();
    assert_eq!(err.key(), Some("listeners"));
    assert!(err.to_string().contains("myhost:8083"), "{err}");
    let err = standalone(&[("listeners", "")], &[]).unwrap_err();
    assert_eq!(err.key(), Some("listeners"));
}

#[test]
fn every_listener_and_the_admin_listeners() {
    let w = standalone(
        &[(
            "listeners",
            "http://:8083, https://127.0.0.1:8443,HTTPS://[::1]:9443",
        )],
        &[],
    )
    .unwrap();
    let listeners: Vec<(ListenerScheme, String, SocketAddr)> = w
        .listeners()
        .iter()
        .map(|l| (l.scheme(), l.url(), l.bind_addr()))
        .collect();
    assert_eq!(
        listeners,
        vec![
            (
                ListenerScheme::Http,
                "http://:8083".to_owned(),
                "0.0.0.0:8083".parse().unwrap()
            ),
            (
                ListenerScheme::Https,
                "https://127.0.0.1:8443".to_owned(),
                "127.0.0.1:8443".parse().unwrap()
            ),
            (
                ListenerScheme::Https,
                "https://[::1]:9443".to_owned(),
                "[::1]:9443".parse().unwrap()
            ),
        ]
    );
    // Unset: the admin endpoints stay on the main listeners.
    assert!(w.admin_listeners().is_none());

    // Set but empty: admin endpoints disabled.
    let w = standalone(&[("admin.listeners", "")], &[]).unwrap();
    assert_eq!(w.admin_listeners().map(<[_]>::len), Some(0));

    let w = standalone(
        &[(
            "admin.listeners",
            "http://127.0.0.1:9093,https://localhost:9094",
        )],
        &[],
    )
    .unwrap();
    let admin: Vec<String> = w
        .admin_listeners()
        .unwrap()
        .iter()
        .map(RestListener::url)
        .collect();
    assert_eq!(admin, ["http://127.0.0.1:9093", "https://localhost:9094"]);

    let err = standalone(&[("admin.listeners", "tcp://:1")], &[]).unwrap_err();
    assert_eq!(err.key(), Some("admin.listeners"));
}

#[test]
fn basic_auth_settings() {
    let w = standalone(&[], &[]).unwrap();
    assert!(w.rest_extension_classes().is_empty());
    assert_eq!(w.rest_basic_auth_jaas_config(), None);
    assert_eq!(w.rest_basic_auth_users_file(), None);
    let w = standalone(
        &[
            (
                "rest.extension.classes",
                &format!(" {BASIC_AUTH_EXTENSION_CLASS} "),
            ),
            ("rest.basic.auth.jaas.config", "/etc/connect/jaas.conf"),
            (
                "rest.basic.auth.users.file",
                "/etc/connect/users.properties",
            ),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(w.rest_extension_classes(), [BASIC_AUTH_EXTENSION_CLASS]);
    assert_eq!(
        w.rest_basic_auth_jaas_config(),
        Some("/etc/connect/jaas.conf")
    );
    assert_eq!(
        w.rest_basic_auth_users_file(),
        Some("/etc/connect/users.properties")
    );
    assert!(w.unknown_keys().is_empty(), "{:?}", w.unknown_keys());
}

#[test]
fn legacy_rest_host_and_port() {
    let w = standalone(
        &[("rest.host.name", "127.0.0.1"), ("rest.port", "8084")],
        &[],
    )
    .unwrap();
    assert_eq!(w.rest_bind_addr(), "127.0.0.1:8084".parse().unwrap());
    assert_eq!(w.advertised_url(), "http://127.0.0.1:8084");

    // The Confluent image always sets CONNECT_REST_PORT.
    let w = standalone(
        &[],
        &[
            ("CONNECT_REST_PORT", "8085"),
            ("CONNECT_REST_ADVERTISED_HOST_NAME", "connect"),
        ],
    )
    .unwrap();
    assert_eq!(w.rest_bind_addr(), "0.0.0.0:8085".parse().unwrap());
    assert_eq!(w.worker_id(), "connect:8085");

    // `listeners` wins over the legacy settings.
    let w = standalone(
        &[
            ("listeners", "http://127.0.0.1:9999"),
            ("rest.port", "8084"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(w.rest_bind_addr().port(), 9999);
}

#[test]
fn client_props_strip_the_prefix_and_inherit_bootstrap_servers() {
    let w = standalone(
        &[
            ("bootstrap.servers", "kafka:9092"),
            ("producer.acks", "all"),
            ("producer.linger.ms", "5"),
            ("consumer.bootstrap.servers", "other:9092"),
            ("security.protocol", "SSL"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        w.client_props("producer."),
        props(&[
            ("bootstrap.servers", "kafka:9092"),
            ("acks", "all"),
            ("linger.ms", "5")
        ])
    );
    assert_eq!(
        w.client_props("consumer"),
        props(&[("bootstrap.servers", "other:9092")])
    );
    assert_eq!(
        w.client_props("admin."),
        props(&[("bootstrap.servers", "kafka:9092")])
    );
}

#[test]
fn load_reads_the_file_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("connect-standalone.properties");
    fs::write(
        &path,
        "bootstrap.servers=localhost:9092\n\
         key.converter=org.apache.kafka.connect.json.JsonConverter\n\
         value.converter=org.apache.kafka.connect.json.JsonConverter\n\
         key.converter.schemas.enable=true\n\
         offset.storage.file.filename=/tmp/connect.offsets\n\
         offset.flush.interval.ms=10000\n\
         listeners=http://127.0.0.1:18083\n",
    )
    .unwrap();
    let w = WorkerConfig::load(&path, Mode::Standalone).unwrap();
    assert_eq!(w.config().long("offset.flush.interval.ms"), Some(10000));
    assert_eq!(w.props()["key.converter.schemas.enable"], "true");
    assert_eq!(w.file_name(), path.display().to_string());

    fs::write(&path, "bootstrap.servers=localhost:9092\n").unwrap();
    let err = WorkerConfig::load(&path, Mode::Standalone).unwrap_err();
    assert!(
        err.to_string().starts_with(&format!(
            "{}: Missing required configuration",
            path.display()
        )),
        "{err}"
    );
}

#[test]
fn every_key_has_documentation() {
    for mode in [Mode::Standalone, Mode::Distributed] {
        let def = worker_config_def(mode);
        assert!(def.keys().len() > 30, "{mode}: {}", def.keys().len());
        for k in def.keys() {
            assert!(
                !k.documentation.is_empty(),
                "{} has no documentation",
                k.name
            );
        }
    }
    let standalone = worker_config_def(Mode::Standalone);
    assert!(standalone.get("offset.storage.file.filename").is_some());
    assert!(standalone.get("group.id").is_none());
    let distributed = worker_config_def(Mode::Distributed);
    assert!(distributed.get("group.id").is_some_and(|k| k.is_required()));
    assert!(distributed.get("offset.storage.file.filename").is_none());
}
