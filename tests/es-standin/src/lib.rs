//! # sluice-es-standin: a TEST DOUBLE of Elasticsearch
//!
//! This crate is **not** a product feature and is never shipped: it exists so Sluice's tests and
//! benchmarks can run the Elasticsearch sink against something that answers like Elasticsearch
//! without a JVM. It keeps indices in memory and implements the subset of the REST API the
//! Confluent sink uses (connectors.md B.15), strictly, with Elasticsearch's own error bodies
//! (connectors.md part D):
//!
//! * `GET /`, `HEAD /` (D.2); `HEAD /{index}`, `HEAD /_alias/{name}` (D.3)
//! * `PUT /{index}`, `PUT /_data_stream/{name}` (D.4)
//! * `GET|PUT /{index}/_mapping` (D.5)
//! * `POST|PUT /_bulk`, `POST|PUT /{index}/_bulk` (D.6)
//! * `GET /{index}/_doc/{id}`, `GET|POST /{index}/_count`, `POST /{index}/_refresh`,
//!   `GET|POST /{index}/_search` (match_all and term queries only)
//!
//! Each strict rule carries a comment naming the part-D section it follows. Faults are injected
//! through a control API that real Elasticsearch does not have (`/_standin/...`, never behind
//! authentication):
//!
//! * `POST /_standin/faults` with any of `{"fail_status": 503, "fail_requests": 2,
//!   "fail_body": "circuit_breaking_exception", "item_rejections": 5, "delay_ms": 4000,
//!   "delay_requests": 1, "read_only": ["idx"], "hold_bulks": true}`: whole-bulk failures for the
//!   next N bulk requests, item-level 429 `es_rejected_execution_exception` for the next N bulk
//!   items, a delay before answering (to trip read timeouts), read-only indices (429
//!   `cluster_block_exception` per item), and holding bulks until released;
//! * `POST /_standin/release` lets held bulks go; `POST /_standin/reset` clears faults and data;
//! * `GET /_standin/stats` and `GET /_standin/requests` report what was received.

mod errors;
pub mod mapping;
mod state;

pub use state::{Options, StandIn};

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;

/// PEM-encoded server certificate chain and key, to serve HTTPS.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// Certificate chain, leaf first.
    pub certificate_chain_pem: Vec<u8>,
    /// Private key.
    pub private_key_pem: Vec<u8>,
}

/// Errors starting the stand-in.
#[derive(Debug)]
pub enum StartError {
    /// Binding or serving failed.
    Io(std::io::Error),
    /// The TLS material could not be used.
    Tls(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Tls(e) => write!(f, "TLS setup failed: {e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// A running stand-in server (in this process); stops when dropped.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its shared state, to inspect or inject faults directly from a test.
    pub standin: Arc<StandIn>,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    /// The base URL (`http://127.0.0.1:PORT` or `https://...`).
    pub fn url(&self) -> String {
        let scheme = if self.standin.options.tls {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the stand-in on `listener` until the returned server is dropped.
pub fn spawn(
    listener: TcpListener,
    options: Options,
    tls: Option<TlsFiles>,
) -> Result<Server, StartError> {
    let addr = listener.local_addr().map_err(StartError::Io)?;
    let mut options = options;
    options.tls = tls.is_some();
    let standin = Arc::new(StandIn::new(options));
    let app = state::router(standin.clone());
    let task = match tls {
        None => tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }),
        Some(files) => {
            let acceptor = tls_acceptor(&files)?;
            tokio::spawn(async move {
                let _ = axum::serve(tls_listener::TlsListener { listener, acceptor }, app).await;
            })
        }
    };
    Ok(Server {
        addr,
        standin,
        task,
    })
}

/// Binds 127.0.0.1:`port` (0 for any free port) and serves there.
pub async fn start(
    port: u16,
    options: Options,
    tls: Option<TlsFiles>,
) -> Result<Server, StartError> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(StartError::Io)?;
    spawn(listener, options, tls)
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, StartError> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(&files.certificate_chain_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StartError::Tls(format!("certificate: {e}")))?;
    let key = PrivateKeyDer::from_pem_slice(&files.private_key_pem)
        .map_err(|e| StartError::Tls(format!("private key: {e}")))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| StartError::Tls(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| StartError::Tls(e.to_string()))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

mod tls_listener {
    use std::net::SocketAddr;

    use tokio::net::{TcpListener, TcpStream};
    use tokio_rustls::TlsAcceptor;
    use tokio_rustls::server::TlsStream;

    /// Accepts TCP connections and completes the TLS handshake inline (a test server: one slow
    /// client may delay others, which does not matter here).
    pub struct TlsListener {
        pub listener: TcpListener,
        pub acceptor: TlsAcceptor,
    }

    impl axum::serve::Listener for TlsListener {
        type Io = TlsStream<TcpStream>;
        type Addr = SocketAddr;

        async fn accept(&mut self) -> (Self::Io, Self::Addr) {
            loop {
                let Ok((stream, peer)) = self.listener.accept().await else {
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                if let Ok(tls) = self.acceptor.accept(stream).await {
                    return (tls, peer);
                }
            }
        }

        fn local_addr(&self) -> std::io::Result<Self::Addr> {
            self.listener.local_addr()
        }
    }
}
