//! The HTTP side: a reqwest client on rustls (ring), several node URLs tried in turn, basic auth
//! sent after the server's `WWW-Authenticate` challenge (as the Apache client does, B.15), gzip
//! request bodies, and ES 8 compatibility headers.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::{Method, StatusCode};
use serde::Deserialize;
use serde_json::Value as Json;

use crate::config::EsConfig;

/// A failed HTTP call.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// No response (refused, reset, timed out).
    #[error("{0}")]
    Transport(String),
    /// A non-2xx response.
    #[error("HTTP {status}: {body}")]
    Status {
        /// The status code.
        status: u16,
        /// The response body (an ES error envelope, usually).
        body: String,
    },
    /// A 2xx response that is not the JSON expected.
    #[error("unexpected response: {0}")]
    Body(String),
}

impl CallError {
    /// The ES error type of a status error, if its body is an error envelope.
    pub fn error_type(&self) -> Option<String> {
        match self {
            Self::Status { body, .. } => serde_json::from_str::<Json>(body)
                .ok()?
                .pointer("/error/type")?
                .as_str()
                .map(str::to_owned),
            _ => None,
        }
    }
}

/// Normalises one `connection.url`: scheme added if missing (http), trailing `/` removed.
pub fn parse_url(raw: &str) -> Result<String, String> {
    let raw = raw.trim().trim_end_matches('/');
    if raw.is_empty() {
        return Err("empty URL".into());
    }
    let with_scheme = if raw.contains("://") {
        raw.to_owned()
    } else {
        format!("http://{raw}")
    };
    let url = reqwest::Url::parse(&with_scheme).map_err(|e| e.to_string())?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("unsupported scheme {}", url.scheme()));
    }
    if url.host_str().is_none() {
        return Err("no host".into());
    }
    Ok(with_scheme)
}

/// Talks to the cluster.
pub struct EsClient {
    http: reqwest::Client,
    urls: Vec<String>,
    next_url: AtomicUsize,
    credentials: Option<(String, String)>,
    /// Set after a 401 challenge: credentials go with every later request.
    send_credentials: AtomicBool,
    /// ES ≥ 8: send `compatible-with=7` media types (the HLRC compatibility mode, B.15).
    compat: AtomicBool,
    gzip: bool,
}

/// A response: status and parsed JSON (`Null` when there is no body).
pub type Reply = (StatusCode, Json);

/// A `_bulk` response (D.7), read into just the fields the sink looks at: a bulk of thousands of
/// items is parsed without building a JSON tree for each.
#[derive(Debug, Deserialize)]
pub struct BulkResponse {
    /// Whether any item failed.
    #[serde(default)]
    pub errors: bool,
    /// One entry per action, in request order.
    pub items: Vec<BulkItem>,
}

/// One bulk item: `{"<op>": {...}}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BulkItem {
    /// An `index` action's result.
    Index(ItemResult),
    /// A `create` action's result.
    Create(ItemResult),
    /// An `update` action's result.
    Update(ItemResult),
    /// A `delete` action's result.
    Delete(ItemResult),
}

impl BulkItem {
    /// The result, whatever the operation.
    pub fn result(&self) -> &ItemResult {
        match self {
            Self::Index(r) | Self::Create(r) | Self::Update(r) | Self::Delete(r) => r,
        }
    }
}

/// The outcome of one bulk action.
#[derive(Debug, Default, Deserialize)]
pub struct ItemResult {
    /// The HTTP status of the item.
    #[serde(default)]
    pub status: u16,
    /// The error, when the item failed.
    #[serde(default)]
    pub error: Option<ItemError>,
}

/// An item's error (only the fields the sink uses).
#[derive(Debug, Default, Deserialize)]
pub struct ItemError {
    /// The ES exception type (`mapper_parsing_exception`, ...).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// Why.
    #[serde(default)]
    pub reason: String,
}

impl EsClient {
    /// Builds the client from the task settings.
    pub fn new(config: &EsConfig) -> Result<Self, String> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .timeout(config.read_timeout.max(std::time::Duration::from_millis(1)))
            .pool_max_idle_per_host((2 * config.max_in_flight).max(10))
            .no_proxy();
        if let Some(idle) = config.idle_timeout {
            builder = builder.pool_idle_timeout(idle);
        }
        if let Some((host, port, creds)) = &config.proxy {
            let mut proxy =
                reqwest::Proxy::all(format!("http://{host}:{port}")).map_err(|e| e.to_string())?;
            if let Some((u, p)) = creds {
                proxy = proxy.basic_auth(u, p);
            }
            builder = builder.proxy(proxy);
        }
        // reqwest has no crypto provider of its own here (ring is ours), so it always gets a
        // ready rustls config; plain-HTTP clients get one that trusts nothing.
        let tls = if config.urls.iter().any(|u| u.starts_with("https://")) {
            tls_config(config)?
        } else {
            rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(rustls::RootCertStore::empty())
            .with_no_client_auth()
        };
        builder = builder.tls_backend_preconfigured(tls);
        let http = builder
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(Self {
            http,
            urls: config.urls.clone(),
            next_url: AtomicUsize::new(0),
            credentials: config.credentials.clone(),
            send_credentials: AtomicBool::new(false),
            compat: AtomicBool::new(false),
            gzip: config.compression,
        })
    }

    /// Turns on the ES 8 compatibility media types.
    pub fn set_compat(&self, on: bool) {
        self.compat.store(on, Ordering::Relaxed);
    }

    /// One request, with the body JSON (or NDJSON for bulk). Tries each URL once on transport
    /// errors, starting from the next in turn; answers a 401 Basic challenge with the credentials.
    pub async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Reply, CallError> {
        let (status, bytes) = self.call(method, path, body).await?;
        let json = if bytes.is_empty() {
            Json::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| CallError::Body(e.to_string()))?
        };
        Ok((status, json))
    }

    /// `POST {path}` with an NDJSON bulk body; the response must hold one item per action
    /// (`actions`).
    pub async fn bulk(
        &self,
        path: &str,
        body: Vec<u8>,
        actions: usize,
    ) -> Result<BulkResponse, CallError> {
        let (_, bytes) = self.call(Method::POST, path, Some(body)).await?;
        let response: BulkResponse = serde_json::from_slice(&bytes).map_err(|e| {
            CallError::Body(format!(
                "not a bulk response ({e}): {}",
                String::from_utf8_lossy(&bytes)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ))
        })?;
        if response.items.len() != actions {
            return Err(CallError::Body(format!(
                "bulk response with {} items for {actions} actions",
                response.items.len()
            )));
        }
        Ok(response)
    }

    /// One request; the status and the raw body of a 2xx answer.
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, bytes::Bytes), CallError> {
        let body = match (body, self.gzip) {
            // Bytes: each try and each URL shares the one buffer.
            (Some(b), true) => Some(bytes::Bytes::from(gzip(&b))),
            (Some(b), false) => Some(bytes::Bytes::from(b)),
            _ => None,
        };
        let start = self.next_url.fetch_add(1, Ordering::Relaxed);
        let mut last_error = None;
        for i in 0..self.urls.len() {
            let base = &self.urls[(start + i) % self.urls.len()];
            match self.send_once(&method, base, path, body.clone()).await {
                Err(CallError::Transport(e)) => {
                    last_error = Some(CallError::Transport(format!("{base}: {e}")))
                }
                other => return other,
            }
        }
        Err(last_error.unwrap_or_else(|| CallError::Transport("no connection.url".into())))
    }

    async fn send_once(
        &self,
        method: &Method,
        base: &str,
        path: &str,
        body: Option<bytes::Bytes>,
    ) -> Result<(StatusCode, bytes::Bytes), CallError> {
        let mut challenged = false;
        loop {
            let mut req = self.http.request(method.clone(), format!("{base}{path}"));
            let media = if self.compat.load(Ordering::Relaxed) {
                "application/vnd.elasticsearch+json;compatible-with=7"
            } else {
                "application/json"
            };
            req = req.header("accept", media);
            if let Some(b) = &body {
                req = req.header("content-type", media).body(b.clone());
                if self.gzip {
                    req = req.header("content-encoding", "gzip");
                }
            }
            if let Some((u, p)) = &self.credentials
                && self.send_credentials.load(Ordering::Relaxed)
            {
                req = req.basic_auth(u, Some(p));
            }
            let response = req
                .send()
                .await
                .map_err(|e| CallError::Transport(describe(&e)))?;
            let status = response.status();
            let basic_challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.to_ascii_lowercase().starts_with("basic"));
            if status == StatusCode::UNAUTHORIZED
                && basic_challenge
                && !challenged
                && self.credentials.is_some()
                && !self.send_credentials.swap(true, Ordering::Relaxed)
            {
                challenged = true;
                continue;
            }
            let bytes = response
                .bytes()
                .await
                .map_err(|e| CallError::Transport(describe(&e)))?;
            if !status.is_success() {
                return Err(CallError::Status {
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&bytes).chars().take(2000).collect(),
                });
            }
            return Ok((status, bytes));
        }
    }

    /// `HEAD {path}`: true for 200, false for 404.
    pub async fn exists(&self, path: &str) -> Result<bool, CallError> {
        match self.request(Method::HEAD, path, None).await {
            Ok(_) => Ok(true),
            Err(CallError::Status { status: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    if e.is_timeout() {
        text.push_str(" (read.timeout.ms or connection.timeout.ms exceeded)");
    }
    text
}

fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

/// rustls on the ring provider: the CA file if given (PEM), else the system roots.
fn tls_config(config: &EsConfig) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    match &config.ca_file {
        Some(path) => {
            let pem =
                std::fs::read(path).map_err(|e| format!("cannot read trust store {path}: {e}"))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("trust store {path}: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("trust store {path}: {e}"))?;
            }
            if roots.is_empty() {
                return Err(format!("trust store {path} holds no PEM certificate"));
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let roots = Arc::new(roots);
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let config = if config.verify_hostname {
        builder.with_root_certificates(roots).with_no_client_auth()
    } else {
        let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider)
            .build()
            .map_err(|e| e.to_string())?;
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoHostnameVerifier(inner)))
            .with_no_client_auth()
    };
    Ok(config)
}

/// Checks the chain but not the host name (`ssl.endpoint.identification.algorithm=""`).
#[derive(Debug)]
struct NoHostnameVerifier(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for NoHostnameVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForName))
            | Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_a_scheme_and_lose_the_slash() {
        assert_eq!(parse_url("es:9200/").unwrap(), "http://es:9200");
        assert_eq!(parse_url("https://es:9200").unwrap(), "https://es:9200");
        assert!(parse_url("ftp://x").is_err());
        assert!(parse_url("").is_err());
    }

    #[test]
    fn bulk_responses_are_read_into_their_outcomes() {
        let body = br#"{"took":3,"errors":true,"items":[
            {"index":{"_index":"t","_id":"1","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},
            {"create":{"_index":"t","_id":"2","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[2]: version conflict","index":"t","shard":"0"}}},
            {"update":{"_index":"t","_id":"3","status":200}},
            {"delete":{"_index":"t","_id":"4","result":"not_found","status":404}}
        ]}"#;
        let response: BulkResponse = serde_json::from_slice(body).expect("a bulk response");
        assert!(response.errors);
        let results: Vec<(u16, Option<&str>)> = response
            .items
            .iter()
            .map(|i| {
                let r = i.result();
                (r.status, r.error.as_ref().map(|e| e.kind.as_str()))
            })
            .collect();
        assert_eq!(
            results,
            vec![
                (201, None),
                (409, Some("version_conflict_engine_exception")),
                (200, None),
                (404, None)
            ]
        );
        assert!(matches!(response.items[1], BulkItem::Create(_)));
        // An unknown operation is not a bulk item.
        assert!(
            serde_json::from_str::<BulkResponse>(r#"{"errors":false,"items":[{"upsert":{}}]}"#)
                .is_err()
        );
    }
}
