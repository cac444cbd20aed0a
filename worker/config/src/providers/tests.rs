use std::fs;

use super::*;
use crate::test_support::{capture_logs, env, props};

const SECRET: &str = "somepassword";

/// A secrets directory with the socksort credentials file.
fn secrets_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("credentials.properties"),
        format!(
            "MQTT_URI=tcp://something.example.com:14437\nMQTT_USERNAME=someuser\nMQTT_PASSWORD={SECRET}\n"
        ),
    )
    .unwrap();
    dir
}

fn file_provider(extra: &[(&str, &str)]) -> ConfigProviders {
    let mut p = props(&[
        ("config.providers", "file"),
        (
            "config.providers.file.class",
            "org.apache.kafka.common.config.provider.FileConfigProvider",
        ),
    ]);
    p.extend(props(extra));
    ConfigProviders::from_worker_props_with_env(&p, Vec::new()).unwrap()
}

#[test]
fn placeholder_detection() {
    assert!(has_placeholder("${file:/a/b.properties:key}"));
    assert!(has_placeholder("x ${env:HOME} y"));
    assert!(!has_placeholder("${nocolon}"));
    assert!(!has_placeholder("$file:/a:b"));
    assert!(!has_placeholder("plain"));
}

#[test]
fn file_provider_resolves_like_the_socksort_demo() {
    let dir = secrets_dir();
    let creds = dir.path().join("credentials.properties");
    let creds = creds.display();
    let providers = file_provider(&[]);
    let connector = props(&[
        ("mqtt.server.uri", &format!("${{file:{creds}:MQTT_URI}}")),
        ("mqtt.username", &format!("${{file:{creds}:MQTT_USERNAME}}")),
        (
            "mqtt.password",
            &format!("prefix-${{file:{creds}:MQTT_PASSWORD}}-suffix"),
        ),
        ("tasks.max", "1"),
    ]);
    let r = providers.resolve(&connector).unwrap();
    assert_eq!(
        r.props["mqtt.server.uri"],
        "tcp://something.example.com:14437"
    );
    assert_eq!(r.props["mqtt.username"], "someuser");
    assert_eq!(r.props["mqtt.password"], format!("prefix-{SECRET}-suffix"));
    assert_eq!(r.props["tasks.max"], "1");
    assert_eq!(
        r.keys_with_placeholders.iter().collect::<Vec<_>>(),
        vec!["mqtt.password", "mqtt.server.uri", "mqtt.username"]
    );
    let mut secrets = r.secrets.clone();
    secrets.sort();
    assert_eq!(
        secrets,
        vec![SECRET, "someuser", "tcp://something.example.com:14437"]
    );
    let debug = format!("{r:?}");
    assert!(!debug.contains(SECRET), "{debug}");
}

#[test]
fn accepts_kafka_simple_and_short_class_names() {
    for (class, kind) in [
        (FILE_CLASS, ProviderKind::File),
        ("FileConfigProvider", ProviderKind::File),
        ("file", ProviderKind::File),
        (DIRECTORY_CLASS, ProviderKind::Directory),
        ("DirectoryConfigProvider", ProviderKind::Directory),
        ("directory", ProviderKind::Directory),
        (ENV_CLASS, ProviderKind::EnvVar),
        ("EnvVarConfigProvider", ProviderKind::EnvVar),
        ("env", ProviderKind::EnvVar),
    ] {
        let p = props(&[
            ("config.providers", " x "),
            ("config.providers.x.class", class),
        ]);
        let providers = ConfigProviders::from_worker_props_with_env(&p, Vec::new()).unwrap();
        assert_eq!(providers.kind("x"), Some(kind), "{class}");
        assert_eq!(providers.names(), vec!["x"]);
    }
}

#[test]
fn unknown_or_missing_class_names_the_key() {
    let p = props(&[
        ("config.providers", "vault"),
        (
            "config.providers.vault.class",
            "com.example.VaultConfigProvider",
        ),
    ]);
    let err = ConfigProviders::from_worker_props_with_env(&p, Vec::new()).unwrap_err();
    assert_eq!(err.key(), Some("config.providers.vault.class"));
    assert!(
        err.to_string().contains("com.example.VaultConfigProvider"),
        "{err}"
    );

    let p = props(&[("config.providers", "file")]);
    let err = ConfigProviders::from_worker_props_with_env(&p, Vec::new()).unwrap_err();
    assert_eq!(err.key(), Some("config.providers.file.class"));
}

#[test]
fn missing_key_is_left_verbatim_with_a_warning_naming_the_reference() {
    let dir = secrets_dir();
    let creds = dir.path().join("credentials.properties");
    let providers = file_provider(&[]);
    let reference = format!("${{file:{}:NO_SUCH_KEY}}", creds.display());
    let connector = props(&[
        ("a", &reference),
        ("b", &format!("${{file:{}:MQTT_PASSWORD}}", creds.display())),
    ]);
    let (r, logs) = capture_logs(|| providers.resolve(&connector).unwrap());
    assert_eq!(r.props["a"], reference);
    assert_eq!(r.props["b"], SECRET);
    assert!(r.keys_with_placeholders.contains("a"));
    assert!(logs.contains(&reference) && logs.contains("'a'"), "{logs}");
    assert!(!logs.contains(SECRET), "{logs}");
}

#[test]
fn unconfigured_provider_is_left_verbatim() {
    let providers = ConfigProviders::none();
    let connector = props(&[("pw", "${vault:secret/db:password}")]);
    let (r, logs) = capture_logs(|| providers.resolve(&connector).unwrap());
    assert_eq!(r.props["pw"], "${vault:secret/db:password}");
    assert!(r.secrets.is_empty());
    assert!(logs.contains("'vault'"), "{logs}");
}

#[test]
fn unreadable_file_names_the_key_not_other_values() {
    let dir = secrets_dir();
    let creds = dir.path().join("credentials.properties");
    let providers = file_provider(&[]);
    let connector = props(&[
        (
            "a.ok",
            &format!("${{file:{}:MQTT_PASSWORD}}", creds.display()),
        ),
        ("b.broken", "${file:/nonexistent/secrets.properties:x}"),
    ]);
    let err = providers.resolve(&connector).unwrap_err();
    assert_eq!(err.key(), Some("b.broken"));
    let text = err.to_string();
    assert!(
        text.contains("\"b.broken\"") && text.contains("/nonexistent/secrets.properties"),
        "{text}"
    );
    assert!(!text.contains(SECRET), "{text}");
}

#[test]
fn allowed_paths_rejects_outside_and_dot_dot_escapes() {
    let allowed = secrets_dir();
    let other = secrets_dir();
    let providers = file_provider(&[(
        "config.providers.file.param.allowed.paths",
        &allowed.path().display().to_string(),
    )]);
    let inside = format!(
        "${{file:{}:MQTT_PASSWORD}}",
        allowed.path().join("credentials.properties").display()
    );
    assert_eq!(
        providers.resolve(&props(&[("k", &inside)])).unwrap().props["k"],
        SECRET
    );
    // The same file reached through `.` and a `..` that stays inside is fine.
    let roundabout = format!(
        "${{file:{}/./sub/../credentials.properties:MQTT_PASSWORD}}",
        allowed.path().display()
    );
    assert_eq!(
        providers
            .resolve(&props(&[("k", &roundabout)]))
            .unwrap()
            .props["k"],
        SECRET
    );

    let outside = format!(
        "${{file:{}:MQTT_PASSWORD}}",
        other.path().join("credentials.properties").display()
    );
    let escape = format!(
        "${{file:{}/../{}/credentials.properties:MQTT_PASSWORD}}",
        allowed.path().display(),
        other.path().file_name().unwrap().to_string_lossy()
    );
    for reference in [
        outside,
        escape,
        "${file:relative/credentials.properties:x}".to_owned(),
    ] {
        let err = providers
            .resolve(&props(&[("mqtt.password", &reference)]))
            .unwrap_err();
        let text = err.to_string();
        assert_eq!(err.key(), Some("mqtt.password"));
        assert!(text.contains("allowed.paths"), "{text}");
        assert!(!text.contains(SECRET), "{text}");
    }
}

#[cfg(unix)]
#[test]
fn allowed_paths_rejects_symlinks_leading_outside() {
    let allowed = tempfile::tempdir().unwrap();
    let other = secrets_dir();
    std::os::unix::fs::symlink(
        other.path().join("credentials.properties"),
        allowed.path().join("link.properties"),
    )
    .unwrap();
    let providers = file_provider(&[(
        "config.providers.file.param.allowed.paths",
        &allowed.path().display().to_string(),
    )]);
    let reference = format!(
        "${{file:{}:MQTT_PASSWORD}}",
        allowed.path().join("link.properties").display()
    );
    let err = providers.resolve(&props(&[("k", &reference)])).unwrap_err();
    assert!(err.to_string().contains("allowed.paths"), "{err}");
}

#[test]
fn allowed_paths_must_be_absolute_and_exist() {
    for bad in ["relative/dir", "/nonexistent/secrets"] {
        let p = props(&[
            ("config.providers", "file"),
            ("config.providers.file.class", "file"),
            ("config.providers.file.param.allowed.paths", bad),
        ]);
        let err = ConfigProviders::from_worker_props_with_env(&p, Vec::new()).unwrap_err();
        assert_eq!(
            err.key(),
            Some("config.providers.file.param.allowed.paths"),
            "{err}"
        );
    }
}

#[test]
fn directory_provider_reads_regular_files_only() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("db_pass"), "s3cret-db\n").unwrap();
    fs::create_dir(dir.path().join("nested")).unwrap();
    fs::write(dir.path().join("nested").join("inner"), "deeper").unwrap();
    let p = props(&[
        ("config.providers", "dir"),
        ("config.providers.dir.class", DIRECTORY_CLASS),
        (
            "config.providers.dir.param.allowed.paths",
            &dir.path().display().to_string(),
        ),
    ]);
    let providers = ConfigProviders::from_worker_props_with_env(&p, Vec::new()).unwrap();
    let d = dir.path().display();
    let connector = props(&[
        ("password", &format!("${{dir:{d}:db_pass}}")),
        ("a.directory", &format!("${{dir:{d}:nested}}")),
        ("into.subdir", &format!("${{dir:{d}:nested/inner}}")),
        ("parent", &format!("${{dir:{d}/nested:../db_pass}}")),
        ("missing", &format!("${{dir:{d}:nope}}")),
    ]);
    let r = providers.resolve(&connector).unwrap();
    // The content as is, trailing newline included (as Kafka reads it).
    assert_eq!(r.props["password"], "s3cret-db\n");
    for key in ["a.directory", "into.subdir", "parent", "missing"] {
        assert_eq!(r.props[key], connector[key], "{key}");
    }
    assert_eq!(r.secrets, vec!["s3cret-db\n".to_owned()]);

    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("db_pass"), "other").unwrap();
    let err = providers
        .resolve(&props(&[(
            "password",
            &format!("${{dir:{}:db_pass}}", outside.path().display()),
        )]))
        .unwrap_err();
    assert_eq!(err.key(), Some("password"));
    assert!(!err.to_string().contains("other"), "{err}");
}

#[test]
fn env_provider_honours_the_allowlist_and_ignores_the_path() {
    let p = props(&[
        ("config.providers", "env"),
        ("config.providers.env.class", ENV_CLASS),
        ("config.providers.env.param.allowlist.pattern", "^DB_.*"),
    ]);
    let providers = ConfigProviders::from_worker_props_with_env(
        &p,
        env(&[("DB_PASS", "hunter22"), ("AWS_SECRET", "not-for-you")]),
    )
    .unwrap();
    let r = providers
        .resolve(&props(&[
            ("db", "${env:DB_PASS}"),
            ("db.with.path", "${env:/ignored:DB_PASS}"),
            ("aws", "${env:AWS_SECRET}"),
            ("unset", "${env:DB_MISSING}"),
        ]))
        .unwrap();
    assert_eq!(r.props["db"], "hunter22");
    assert_eq!(r.props["db.with.path"], "hunter22");
    assert_eq!(r.props["aws"], "${env:AWS_SECRET}");
    assert_eq!(r.props["unset"], "${env:DB_MISSING}");
    assert_eq!(r.secrets, vec!["hunter22".to_owned()]);
    let debug = format!("{providers:?}");
    assert!(!debug.contains("not-for-you"), "{debug}");

    let bad = props(&[
        ("config.providers", "env"),
        ("config.providers.env.class", "env"),
        ("config.providers.env.param.allowlist.pattern", "(unclosed"),
    ]);
    let err = ConfigProviders::from_worker_props_with_env(&bad, Vec::new()).unwrap_err();
    assert_eq!(
        err.key(),
        Some("config.providers.env.param.allowlist.pattern")
    );
}

#[test]
fn env_provider_without_pattern_allows_everything() {
    let p = props(&[
        ("config.providers", "env"),
        ("config.providers.env.class", "env"),
    ]);
    let providers =
        ConfigProviders::from_worker_props_with_env(&p, env(&[("ANYTHING", "v1x")])).unwrap();
    let r = providers
        .resolve(&props(&[("k", "${env:ANYTHING}")]))
        .unwrap();
    assert_eq!(r.props["k"], "v1x");
}

#[test]
fn scrubber_hides_secrets_longest_first() {
    let s = Scrubber::new(vec![
        "hunter2".to_owned(),
        "hunter22".to_owned(),
        "ab".to_owned(),
        String::new(),
    ]);
    assert_eq!(
        s.scrub("login failed for hunter22 (ab)"),
        "login failed for [hidden] (ab)"
    );
    assert_eq!(s.scrub("hunter2 and hunter2"), "[hidden] and [hidden]");
    assert!(Scrubber::new(vec!["ab".to_owned()]).is_empty());
    assert_eq!(format!("{s:?}"), "Scrubber(2 secrets)");
}

#[test]
fn normalize_is_lexical() {
    assert_eq!(normalize(Path::new("/a/./b/../c")), PathBuf::from("/a/c"));
    assert_eq!(normalize(Path::new("/../a")), PathBuf::from("/a"));
    assert_eq!(normalize(Path::new("a/../../b")), PathBuf::from("../b"));
}
