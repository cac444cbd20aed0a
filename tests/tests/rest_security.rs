//! End-to-end tests of the REST API's security settings on real standalone workers: https
//! listeners with PEM keystores (certificates made at test time), client certificates, basic
//! authentication (users file, JAAS file from KAFKA_OPTS), CORS and `admin.listeners`.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;
use sluice_tests::{Tansu, WorkerCommand, WorkerProcess, free_port};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

const READY: Duration = Duration::from_secs(30);
const BASIC_AUTH_CLASS: &str =
    "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension";

fn worker_props(tansu: &Tansu, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut props = vec![
        ("bootstrap.servers".to_owned(), tansu.bootstrap()),
        (
            "key.converter".to_owned(),
            "org.apache.kafka.connect.storage.StringConverter".to_owned(),
        ),
        (
            "value.converter".to_owned(),
            "org.apache.kafka.connect.storage.StringConverter".to_owned(),
        ),
    ];
    props.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    props
}

/// A CA, a server certificate for localhost and 127.0.0.1 and a client certificate, all PEM.
struct Pki {
    ca: String,
    server_chain: String,
    server_key: String,
    client_chain: String,
    client_key: String,
}

impl Pki {
    fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: &[&str]| {
            let key = KeyPair::generate().unwrap();
            let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server_chain, server_key) = leaf(&["localhost", "127.0.0.1"]);
        let (client_chain, client_key) = leaf(&["sluice-test-client"]);
        Self {
            ca: ca.as_ref().pem(),
            server_chain,
            server_key,
            client_chain,
            client_key,
        }
    }

    fn write(&self, dir: &Path) -> (String, String) {
        let keystore = dir.join("keystore.pem");
        std::fs::write(
            &keystore,
            format!("{}{}", self.server_key, self.server_chain),
        )
        .unwrap();
        let truststore = dir.join("truststore.pem");
        std::fs::write(&truststore, &self.ca).unwrap();
        (
            keystore.display().to_string(),
            truststore.display().to_string(),
        )
    }

    /// A TLS connector trusting this CA, presenting the client certificate when `with_client`.
    fn connector(&self, with_client: bool) -> TlsConnector {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(self.ca.as_bytes()).unwrap())
            .unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
        let config = if with_client {
            let chain = CertificateDer::pem_slice_iter(self.client_chain.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_slice(self.client_key.as_bytes()).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        TlsConnector::from(Arc::new(config))
    }
}

/// An HTTP answer: status, headers (lower-case names) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// `GET path` over HTTPS to `address` (server name localhost) with `connector`.
async fn https_get(
    connector: &TlsConnector,
    address: SocketAddr,
    path: &str,
) -> io::Result<Answer> {
    let tcp = TcpStream::connect(address).await?;
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tls.read_to_end(&mut raw).await?;
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> io::Result<Answer> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {text:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status line: {head:?}")))?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|t| t.contains("chunked"))
    {
        let mut out = String::new();
        let mut rest = body;
        while let Some((size, after)) = rest.split_once("\r\n") {
            let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            if size == 0 {
                break;
            }
            out.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
        out
    } else {
        body.to_owned()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

/// Polls `probe` until it answers (any status), failing with the log if the worker exits or
/// nothing answers within 30 s.
async fn wait_answering<F, Fut>(worker: &mut WorkerProcess, what: &str, probe: F) -> Answer
where
    F: Fn() -> Fut,
    Fut: Future<Output = io::Result<Answer>>,
{
    let deadline = Instant::now() + READY;
    loop {
        assert!(
            worker.is_running(),
            "the worker exited; log:\n{}",
            worker.log_text()
        );
        let last = match probe().await {
            Ok(answer) => return answer,
            Err(e) => e.to_string(),
        };
        assert!(
            Instant::now() < deadline,
            "{what} did not answer within {READY:?} (last: {last}); log:\n{}",
            worker.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A plain HTTP request with extra headers, as an [`Answer`].
async fn http(
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, &str)],
) -> reqwest::Result<Answer> {
    let client = sluice_tests::http_client_builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut request = client.request(method, url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = response.text().await?;
    Ok(Answer {
        status,
        headers,
        body,
    })
}

async fn get(url: &str, headers: &[(&str, &str)]) -> Answer {
    http(reqwest::Method::GET, url, headers)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

fn basic(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {token}")
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

#[tokio::test]
async fn https_listener_with_a_pem_keystore_file_and_plain_http_beside_it() {
    let tansu = Tansu::start().await;
    let pki = Pki::new();
    let dir = sluice_tests::temp_dir();
    let (keystore, _) = pki.write(dir.path());
    let (http_port, https_port) = (free_port(), free_port());
    let listeners = format!("http://127.0.0.1:{http_port},https://127.0.0.1:{https_port}");
    let mut worker = WorkerProcess::standalone(
        worker_props(
            &tansu,
            &[
                ("listeners", &listeners),
                ("listeners.https.ssl.keystore.type", "PEM"),
                ("listeners.https.ssl.keystore.location", &keystore),
            ],
        ),
        Vec::<&str>::new(),
    );
    worker.wait_ready().await;

    let answer = https_get(&pki.connector(false), loopback(https_port), "/")
        .await
        .unwrap();
    assert_eq!(answer.status, 200, "{answer:?}");
    assert!(answer.json()["version"].is_string(), "{answer:?}");
    let missing = https_get(&pki.connector(false), loopback(https_port), "/nope")
        .await
        .unwrap();
    assert_eq!(
        (missing.status, missing.json()),
        (
            404,
            serde_json::json!({"error_code": 404, "message": "HTTP 404 Not Found"})
        )
    );

    // Plain HTTP on the https port gets no HTTP answer; TLS on the http port fails.
    let plain = http(
        reqwest::Method::GET,
        &format!("http://127.0.0.1:{https_port}/"),
        &[],
    )
    .await;
    assert!(plain.is_err(), "{plain:?}");
    let tls_on_http = https_get(&pki.connector(false), loopback(http_port), "/").await;
    assert!(tls_on_http.is_err(), "{tls_on_http:?}");
    // A client that does not trust the CA refuses the server.
    let other = Pki::new();
    let untrusted = https_get(&other.connector(false), loopback(https_port), "/").await;
    assert!(untrusted.is_err(), "{untrusted:?}");
}

#[tokio::test]
async fn https_only_worker_with_inline_pem_and_required_client_certificates() {
    let tansu = Tansu::start().await;
    let pki = Pki::new();
    let dir = sluice_tests::temp_dir();
    let (_, truststore) = pki.write(dir.path());
    let port = free_port();
    let listeners = format!("https://127.0.0.1:{port}");
    // The plain ssl.* keys, as Kafka falls back to them; PEM text inline.
    let mut worker = WorkerProcess::standalone(
        worker_props(
            &tansu,
            &[
                ("listeners", &listeners),
                ("ssl.keystore.type", "PEM"),
                ("ssl.keystore.certificate.chain", &pki.server_chain),
                ("ssl.keystore.key", &pki.server_key),
                ("ssl.client.auth", "required"),
                ("ssl.truststore.type", "PEM"),
                ("ssl.truststore.location", &truststore),
            ],
        ),
        Vec::<&str>::new(),
    );
    let with_client = pki.connector(true);
    let answer = wait_answering(&mut worker, "the https listener", || {
        https_get(&with_client, loopback(port), "/")
    })
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let status = https_get(&with_client, loopback(port), "/connectors")
        .await
        .unwrap();
    assert_eq!((status.status, status.json()), (200, serde_json::json!([])));

    // Without a client certificate the handshake (or the first read, in TLS 1.3) fails.
    let refused = https_get(&pki.connector(false), loopback(port), "/").await;
    assert!(refused.is_err(), "{refused:?}");
}

#[tokio::test]
async fn basic_auth_from_a_users_file() {
    let tansu = Tansu::start().await;
    let dir = sluice_tests::temp_dir();
    let users = dir.path().join("users.properties");
    std::fs::write(&users, "admin=s3cret\nreader: read:only\n").unwrap();
    let mut worker = WorkerProcess::standalone(
        worker_props(
            &tansu,
            &[
                ("rest.extension.classes", BASIC_AUTH_CLASS),
                ("rest.basic.auth.users.file", &users.display().to_string()),
            ],
        ),
        Vec::<&str>::new(),
    );
    let root = worker.url("/");
    wait_answering(&mut worker, "the REST API", || async {
        http(reqwest::Method::GET, &root, &[])
            .await
            .map_err(io::Error::other)
    })
    .await;

    let expected_body =
        serde_json::json!({"error_code": 401, "message": "User cannot access the resource."});
    for headers in [
        vec![],
        vec![("Authorization", basic("admin", "wrong"))],
        vec![("Authorization", basic("nobody", "s3cret"))],
        vec![("Authorization", "Bearer s3cret".to_owned())],
    ] {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let answer = get(&worker.url("/connectors"), &headers).await;
        assert_eq!(answer.status, 401, "{headers:?}: {answer:?}");
        assert_eq!(answer.json(), expected_body, "{answer:?}");
        assert_eq!(
            answer.headers.get("www-authenticate").map(String::as_str),
            Some("Basic realm=\"Kafka Connect\", charset=\"UTF-8\""),
            "{answer:?}"
        );
    }
    let ok = get(
        &worker.url("/connectors"),
        &[("Authorization", &basic("admin", "s3cret"))],
    )
    .await;
    assert_eq!((ok.status, ok.json()), (200, serde_json::json!([])));
    // The whole value is the password, colons included (Kafka's PropertyFileLoginModule).
    let colon = get(
        &worker.url("/"),
        &[("Authorization", &basic("reader", "read:only"))],
    )
    .await;
    assert_eq!(colon.status, 200, "{colon:?}");
    // Unknown paths are hidden behind authentication too.
    assert_eq!(get(&worker.url("/nope"), &[]).await.status, 401);

    let log = worker.log_text();
    assert!(
        !log.contains("s3cret"),
        "a password reached the log:\n{log}"
    );
}

#[tokio::test]
async fn basic_auth_from_the_jaas_file_in_kafka_opts_spares_the_admin_listener() {
    let tansu = Tansu::start().await;
    let dir = sluice_tests::temp_dir();
    let users = dir.path().join("users.properties");
    std::fs::write(&users, "ops=pa55word\n").unwrap();
    let jaas = dir.path().join("connect_jaas.conf");
    std::fs::write(
        &jaas,
        format!(
            "KafkaConnect {{\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n  file=\"{}\";\n}};\n",
            users.display()
        ),
    )
    .unwrap();
    let (port, admin_port) = (free_port(), free_port());
    let mut worker = WorkerCommand::standalone(
        worker_props(
            &tansu,
            &[
                ("listeners", &format!("http://127.0.0.1:{port}")),
                ("admin.listeners", &format!("http://127.0.0.1:{admin_port}")),
                ("rest.extension.classes", BASIC_AUTH_CLASS),
            ],
        ),
        Vec::<&str>::new(),
    )
    .with_env([(
        "KAFKA_OPTS",
        format!(
            "-Xmx256m -Djava.security.auth.login.config={} -Dfoo=bar",
            jaas.display()
        ),
    )])
    .spawn();
    let root = worker.url("/");
    wait_answering(&mut worker, "the REST API", || async {
        http(reqwest::Method::GET, &root, &[])
            .await
            .map_err(io::Error::other)
    })
    .await;
    assert_eq!(get(&worker.url("/"), &[]).await.status, 401);
    assert_eq!(
        get(
            &worker.url("/"),
            &[("Authorization", &basic("ops", "pa55word"))]
        )
        .await
        .status,
        200
    );
    // As in Kafka, REST extensions apply to the main listeners, not to admin.listeners.
    let admin = get(&format!("http://127.0.0.1:{admin_port}/admin/loggers"), &[]).await;
    assert_eq!(admin.status, 200, "{admin:?}");
}

#[tokio::test]
async fn cors_headers_only_when_configured() {
    let tansu = Tansu::start().await;
    let origin = "https://ui.example.com";
    let mut with_cors = WorkerProcess::standalone(
        worker_props(
            &tansu,
            &[
                ("access.control.allow.origin", origin),
                ("access.control.allow.methods", "GET,POST,PUT,DELETE"),
            ],
        ),
        Vec::<&str>::new(),
    );
    let mut without = WorkerProcess::standalone(worker_props(&tansu, &[]), Vec::<&str>::new());
    with_cors.wait_ready().await;
    without.wait_ready().await;

    let preflight = |url: String, origin: &'static str| async move {
        http(
            reqwest::Method::OPTIONS,
            &url,
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "PUT"),
                ("Access-Control-Request-Headers", "content-type"),
            ],
        )
        .await
        .unwrap()
    };
    let answer = preflight(with_cors.url("/connectors/x/config"), origin).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let header = |a: &Answer, name: &str| a.headers.get(name).cloned().unwrap_or_default();
    assert_eq!(header(&answer, "access-control-allow-origin"), origin);
    assert_eq!(
        header(&answer, "access-control-allow-methods").replace(' ', ""),
        "GET,POST,PUT,DELETE"
    );
    assert_eq!(header(&answer, "access-control-allow-credentials"), "true");
    assert!(
        header(&answer, "access-control-allow-headers").contains("content-type"),
        "{answer:?}"
    );
    let simple = get(&with_cors.url("/"), &[("Origin", origin)]).await;
    assert_eq!(simple.status, 200);
    assert_eq!(header(&simple, "access-control-allow-origin"), origin);

    // Another origin gets no CORS headers.
    let other = preflight(with_cors.url("/connectors"), "https://evil.example.org").await;
    assert!(
        !other.headers.contains_key("access-control-allow-origin"),
        "{other:?}"
    );

    // Not configured: no CORS headers at all, and OPTIONS is not a route.
    let answer = preflight(without.url("/connectors/x/config"), origin).await;
    assert!(
        !answer
            .headers
            .keys()
            .any(|k| k.starts_with("access-control-")),
        "{answer:?}"
    );
    let simple = get(&without.url("/"), &[("Origin", origin)]).await;
    assert_eq!(simple.status, 200);
    assert!(
        !simple.headers.contains_key("access-control-allow-origin"),
        "{simple:?}"
    );
}

#[tokio::test]
async fn admin_listeners_move_the_admin_endpoints() {
    let tansu = Tansu::start().await;
    let not_found = serde_json::json!({"error_code": 404, "message": "HTTP 404 Not Found"});

    // Unset: /admin on the main listener.
    let mut plain = WorkerProcess::standalone(worker_props(&tansu, &[]), Vec::<&str>::new());
    // Set: /admin only on the admin listener.
    let admin_port = free_port();
    let mut split = WorkerProcess::standalone(
        worker_props(
            &tansu,
            &[("admin.listeners", &format!("http://127.0.0.1:{admin_port}"))],
        ),
        Vec::<&str>::new(),
    );
    // Empty: no admin endpoints anywhere.
    let mut disabled = WorkerProcess::standalone(
        worker_props(&tansu, &[("admin.listeners", "")]),
        Vec::<&str>::new(),
    );
    plain.wait_ready().await;
    split.wait_ready().await;
    disabled.wait_ready().await;

    let loggers = get(&plain.url("/admin/loggers"), &[]).await;
    assert_eq!(loggers.status, 200, "{loggers:?}");
    assert!(loggers.json().is_object(), "{loggers:?}");

    let on_main = get(&split.url("/admin/loggers"), &[]).await;
    assert_eq!((on_main.status, on_main.json()), (404, not_found.clone()));
    let on_main = get(&split.url("/admin/loggers/root"), &[]).await;
    assert_eq!((on_main.status, on_main.json()), (404, not_found.clone()));
    let admin_url = format!("http://127.0.0.1:{admin_port}");
    let on_admin = get(&format!("{admin_url}/admin/loggers"), &[]).await;
    assert_eq!(on_admin.status, 200, "{on_admin:?}");
    assert!(on_admin.json().is_object(), "{on_admin:?}");
    // The admin listener serves nothing else.
    let root = get(&format!("{admin_url}/"), &[]).await;
    assert_eq!((root.status, root.json()), (404, not_found.clone()));
    assert_eq!(get(&split.url("/"), &[]).await.status, 200);

    let off = get(&disabled.url("/admin/loggers"), &[]).await;
    assert_eq!((off.status, off.json()), (404, not_found));
}
