//! Security of the REST API, as Kafka Connect configures it: TLS for `https://` listeners (PEM
//! keystores and truststores, client certificates), HTTP basic authentication (Kafka's
//! `BasicAuthSecurityRestExtension` with a JAAS `PropertyFileLoginModule` users file) and CORS
//! (`access.control.allow.*`, with the defaults of Jetty's `CrossOriginFilter`).
//!
//! Everything here is off unless configured. [`super::server`] puts the pieces around the router.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use regex::Regex;
use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use sluice_config::{BASIC_AUTH_EXTENSION_CLASS, Props, WorkerConfig};
use subtle::ConstantTimeEq;
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::ApiError;

/// Why the REST API's security settings cannot be used; the message names the setting or file.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// TLS settings of an `https://` listener.
    #[error("{0}")]
    Tls(String),
    /// Basic authentication settings, the JAAS file or the users file.
    #[error("{0}")]
    BasicAuth(String),
    /// `access.control.allow.*`.
    #[error("{0}")]
    Cors(String),
}

// ---------------------------------------------------------------------------------------------
// TLS
// ---------------------------------------------------------------------------------------------

/// Prefix of the TLS settings of the `https://` listeners of `listeners`.
pub const LISTENERS_HTTPS_PREFIX: &str = "listeners.https.";
/// Prefix of the TLS settings of the `https://` listeners of `admin.listeners`.
pub const ADMIN_LISTENERS_HTTPS_PREFIX: &str = "admin.listeners.https.";

/// How to turn a JKS or PKCS12 keystore into the PEM file Sluice reads.
const CONVERT_TO_PEM: &str = "convert it with `openssl pkcs12 -in keystore.p12 -nodes -out keystore.pem` \
     (a JKS keystore first with `keytool -importkeystore -srckeystore keystore.jks -destkeystore keystore.p12 -deststoretype PKCS12`)";

/// The `ssl.*` settings that apply to a group of listeners, and how their keys are written.
///
/// As Kafka does (`valuesWithPrefixAllOrNothing`): when any key starts with `prefix`, only the
/// prefixed keys count; otherwise the plain `ssl.*` keys do.
struct SslSettings {
    values: BTreeMap<String, String>,
    /// The prefix of the keys in use: the group's prefix, or empty for plain `ssl.*`.
    key_prefix: &'static str,
    /// The group's prefix, for messages about keys that are missing.
    group_prefix: &'static str,
}

impl SslSettings {
    fn from_props(props: &Props, prefix: &'static str) -> Self {
        let prefixed: BTreeMap<String, String> = props
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix(prefix)?.to_owned(), v.clone())))
            .collect();
        if prefixed.is_empty() {
            Self {
                values: props
                    .iter()
                    .filter(|(k, _)| k.starts_with("ssl."))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
                key_prefix: "",
                group_prefix: prefix,
            }
        } else {
            Self {
                values: prefixed,
                key_prefix: prefix,
                group_prefix: prefix,
            }
        }
    }

    /// A non-blank value.
    fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The key as the user wrote it, for messages.
    fn name(&self, key: &str) -> String {
        format!("{}{key}", self.key_prefix)
    }

    /// The key with the group's prefix, for messages about settings to add.
    fn preferred_name(&self, key: &str) -> String {
        format!("{}{key}", self.group_prefix)
    }
}

/// How `https://` listeners treat client certificates (`ssl.client.auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    None,
    Requested,
    Required,
}

/// The rustls server configuration of one group of `https://` listeners: `prefix` is
/// [`LISTENERS_HTTPS_PREFIX`] or [`ADMIN_LISTENERS_HTTPS_PREFIX`].
pub fn tls_server_config(
    props: &Props,
    prefix: &'static str,
) -> Result<Arc<ServerConfig>, SecurityError> {
    let ssl = SslSettings::from_props(props, prefix);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let (certs, key) = load_keystore(&ssl)?;
    let versions = protocol_versions(&ssl)?;
    if let Some(suites) = ssl.get("ssl.cipher.suites") {
        tracing::warn!(
            "{} is not applied: rustls offers only its own modern cipher suites (given: {suites})",
            ssl.name("ssl.cipher.suites")
        );
    }
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| SecurityError::Tls(format!("TLS setup failed: {e}")))?;
    let builder = match client_auth(&ssl)? {
        ClientAuth::None => builder.with_no_client_auth(),
        mode => {
            let roots = load_truststore(&ssl)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == ClientAuth::Requested {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| {
                SecurityError::Tls(format!(
                    "{}: cannot check client certificates: {e}",
                    ssl.name("ssl.truststore.location")
                ))
            })?)
        }
    };
    let mut config = builder.with_single_cert(certs, key).map_err(|e| {
        SecurityError::Tls(format!(
            "the keystore of {} is not usable: {e}",
            ssl.name("ssl.keystore.*")
        ))
    })?;
    // axum serves HTTP/1.1.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

fn client_auth(ssl: &SslSettings) -> Result<ClientAuth, SecurityError> {
    match ssl
        .get("ssl.client.auth")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        None | Some("none") => Ok(ClientAuth::None),
        Some("requested") => Ok(ClientAuth::Requested),
        Some("required") => Ok(ClientAuth::Required),
        Some(other) => Err(SecurityError::Tls(format!(
            "Invalid value {other} for configuration {}: expected required, requested or none",
            ssl.name("ssl.client.auth")
        ))),
    }
}

fn protocol_versions(
    ssl: &SslSettings,
) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, SecurityError> {
    let Some(list) = ssl.get("ssl.enabled.protocols") else {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    };
    let mut versions = Vec::new();
    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match name {
            "TLSv1.3" => versions.push(&rustls::version::TLS13),
            "TLSv1.2" => versions.push(&rustls::version::TLS12),
            other => tracing::warn!(
                "{}: {other} is not offered (only TLSv1.2 and TLSv1.3 are)",
                ssl.name("ssl.enabled.protocols")
            ),
        }
    }
    if versions.is_empty() {
        return Err(SecurityError::Tls(format!(
            "Invalid value {list} for configuration {}: none of TLSv1.2 and TLSv1.3 is enabled",
            ssl.name("ssl.enabled.protocols")
        )));
    }
    Ok(versions)
}

/// The certificate chain and private key of `ssl.keystore.*`.
fn load_keystore(
    ssl: &SslSettings,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), SecurityError> {
    let store_type = ssl.get("ssl.keystore.type");
    let inline_chain = ssl.get("ssl.keystore.certificate.chain");
    let inline_key = ssl.get("ssl.keystore.key");
    let (chain_pem, key_pem, chain_origin, key_origin) = match (inline_chain, inline_key) {
        (Some(chain), Some(key)) => {
            check_pem_type(ssl, "ssl.keystore.type", store_type, "keystore")?;
            (
                normalize_pem(chain),
                normalize_pem(key),
                ssl.name("ssl.keystore.certificate.chain"),
                ssl.name("ssl.keystore.key"),
            )
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(SecurityError::Tls(format!(
                "{} and {} go together: set both (PEM text) or neither",
                ssl.name("ssl.keystore.certificate.chain"),
                ssl.name("ssl.keystore.key")
            )));
        }
        (None, None) => {
            let Some(location) = ssl.get("ssl.keystore.location") else {
                return Err(SecurityError::Tls(format!(
                    "an https:// listener needs a certificate: set {}=PEM and {} (a PEM file \
                     holding the private key and the certificate chain), or {} and {} (PEM \
                     text); the same ssl.* keys without the prefix {} also work",
                    ssl.preferred_name("ssl.keystore.type"),
                    ssl.preferred_name("ssl.keystore.location"),
                    ssl.preferred_name("ssl.keystore.certificate.chain"),
                    ssl.preferred_name("ssl.keystore.key"),
                    ssl.group_prefix,
                )));
            };
            let text = read_pem_store(ssl, "keystore", location, store_type)?;
            let origin = format!("{location} ({})", ssl.name("ssl.keystore.location"));
            (text.clone(), text, origin.clone(), origin)
        }
    };
    let certs = CertificateDer::pem_slice_iter(chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| SecurityError::Tls(format!("{chain_origin}: bad PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(SecurityError::Tls(format!(
            "{chain_origin} holds no certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    if is_encrypted_pem(&key_pem) {
        return Err(SecurityError::Tls(format!(
            "the private key in {key_origin} is encrypted; Sluice reads unencrypted PEM keys \
             only: decrypt it with `openssl pkey -in key.pem -out key-plain.pem` and keep that \
             file readable only by the worker"
        )));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| {
        SecurityError::Tls(format!(
            "{key_origin} holds no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"
        ))
    })?;
    Ok((certs, key))
}

/// The trusted certificates of `ssl.truststore.*`, for client certificates.
fn load_truststore(ssl: &SslSettings) -> Result<RootCertStore, SecurityError> {
    let store_type = ssl.get("ssl.truststore.type");
    let (pem, origin) = if let Some(inline) = ssl.get("ssl.truststore.certificates") {
        check_pem_type(ssl, "ssl.truststore.type", store_type, "truststore")?;
        (
            normalize_pem(inline),
            ssl.name("ssl.truststore.certificates"),
        )
    } else if let Some(location) = ssl.get("ssl.truststore.location") {
        (
            read_pem_store(ssl, "truststore", location, store_type)?,
            format!("{location} ({})", ssl.name("ssl.truststore.location")),
        )
    } else {
        return Err(SecurityError::Tls(format!(
            "{} asks for client certificates, so a truststore is needed: set {}=PEM and {} \
             (a PEM file of CA certificates), or {}",
            ssl.name("ssl.client.auth"),
            ssl.name("ssl.truststore.type"),
            ssl.name("ssl.truststore.location"),
            ssl.name("ssl.truststore.certificates"),
        )));
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let cert =
            cert.map_err(|e| SecurityError::Tls(format!("{origin}: bad PEM certificate: {e}")))?;
        roots
            .add(cert)
            .map_err(|e| SecurityError::Tls(format!("{origin}: unusable CA certificate: {e}")))?;
    }
    if roots.is_empty() {
        return Err(SecurityError::Tls(format!(
            "{origin} holds no certificate (-----BEGIN CERTIFICATE-----)"
        )));
    }
    Ok(roots)
}

/// Inline PEM needs `*.type` PEM or unset.
fn check_pem_type(
    ssl: &SslSettings,
    type_key: &str,
    store_type: Option<&str>,
    what: &str,
) -> Result<(), SecurityError> {
    match store_type {
        None => Ok(()),
        Some(t) if t.eq_ignore_ascii_case("PEM") => Ok(()),
        Some(t) => Err(SecurityError::Tls(format!(
            "Invalid value {t} for configuration {}: a {what} given as PEM text needs type PEM",
            ssl.name(type_key)
        ))),
    }
}

/// Reads a keystore or truststore file that must be PEM: `*.type` PEM, or unset and the file
/// is PEM (Kafka's default type, JKS, is not read).
fn read_pem_store(
    ssl: &SslSettings,
    what: &str,
    location: &str,
    store_type: Option<&str>,
) -> Result<String, SecurityError> {
    let type_key = ssl.name(&format!("ssl.{what}.type"));
    if let Some(t) = store_type
        && !t.eq_ignore_ascii_case("PEM")
    {
        return Err(SecurityError::Tls(format!(
            "{type_key}={t} is not supported: Sluice reads {what}s in PEM only; {CONVERT_TO_PEM}, \
             then set {type_key}=PEM"
        )));
    }
    let bytes = std::fs::read(location).map_err(|e| {
        SecurityError::Tls(format!(
            "cannot read the {what} {location} ({}): {e}",
            ssl.name(&format!("ssl.{what}.location"))
        ))
    })?;
    match String::from_utf8(bytes) {
        Ok(text) if text.contains("-----BEGIN ") => Ok(normalize_pem(&text)),
        _ => Err(SecurityError::Tls(format!(
            "the {what} {location} is not a PEM file (a JKS or PKCS12 keystore?): Sluice reads \
             PEM only; {CONVERT_TO_PEM}, then set {type_key}=PEM"
        ))),
    }
}

static PEM_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END ([A-Z0-9 ]+)-----")
        .unwrap_or_else(|e| unreachable!("constant regex: {e}"))
});

/// PEM blocks with their base64 re-wrapped, so PEM written on one line (as in a properties file
/// value, which Kafka accepts) parses. Blocks with headers (legacy encrypted keys) are kept as
/// they are.
fn normalize_pem(text: &str) -> String {
    let mut out = String::new();
    for block in PEM_BLOCK.captures_iter(text) {
        let label = &block[1];
        let body = &block[2];
        if body.contains(':') {
            out.push_str(&block[0]);
            out.push('\n');
            continue;
        }
        let base64: String = body.chars().filter(|c| !c.is_whitespace()).collect();
        out.push_str(&format!("-----BEGIN {label}-----\n"));
        for chunk in base64.as_bytes().chunks(64) {
            out.push_str(&String::from_utf8_lossy(chunk));
            out.push('\n');
        }
        out.push_str(&format!("-----END {label}-----\n"));
    }
    out
}

fn is_encrypted_pem(text: &str) -> bool {
    text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || text.contains("Proc-Type: 4,ENCRYPTED")
}

// ---------------------------------------------------------------------------------------------
// Basic authentication
// ---------------------------------------------------------------------------------------------

/// The JAAS login context Kafka's basic-auth filter uses.
const JAAS_CONTEXT: &str = "KafkaConnect";
/// Kafka's login module: `user=password` lines, the whole value is the password.
const KAFKA_PROPERTY_FILE_LOGIN_MODULE: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule";
/// Jetty's login modules (as in Confluent's examples): `user: password[,role...]`.
const JETTY_PROPERTY_FILE_LOGIN_MODULES: &[&str] = &[
    "org.eclipse.jetty.jaas.spi.PropertyFileLoginModule",
    "org.eclipse.jetty.plus.jaas.spi.PropertyFileLoginModule",
];
/// The JVM property naming the JAAS file, as found in `KAFKA_OPTS`.
const JAAS_SYSTEM_PROPERTY: &str = "-Djava.security.auth.login.config=";
/// The `WWW-Authenticate` challenge of a 401 answer.
const BASIC_CHALLENGE: &str = "Basic realm=\"Kafka Connect\", charset=\"UTF-8\"";
/// Kafka's text for a request that fails authentication.
const UNAUTHORIZED_MESSAGE: &str = "User cannot access the resource.";

/// How a users file's values are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsersFileFormat {
    /// Kafka's `PropertyFileLoginModule`: `user=password`, the whole value is the password.
    Kafka,
    /// Jetty's `PropertyFileLoginModule`: `user: password[,role...]`.
    Jetty,
}

/// One `Module Flag options;` of a JAAS entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasModule {
    /// The login module class.
    pub class: String,
    /// required, requisite, sufficient or optional.
    pub flag: String,
    /// `name="value"` options.
    pub options: BTreeMap<String, String>,
}

/// Parses a JAAS login configuration file into its entries (`Name { modules };`).
pub fn parse_jaas(text: &str) -> Result<BTreeMap<String, Vec<JaasModule>>, String> {
    let tokens = jaas_tokens(text)?;
    let mut at = 0;
    let mut next = || {
        let token = tokens.get(at).cloned();
        at += 1;
        token
    };
    let mut entries = BTreeMap::new();
    while let Some(name) = next() {
        let JaasToken::Word(name) = name else {
            return Err(format!("expected an entry name, found {name:?}"));
        };
        if next() != Some(JaasToken::Punct('{')) {
            return Err(format!("expected '{{' after the entry name {name}"));
        }
        let mut modules = Vec::new();
        loop {
            match next() {
                Some(JaasToken::Punct('}')) => break,
                Some(JaasToken::Word(class)) => {
                    let Some(JaasToken::Word(flag)) = next() else {
                        return Err(format!("expected a flag (required, ...) after {class}"));
                    };
                    let flag = flag.to_ascii_lowercase();
                    if !["required", "requisite", "sufficient", "optional"].contains(&flag.as_str())
                    {
                        return Err(format!(
                            "unknown flag {flag} for {class} (required, requisite, sufficient or optional)"
                        ));
                    }
                    let mut options = BTreeMap::new();
                    loop {
                        match next() {
                            Some(JaasToken::Punct(';')) => break,
                            Some(JaasToken::Word(key)) => {
                                if next() != Some(JaasToken::Punct('=')) {
                                    return Err(format!("expected '=' after the option {key}"));
                                }
                                let Some(JaasToken::Word(value)) = next() else {
                                    return Err(format!("expected a value for the option {key}"));
                                };
                                options.insert(key, value);
                            }
                            other => {
                                return Err(format!(
                                    "expected an option or ';' in {class}, found {other:?}"
                                ));
                            }
                        }
                    }
                    modules.push(JaasModule {
                        class,
                        flag,
                        options,
                    });
                }
                other => {
                    return Err(format!(
                        "expected a login module or '}}' in {name}, found {other:?}"
                    ));
                }
            }
        }
        if next() != Some(JaasToken::Punct(';')) {
            return Err(format!("expected ';' after the entry {name}"));
        }
        entries.insert(name, modules);
    }
    Ok(entries)
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum JaasToken {
    Word(String),
    Punct(char),
}

/// Words (bare or double-quoted) and `{ } ; =`, with `//` and `/* */` comments skipped.
fn jaas_tokens(text: &str) -> Result<Vec<JaasToken>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut previous = ' ';
                loop {
                    match chars.next() {
                        Some('/') if previous == '*' => break,
                        Some(c) => previous = c,
                        None => return Err("unterminated /* comment".to_owned()),
                    }
                }
            }
            '{' | '}' | ';' | '=' => tokens.push(JaasToken::Punct(c)),
            '"' => {
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(escaped) => word.push(escaped),
                            None => return Err("unterminated quoted string".to_owned()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("unterminated quoted string".to_owned()),
                    }
                }
                tokens.push(JaasToken::Word(word));
            }
            c => {
                let mut word = String::from(c);
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "{};=\"".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(JaasToken::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// The JAAS file named by `-Djava.security.auth.login.config=PATH` in `KAFKA_OPTS` (quotes
/// removed; Java's `==` override form and `file:` URLs accepted).
pub fn jaas_path_from_kafka_opts(kafka_opts: &str) -> Option<PathBuf> {
    let at = kafka_opts.rfind(JAAS_SYSTEM_PROPERTY)?;
    let rest = &kafka_opts[at + JAAS_SYSTEM_PROPERTY.len()..];
    let rest = rest.strip_prefix('=').unwrap_or(rest);
    let value = match rest.chars().next() {
        Some(quote @ ('"' | '\'')) => rest[1..].split(quote).next().unwrap_or_default(),
        _ => rest.split(char::is_whitespace).next().unwrap_or_default(),
    };
    let value = value
        .strip_prefix("file://")
        .or_else(|| value.strip_prefix("file:"))
        .unwrap_or(value);
    (!value.is_empty()).then(|| PathBuf::from(value))
}

/// Reads a users file: user name to password.
pub fn parse_users(
    props: &Props,
    format: UsersFileFormat,
    origin: &str,
) -> Result<HashMap<String, String>, String> {
    let mut users = HashMap::new();
    for (user, value) in props {
        let password = match format {
            UsersFileFormat::Kafka => value.clone(),
            UsersFileFormat::Jetty => {
                let password = value.split(',').next().unwrap_or_default().trim();
                if ["OBF:", "MD5:", "CRYPT:"]
                    .iter()
                    .any(|p| password.starts_with(p))
                {
                    return Err(format!(
                        "{origin}: the password of user {user} is obfuscated or hashed \
                         (OBF:, MD5: or CRYPT:); Sluice reads plain passwords only"
                    ));
                }
                password.to_owned()
            }
        };
        users.insert(user.clone(), password);
    }
    Ok(users)
}

/// HTTP basic authentication against a users file, as Kafka's `BasicAuthSecurityRestExtension`.
pub struct BasicAuth {
    users: HashMap<String, String>,
    /// Where the users came from, for log lines.
    origin: String,
}

impl std::fmt::Debug for BasicAuth {
    // Never the passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BasicAuth")
            .field("origin", &self.origin)
            .field("users", &self.users.len())
            .finish()
    }
}

impl BasicAuth {
    /// Basic authentication as the worker configures it; `None` when `rest.extension.classes`
    /// does not list `BasicAuthSecurityRestExtension`. `kafka_opts` is the `KAFKA_OPTS`
    /// environment variable, where the JAAS file may be named.
    ///
    /// Users come from `rest.basic.auth.users.file`, else from the file of the
    /// `PropertyFileLoginModule` in the `KafkaConnect` entry of the JAAS file named by
    /// `rest.basic.auth.jaas.config` or by `-Djava.security.auth.login.config=` in `KAFKA_OPTS`.
    pub fn from_config(
        config: &WorkerConfig,
        kafka_opts: Option<&str>,
    ) -> Result<Option<Self>, SecurityError> {
        let simple_name = BASIC_AUTH_EXTENSION_CLASS
            .rsplit('.')
            .next()
            .unwrap_or(BASIC_AUTH_EXTENSION_CLASS);
        let mut enabled = false;
        for class in config.rest_extension_classes() {
            if class == BASIC_AUTH_EXTENSION_CLASS || class == simple_name {
                enabled = true;
            } else {
                return Err(SecurityError::BasicAuth(format!(
                    "Invalid value {class} for configuration rest.extension.classes: Sluice has \
                     no such REST extension (it has {BASIC_AUTH_EXTENSION_CLASS})"
                )));
            }
        }
        let users_file = config.rest_basic_auth_users_file();
        let jaas_config = config.rest_basic_auth_jaas_config();
        if !enabled {
            if let Some(key) = users_file
                .map(|_| "rest.basic.auth.users.file")
                .or(jaas_config.map(|_| "rest.basic.auth.jaas.config"))
            {
                return Err(SecurityError::BasicAuth(format!(
                    "{key} is set but basic authentication is off: add \
                     {BASIC_AUTH_EXTENSION_CLASS} to rest.extension.classes"
                )));
            }
            return Ok(None);
        }

        let (path, format) = if let Some(file) = users_file {
            (PathBuf::from(file.trim()), UsersFileFormat::Kafka)
        } else {
            let (jaas_path, named_by) = match jaas_config {
                Some(path) => (
                    PathBuf::from(path.trim()),
                    "rest.basic.auth.jaas.config".to_owned(),
                ),
                None => match kafka_opts.and_then(jaas_path_from_kafka_opts) {
                    Some(path) => (path, "KAFKA_OPTS".to_owned()),
                    None => {
                        return Err(SecurityError::BasicAuth(format!(
                            "{BASIC_AUTH_EXTENSION_CLASS} is in rest.extension.classes but no \
                             users are configured: set rest.basic.auth.users.file (a \
                             user=password file), rest.basic.auth.jaas.config (a JAAS file with \
                             a {JAAS_CONTEXT} entry), or {JAAS_SYSTEM_PROPERTY}PATH in KAFKA_OPTS"
                        )));
                    }
                },
            };
            users_file_from_jaas(&jaas_path, &named_by)?
        };
        let origin = path.display().to_string();
        let props = sluice_config::load_properties(&path)
            .map_err(|e| SecurityError::BasicAuth(format!("basic authentication users: {e}")))?;
        let users = parse_users(&props, format, &origin).map_err(SecurityError::BasicAuth)?;
        if users.is_empty() {
            // Kafka's PropertyFileLoginModule lets every request through then; so does Sluice.
            tracing::warn!(
                "the basic authentication users file {origin} is empty; all requests will be permitted"
            );
        } else {
            tracing::info!(users = users.len(), file = %origin, "REST basic authentication on");
        }
        Ok(Some(Self { users, origin }))
    }

    /// Authentication with these users (user name to password).
    #[cfg(test)]
    pub fn with_users(users: HashMap<String, String>) -> Self {
        Self {
            users,
            origin: "(given)".to_owned(),
        }
    }

    /// Whether an `Authorization` header value names a user with the right password.
    pub fn authenticate(&self, authorization: Option<&HeaderValue>) -> bool {
        if self.users.is_empty() {
            return true;
        }
        let Some((user, password)) = authorization.and_then(basic_credentials) else {
            return false;
        };
        // Compare against something even for an unknown user, so timing does not tell users
        // apart from non-users.
        let (expected, known) = match self.users.get(&user) {
            Some(expected) => (expected.as_str(), true),
            None => ("", false),
        };
        let matches: bool = expected.as_bytes().ct_eq(password.as_bytes()).into();
        if !(known && matches) {
            tracing::debug!(user = %user, "REST request failed basic authentication");
        }
        known && matches
    }
}

/// `Basic base64(user:password)`: user and password; `None` when malformed or another scheme.
fn basic_credentials(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?.trim();
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    if user.is_empty() {
        return None;
    }
    Some((user.to_owned(), password.to_owned()))
}

/// The users file named by the `KafkaConnect` entry of a JAAS file, and how to read it.
fn users_file_from_jaas(
    jaas_path: &Path,
    named_by: &str,
) -> Result<(PathBuf, UsersFileFormat), SecurityError> {
    let shown = jaas_path.display();
    let text = std::fs::read_to_string(jaas_path).map_err(|e| {
        SecurityError::BasicAuth(format!(
            "cannot read the JAAS file {shown} (from {named_by}): {e}"
        ))
    })?;
    let entries = parse_jaas(&text)
        .map_err(|e| SecurityError::BasicAuth(format!("the JAAS file {shown}: {e}")))?;
    let modules = entries.get(JAAS_CONTEXT).ok_or_else(|| {
        SecurityError::BasicAuth(format!(
            "the JAAS file {shown} has no {JAAS_CONTEXT} entry (it has: {})",
            entries.keys().cloned().collect::<Vec<_>>().join(", ")
        ))
    })?;
    let [module] = modules.as_slice() else {
        return Err(SecurityError::BasicAuth(format!(
            "the {JAAS_CONTEXT} entry of {shown} must hold exactly one login module (a \
             PropertyFileLoginModule); it holds {}",
            modules.len()
        )));
    };
    let format = if module.class == KAFKA_PROPERTY_FILE_LOGIN_MODULE {
        UsersFileFormat::Kafka
    } else if JETTY_PROPERTY_FILE_LOGIN_MODULES.contains(&module.class.as_str()) {
        UsersFileFormat::Jetty
    } else {
        return Err(SecurityError::BasicAuth(format!(
            "the {JAAS_CONTEXT} entry of {shown} uses {}; Sluice supports \
             {KAFKA_PROPERTY_FILE_LOGIN_MODULE} only",
            module.class
        )));
    };
    let file = module
        .options
        .get("file")
        .map(|f| f.trim())
        .filter(|f| !f.is_empty())
        .ok_or_else(|| {
            SecurityError::BasicAuth(format!(
                "the {} of {shown} needs the option file=\"/path/to/users.properties\"",
                module.class
            ))
        })?;
    Ok((PathBuf::from(file), format))
}

/// Middleware: 401 with a `WWW-Authenticate` challenge unless the request carries the
/// credentials of a user.
pub async fn require_basic_auth(
    State(auth): State<Arc<BasicAuth>>,
    request: Request,
    next: Next,
) -> Response {
    if auth.authenticate(request.headers().get(header::AUTHORIZATION)) {
        return next.run(request).await;
    }
    let mut response =
        ApiError::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED_MESSAGE).into_response();
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(BASIC_CHALLENGE),
    );
    response
}

// ---------------------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------------------

/// Methods allowed when `access.control.allow.methods` is empty (Jetty's default).
const DEFAULT_CORS_METHODS: &str = "GET,POST,HEAD";
/// Request headers a cross-origin request may send (Jetty's default).
const CORS_ALLOWED_HEADERS: &[&str] = &["x-requested-with", "content-type", "accept", "origin"];
/// How long browsers may cache a preflight answer (Jetty's default).
const CORS_MAX_AGE: Duration = Duration::from_secs(1800);

/// The CORS layer of `access.control.allow.origin` and `access.control.allow.methods`; `None`
/// when the origin is empty (CORS off).
///
/// As Jetty's `CrossOriginFilter`, which Kafka uses: origins are a comma-separated list, `*`
/// allows any origin and may also stand for part of one (`https://*.example.com`); the allowed
/// origin is echoed back with `Access-Control-Allow-Credentials: true`.
pub fn cors_layer(config: &WorkerConfig) -> Result<Option<CorsLayer>, SecurityError> {
    let origins = config
        .config()
        .string("access.control.allow.origin")
        .unwrap_or_default()
        .trim();
    if origins.is_empty() {
        return Ok(None);
    }
    let methods = config
        .config()
        .string("access.control.allow.methods")
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .unwrap_or(DEFAULT_CORS_METHODS);
    let methods = methods
        .split(',')
        .map(str::trim)
        .filter(|m| !m.is_empty())
        .map(|m| {
            Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|_| {
                SecurityError::Cors(format!(
                    "Invalid value {m} for configuration access.control.allow.methods: not an HTTP method"
                ))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let patterns = origin_patterns(origins)?;
    let allow_origin = AllowOrigin::predicate(move |origin: &HeaderValue, _| {
        origin
            .to_str()
            .is_ok_and(|origin| patterns.iter().any(|p| p.is_match(origin)))
    });
    let headers = CORS_ALLOWED_HEADERS
        .iter()
        .map(|h| header::HeaderName::from_static(h))
        .collect::<Vec<_>>();
    Ok(Some(
        CorsLayer::new()
            .allow_origin(allow_origin)
            .allow_methods(methods)
            .allow_headers(headers)
            .allow_credentials(true)
            .max_age(CORS_MAX_AGE),
    ))
}

/// One regex per allowed origin: `*` alone matches any origin, elsewhere any run of characters.
fn origin_patterns(origins: &str) -> Result<Vec<Regex>, SecurityError> {
    origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(|origin| {
            let pattern = if origin == "*" {
                ".*".to_owned()
            } else {
                origin
                    .split('*')
                    .map(regex::escape)
                    .collect::<Vec<_>>()
                    .join(".*")
            };
            Regex::new(&format!("^{pattern}$")).map_err(|e| {
                SecurityError::Cors(format!(
                    "Invalid value {origin} for configuration access.control.allow.origin: {e}"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use sluice_config::Mode;

    use super::*;

    fn worker_config(extra: &[(&str, &str)]) -> WorkerConfig {
        let mut props = Props::new();
        for (k, v) in [
            (
                "key.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            (
                "value.converter",
                "org.apache.kafka.connect.json.JsonConverter",
            ),
            ("offset.storage.file.filename", "/tmp/connect.offsets"),
        ]
        .iter()
        .chain(extra)
        {
            props.insert((*k).to_owned(), (*v).to_owned());
        }
        WorkerConfig::from_sources(props, "worker.properties", Vec::new(), Mode::Standalone)
            .unwrap()
    }

    fn write(dir: &Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::File::create(&path)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        path.display().to_string()
    }

    fn basic(user: &str, password: &str) -> HeaderValue {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        HeaderValue::from_str(&format!("Basic {encoded}")).unwrap()
    }

    #[test]
    fn parses_jaas_files() {
        let text = r#"
            // Connect's REST users
            KafkaConnect {
                org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required
                    file="/etc/kafka/connect users.properties"
                    debug=true;
            };
            /* clients */
            KafkaClient {
                org.apache.kafka.common.security.plain.PlainLoginModule Required
                    username="a\"b" password="x;y";
                other.Module optional;
            };
        "#;
        let entries = parse_jaas(text).unwrap();
        assert_eq!(entries.len(), 2);
        let connect = &entries["KafkaConnect"];
        assert_eq!(connect.len(), 1);
        assert_eq!(connect[0].class, KAFKA_PROPERTY_FILE_LOGIN_MODULE);
        assert_eq!(connect[0].flag, "required");
        assert_eq!(
            connect[0].options.get("file").map(String::as_str),
            Some("/etc/kafka/connect users.properties")
        );
        assert_eq!(
            connect[0].options.get("debug").map(String::as_str),
            Some("true")
        );
        let client = &entries["KafkaClient"];
        assert_eq!(client[0].flag, "required");
        assert_eq!(client[0].options["username"], "a\"b");
        assert_eq!(client[0].options["password"], "x;y");
        assert_eq!(client[1].class, "other.Module");
        assert!(client[1].options.is_empty());

        for bad in [
            "KafkaConnect { Module required file=\"x\" }",
            "KafkaConnect { Module required file=\"x\"; }",
            "KafkaConnect { Module maybe; };",
            "KafkaConnect { Module required file; };",
            "KafkaConnect Module required; };",
            "KafkaConnect { Module required file=\"x; };",
            "/* never closed",
        ] {
            assert!(parse_jaas(bad).is_err(), "{bad}");
        }
        assert!(parse_jaas("  // nothing\n").unwrap().is_empty());
    }

    #[test]
    fn finds_the_jaas_file_in_kafka_opts() {
        let path = |opts: &str| jaas_path_from_kafka_opts(opts).map(|p| p.display().to_string());
        assert_eq!(
            path("-Xmx1g -Djava.security.auth.login.config=/etc/kafka/jaas.conf -Dx=y").as_deref(),
            Some("/etc/kafka/jaas.conf")
        );
        assert_eq!(
            path("-Djava.security.auth.login.config==/a.conf").as_deref(),
            Some("/a.conf")
        );
        assert_eq!(
            path("-Djava.security.auth.login.config=\"/with space/j.conf\" -Da=b").as_deref(),
            Some("/with space/j.conf")
        );
        assert_eq!(
            path("-Djava.security.auth.login.config=file:/etc/j.conf").as_deref(),
            Some("/etc/j.conf")
        );
        assert_eq!(path("-Xmx1g"), None);
        assert_eq!(path("-Djava.security.auth.login.config= -Da=b"), None);
    }

    #[test]
    fn reads_users_files_in_both_formats() {
        let props = sluice_config::parse_properties(
            b"# users\nadmin: s3cret,admin\nbob=pass word\ncarol:\n",
            "users.properties",
        )
        .unwrap();
        let kafka = parse_users(&props, UsersFileFormat::Kafka, "users.properties").unwrap();
        assert_eq!(kafka["admin"], "s3cret,admin");
        assert_eq!(kafka["bob"], "pass word");
        assert_eq!(kafka["carol"], "");
        let jetty = parse_users(&props, UsersFileFormat::Jetty, "users.properties").unwrap();
        assert_eq!(jetty["admin"], "s3cret");
        assert_eq!(jetty["bob"], "pass word");

        let hashed = sluice_config::parse_properties(b"admin: MD5:abc,admin\n", "u").unwrap();
        let err = parse_users(&hashed, UsersFileFormat::Jetty, "u").unwrap_err();
        assert!(err.contains("Sluice reads plain passwords only"), "{err}");
        assert!(!err.contains("abc"), "{err}");
    }

    #[test]
    fn authenticates_basic_credentials() {
        let auth = BasicAuth::with_users(HashMap::from([
            ("admin".to_owned(), "s3cret".to_owned()),
            ("empty".to_owned(), String::new()),
        ]));
        assert!(auth.authenticate(Some(&basic("admin", "s3cret"))));
        assert!(auth.authenticate(Some(&basic("empty", ""))));
        // The password may hold colons: the first one ends the user name.
        let colon = BasicAuth::with_users(HashMap::from([("u".to_owned(), "a:b".to_owned())]));
        assert!(colon.authenticate(Some(&basic("u", "a:b"))));
        // The scheme is case-insensitive.
        let lower = basic("admin", "s3cret")
            .to_str()
            .unwrap()
            .replace("Basic", "bAsIc");
        assert!(auth.authenticate(Some(&HeaderValue::from_str(&lower).unwrap())));

        assert!(!auth.authenticate(None));
        assert!(!auth.authenticate(Some(&basic("admin", "wrong"))));
        assert!(!auth.authenticate(Some(&basic("admin", "s3cret "))));
        assert!(!auth.authenticate(Some(&basic("nobody", "s3cret"))));
        assert!(!auth.authenticate(Some(&basic("", "s3cret"))));
        for bad in [
            "Basic",
            "Basic !!!",
            "Bearer abc",
            "Basic YWRtaW4=",
            "admin:s3cret",
        ] {
            assert!(
                !auth.authenticate(Some(&HeaderValue::from_static(bad))),
                "{bad}"
            );
        }

        // An empty users file lets everyone in, as Kafka's login module does.
        assert!(BasicAuth::with_users(HashMap::new()).authenticate(None));
    }

    #[test]
    fn basic_auth_from_the_worker_config() {
        let dir = tempfile::tempdir().unwrap();
        let users = write(dir.path(), "users.properties", "admin=s3cret\n");
        let jetty_users = write(dir.path(), "jetty.properties", "ops: pw,admin\n");
        let jaas = write(
            dir.path(),
            "jaas.conf",
            &format!(
                "KafkaConnect {{\n  {KAFKA_PROPERTY_FILE_LOGIN_MODULE} required file=\"{users}\";\n}};\n"
            ),
        );
        let jetty_jaas = write(
            dir.path(),
            "jetty-jaas.conf",
            &format!(
                "KafkaConnect {{ org.eclipse.jetty.jaas.spi.PropertyFileLoginModule required file=\"{jetty_users}\"; }};"
            ),
        );

        // Off by default; KAFKA_OPTS alone does not turn it on.
        let kafka_opts = format!("-Djava.security.auth.login.config={jaas}");
        assert!(
            BasicAuth::from_config(&worker_config(&[]), Some(&kafka_opts))
                .unwrap()
                .is_none()
        );

        let on = ("rest.extension.classes", BASIC_AUTH_EXTENSION_CLASS);
        let from_file = BasicAuth::from_config(
            &worker_config(&[on, ("rest.basic.auth.users.file", &users)]),
            None,
        )
        .unwrap()
        .unwrap();
        assert!(from_file.authenticate(Some(&basic("admin", "s3cret"))));
        assert!(!from_file.authenticate(Some(&basic("admin", "nope"))));
        assert!(!format!("{from_file:?}").contains("s3cret"));

        let from_jaas = BasicAuth::from_config(
            &worker_config(&[on, ("rest.basic.auth.jaas.config", &jaas)]),
            None,
        )
        .unwrap()
        .unwrap();
        assert!(from_jaas.authenticate(Some(&basic("admin", "s3cret"))));

        let from_opts = BasicAuth::from_config(&worker_config(&[on]), Some(&kafka_opts))
            .unwrap()
            .unwrap();
        assert!(from_opts.authenticate(Some(&basic("admin", "s3cret"))));

        let jetty = BasicAuth::from_config(
            &worker_config(&[
                ("rest.extension.classes", "BasicAuthSecurityRestExtension"),
                ("rest.basic.auth.jaas.config", &jetty_jaas),
            ]),
            None,
        )
        .unwrap()
        .unwrap();
        assert!(jetty.authenticate(Some(&basic("ops", "pw"))));
        assert!(!jetty.authenticate(Some(&basic("ops", "pw,admin"))));

        let err = |extra: &[(&str, &str)], opts: Option<&str>| {
            BasicAuth::from_config(&worker_config(extra), opts)
                .unwrap_err()
                .to_string()
        };
        let e = err(&[("rest.basic.auth.users.file", &users)], None);
        assert!(e.contains("add org.apache.kafka"), "{e}");
        let e = err(&[("rest.extension.classes", "com.example.Auth")], None);
        assert!(e.contains("com.example.Auth"), "{e}");
        let e = err(&[on], None);
        assert!(e.contains("no users are configured"), "{e}");
        let e = err(&[on], Some("-Xmx1g"));
        assert!(e.contains("no users are configured"), "{e}");
        let e = err(
            &[on, ("rest.basic.auth.users.file", "/nonexistent/users")],
            None,
        );
        assert!(e.contains("/nonexistent/users"), "{e}");
        let other_entry = write(dir.path(), "other.conf", "KafkaServer { a.B required; };");
        let e = err(&[on, ("rest.basic.auth.jaas.config", &other_entry)], None);
        assert!(e.contains("no KafkaConnect entry"), "{e}");
        let ldap = write(
            dir.path(),
            "ldap.conf",
            "KafkaConnect { com.sun.security.auth.module.LdapLoginModule required; };",
        );
        let e = err(&[on, ("rest.basic.auth.jaas.config", &ldap)], None);
        assert!(e.contains("LdapLoginModule"), "{e}");
        let no_file = write(
            dir.path(),
            "nofile.conf",
            &format!("KafkaConnect {{ {KAFKA_PROPERTY_FILE_LOGIN_MODULE} required; }};"),
        );
        let e = err(&[on, ("rest.basic.auth.jaas.config", &no_file)], None);
        assert!(e.contains("option file="), "{e}");
    }

    /// A self-signed certificate for localhost: (certificate PEM, private key PEM).
    fn self_signed() -> (String, String) {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (cert.cert.pem(), cert.signing_key.serialize_pem())
    }

    fn props(pairs: &[(&str, &str)]) -> Props {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn tls_error(props: &Props, prefix: &'static str) -> String {
        tls_server_config(props, prefix).unwrap_err().to_string()
    }

    #[test]
    fn tls_from_pem_keystores() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let keystore = write(dir.path(), "keystore.pem", &format!("{key}{cert}"));

        // A PEM file, with the prefix or without (Kafka's fallback to ssl.*).
        let config = tls_server_config(
            &props(&[
                ("listeners.https.ssl.keystore.type", "PEM"),
                ("listeners.https.ssl.keystore.location", &keystore),
            ]),
            LISTENERS_HTTPS_PREFIX,
        )
        .unwrap();
        assert_eq!(config.alpn_protocols, [b"http/1.1".to_vec()]);
        tls_server_config(
            &props(&[("ssl.keystore.location", &keystore)]),
            LISTENERS_HTTPS_PREFIX,
        )
        .unwrap();

        // Inline PEM, even squeezed on one line as in a properties value.
        let one_line = |pem: &str| pem.replace('\n', " ");
        tls_server_config(
            &props(&[
                ("admin.listeners.https.ssl.keystore.type", "PEM"),
                (
                    "admin.listeners.https.ssl.keystore.certificate.chain",
                    &one_line(&cert),
                ),
                ("admin.listeners.https.ssl.keystore.key", &one_line(&key)),
            ]),
            ADMIN_LISTENERS_HTTPS_PREFIX,
        )
        .unwrap();

        // All or nothing: one prefixed key hides the plain ssl.* keys.
        let e = tls_error(
            &props(&[
                ("ssl.keystore.location", &keystore),
                ("listeners.https.ssl.client.auth", "none"),
            ]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(e.contains("listeners.https.ssl.keystore.location"), "{e}");

        let e = tls_error(&props(&[]), LISTENERS_HTTPS_PREFIX);
        assert!(e.contains("needs a certificate"), "{e}");
        let e = tls_error(
            &props(&[
                ("ssl.keystore.type", "JKS"),
                ("ssl.keystore.location", &keystore),
            ]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(
            e.contains("ssl.keystore.type=JKS is not supported") && e.contains("openssl pkcs12"),
            "{e}"
        );
        let binary = dir.path().join("keystore.p12");
        std::fs::write(&binary, [0x30, 0x82, 0x01, 0xff, 0x00]).unwrap();
        let e = tls_error(
            &props(&[("ssl.keystore.location", &binary.display().to_string())]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(e.contains("not a PEM file") && e.contains("-nodes"), "{e}");
        let e = tls_error(
            &props(&[("ssl.keystore.location", "/nonexistent/ks.pem")]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(e.contains("/nonexistent/ks.pem"), "{e}");
        let cert_only = write(dir.path(), "cert.pem", &cert);
        let e = tls_error(
            &props(&[("ssl.keystore.location", &cert_only)]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(e.contains("no usable private key"), "{e}");
        let encrypted = write(
            dir.path(),
            "enc.pem",
            &format!(
                "{cert}-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n"
            ),
        );
        let e = tls_error(
            &props(&[("ssl.keystore.location", &encrypted)]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(e.contains("encrypted"), "{e}");
        let e = tls_error(
            &props(&[("ssl.keystore.certificate.chain", &cert)]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(e.contains("go together"), "{e}");
        let e = tls_error(
            &props(&[
                ("ssl.keystore.location", &keystore),
                ("ssl.enabled.protocols", "TLSv1,TLSv1.1"),
            ]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(e.contains("ssl.enabled.protocols"), "{e}");
        tls_server_config(
            &props(&[
                ("ssl.keystore.location", &keystore),
                ("ssl.enabled.protocols", "TLSv1.3"),
            ]),
            LISTENERS_HTTPS_PREFIX,
        )
        .unwrap();
    }

    #[test]
    fn tls_client_authentication_needs_a_truststore() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = self_signed();
        let keystore = write(dir.path(), "keystore.pem", &format!("{cert}{key}"));
        let (ca, _) = self_signed();
        let truststore = write(dir.path(), "truststore.pem", &ca);
        for mode in ["required", "requested"] {
            let e = tls_error(
                &props(&[
                    ("ssl.keystore.location", &keystore),
                    ("ssl.client.auth", mode),
                ]),
                LISTENERS_HTTPS_PREFIX,
            );
            assert!(e.contains("truststore is needed"), "{e}");
            tls_server_config(
                &props(&[
                    ("ssl.keystore.location", &keystore),
                    ("ssl.client.auth", mode),
                    ("ssl.truststore.type", "PEM"),
                    ("ssl.truststore.location", &truststore),
                ]),
                LISTENERS_HTTPS_PREFIX,
            )
            .unwrap();
            tls_server_config(
                &props(&[
                    ("ssl.keystore.location", &keystore),
                    ("ssl.client.auth", mode),
                    ("ssl.truststore.certificates", &ca.replace('\n', " ")),
                ]),
                LISTENERS_HTTPS_PREFIX,
            )
            .unwrap();
        }
        let e = tls_error(
            &props(&[
                ("ssl.keystore.location", &keystore),
                ("ssl.client.auth", "required"),
                ("ssl.truststore.type", "PKCS12"),
                ("ssl.truststore.location", &truststore),
            ]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(
            e.contains("ssl.truststore.type=PKCS12 is not supported"),
            "{e}"
        );
        let e = tls_error(
            &props(&[
                ("ssl.keystore.location", &keystore),
                ("ssl.client.auth", "sometimes"),
            ]),
            LISTENERS_HTTPS_PREFIX,
        );
        assert!(e.contains("ssl.client.auth"), "{e}");
    }

    #[test]
    fn pem_is_rewrapped() {
        let one_line = "junk -----BEGIN CERTIFICATE----- QUJD REVG -----END CERTIFICATE----- tail";
        assert_eq!(
            normalize_pem(one_line),
            "-----BEGIN CERTIFICATE-----\nQUJDREVG\n-----END CERTIFICATE-----\n"
        );
        let long = format!(
            "-----BEGIN PRIVATE KEY-----{}-----END PRIVATE KEY-----",
            "A".repeat(70)
        );
        assert_eq!(
            normalize_pem(&long),
            format!(
                "-----BEGIN PRIVATE KEY-----\n{}\n{}\n-----END PRIVATE KEY-----\n",
                "A".repeat(64),
                "A".repeat(6)
            )
        );
    }

    #[test]
    fn cors_is_off_unless_an_origin_is_set() {
        assert!(cors_layer(&worker_config(&[])).unwrap().is_none());
        assert!(
            cors_layer(&worker_config(&[("access.control.allow.methods", "GET")]))
                .unwrap()
                .is_none()
        );
        assert!(
            cors_layer(&worker_config(&[("access.control.allow.origin", "*")]))
                .unwrap()
                .is_some()
        );
        let e = cors_layer(&worker_config(&[
            ("access.control.allow.origin", "https://ui.example.com"),
            ("access.control.allow.methods", "GET,NOT A METHOD"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(e.contains("access.control.allow.methods"), "{e}");
    }

    #[test]
    fn origin_patterns_follow_jetty() {
        let patterns = origin_patterns("https://ui.example.com, http://*.test.io").unwrap();
        let allowed = |o: &str| patterns.iter().any(|p| p.is_match(o));
        assert!(allowed("https://ui.example.com"));
        assert!(allowed("http://a.test.io"));
        assert!(allowed("http://a.b.test.io"));
        assert!(!allowed("http://ui.example.com"));
        assert!(!allowed("https://ui.example.com.evil.org"));
        assert!(!allowed("http://test.io"));
        assert!(!allowed("http://a.testxio"));
        let any = origin_patterns("*").unwrap();
        assert!(any[0].is_match("http://anything:1234"));
    }
}
