//! The REST server: one HTTP or HTTPS listener per URL of `listeners` and `admin.listeners`,
//! all serving the one router of [`super::router`], each wrapped in what its role needs.
//!
//! * Main listeners (`listeners`): basic authentication and CORS when configured. When
//!   `admin.listeners` is set (even to nothing), `/admin` paths answer 404 there.
//! * Admin listeners (`admin.listeners`): only `/admin` paths; other paths answer 404. As in
//!   Kafka, REST extensions (basic authentication) and CORS apply to the main listeners only, so
//!   bind admin listeners to a trusted interface.
//!
//! Every rejection carries Connect's error body `{"error_code": N, "message": "..."}`.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use rustls::ServerConfig;
use sluice_config::{ListenerScheme, RestListener, WorkerConfig};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

use super::ApiError;
pub use super::security::SecurityError;
use super::security::{
    ADMIN_LISTENERS_HTTPS_PREFIX, BasicAuth, LISTENERS_HTTPS_PREFIX, cors_layer,
    require_basic_auth, tls_server_config,
};

/// How long a client may take to finish the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// TLS handshakes in progress at once on one listener; more connections wait to be accepted.
const MAX_CONCURRENT_HANDSHAKES: usize = 256;

/// Why the REST server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// TLS, basic authentication or CORS settings are unusable.
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// A listener's address could not be bound.
    #[error("cannot listen on {address} for the REST listener {url}: {source}")]
    Bind {
        /// The listener as configured.
        url: String,
        /// The address it binds.
        address: SocketAddr,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A listener stopped with an I/O error.
    #[error("the REST listener {url} failed: {source}")]
    Serve {
        /// The listener as configured.
        url: String,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Which paths a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminPaths {
    /// Every path, `/admin` included: the main listeners when `admin.listeners` is unset.
    Included,
    /// Every path but `/admin`: the main listeners when `admin.listeners` is set.
    Excluded,
    /// Only `/admin` paths: the admin listeners.
    Only,
}

impl AdminPaths {
    /// Whether a request for `path` is served under this policy.
    pub fn allows(self, path: &str) -> bool {
        match self {
            Self::Included => true,
            Self::Excluded => !is_admin_path(path),
            Self::Only => is_admin_path(path),
        }
    }
}

/// `/admin` and everything under `/admin/`.
pub fn is_admin_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// Wraps `router` in the filter of `policy`: paths it does not allow answer 404 with the same
/// body as an unknown path, as they would on a Kafka listener without those resources.
pub fn filter_admin_paths(router: Router, policy: AdminPaths) -> Router {
    if policy == AdminPaths::Included {
        return router;
    }
    router.layer(middleware::from_fn_with_state(policy, admin_filter))
}

async fn admin_filter(State(policy): State<AdminPaths>, request: Request, next: Next) -> Response {
    if policy.allows(request.uri().path()) {
        next.run(request).await
    } else {
        ApiError::not_found("HTTP 404 Not Found").into_response()
    }
}

/// One listener the server is bound to.
#[derive(Debug, Clone)]
pub struct BoundListener {
    /// The listener as configured, `scheme://host:port`.
    pub url: String,
    /// http or https.
    pub scheme: ListenerScheme,
    /// The address actually bound (the real port when the configured one is 0).
    pub local_addr: SocketAddr,
    /// The paths it serves.
    pub admin_paths: AdminPaths,
}

/// Every listener bound, with the security settings checked: nothing is served yet. Binding
/// first lets a worker fail at once on a port in use or a bad certificate.
pub struct BoundServer {
    listeners: Vec<(BoundListener, TcpListener, Option<TlsAcceptor>)>,
    basic_auth: Option<Arc<BasicAuth>>,
    cors: Option<tower_http::cors::CorsLayer>,
}

impl BoundServer {
    /// Checks the security settings (TLS, basic authentication with `KAFKA_OPTS` from the
    /// environment, CORS) and binds every listener of `listeners` and `admin.listeners`.
    pub async fn bind(config: &WorkerConfig) -> Result<Self, ServerError> {
        let kafka_opts = std::env::var("KAFKA_OPTS").ok();
        let basic_auth = BasicAuth::from_config(config, kafka_opts.as_deref())?.map(Arc::new);
        let cors = cors_layer(config)?;

        let main_policy = match config.admin_listeners() {
            None => AdminPaths::Included,
            Some(_) => AdminPaths::Excluded,
        };
        let mut planned: Vec<(&RestListener, AdminPaths, &'static str)> = config
            .listeners()
            .iter()
            .map(|l| (l, main_policy, LISTENERS_HTTPS_PREFIX))
            .collect();
        planned.extend(
            config
                .admin_listeners()
                .unwrap_or_default()
                .iter()
                .map(|l| (l, AdminPaths::Only, ADMIN_LISTENERS_HTTPS_PREFIX)),
        );

        let mut tls_configs: Vec<(&'static str, Arc<ServerConfig>)> = Vec::new();
        let mut listeners = Vec::new();
        for (listener, admin_paths, tls_prefix) in planned {
            let acceptor = match listener.scheme() {
                ListenerScheme::Http => None,
                ListenerScheme::Https => {
                    let tls = match tls_configs.iter().find(|(p, _)| *p == tls_prefix) {
                        Some((_, tls)) => tls.clone(),
                        None => {
                            let tls = tls_server_config(config.props(), tls_prefix)?;
                            tls_configs.push((tls_prefix, tls.clone()));
                            tls
                        }
                    };
                    Some(TlsAcceptor::from(tls))
                }
            };
            let url = listener.url();
            let address = listener.bind_addr();
            let bind_error = |source| ServerError::Bind {
                url: url.clone(),
                address,
                source,
            };
            let tcp = TcpListener::bind(address).await.map_err(bind_error)?;
            let local_addr = tcp.local_addr().map_err(bind_error)?;
            listeners.push((
                BoundListener {
                    url,
                    scheme: listener.scheme(),
                    local_addr,
                    admin_paths,
                },
                tcp,
                acceptor,
            ));
        }
        Ok(Self {
            listeners,
            basic_auth,
            cors,
        })
    }

    /// The listeners bound.
    pub fn listeners(&self) -> Vec<BoundListener> {
        self.listeners.iter().map(|(l, _, _)| l.clone()).collect()
    }

    /// Serves `router` on every listener until `shutdown` is cancelled; then each listener stops
    /// accepting and finishes the requests under way.
    pub fn serve(self, router: Router, shutdown: CancellationToken) -> ServerHandles {
        let mut tasks = Vec::new();
        let mut bound = Vec::new();
        for (listener, tcp, acceptor) in self.listeners {
            let mut app = filter_admin_paths(router.clone(), listener.admin_paths);
            // Kafka registers REST extensions and the CORS filter on the main listeners only.
            if listener.admin_paths != AdminPaths::Only {
                if let Some(auth) = &self.basic_auth {
                    app = app.layer(middleware::from_fn_with_state(
                        auth.clone(),
                        require_basic_auth,
                    ));
                }
                if let Some(cors) = &self.cors {
                    app = app.layer(cors.clone());
                }
            }
            tracing::info!(
                listener = %listener.url,
                address = %listener.local_addr,
                admin = ?listener.admin_paths,
                "REST listener ready"
            );
            let stop = shutdown.clone().cancelled_owned();
            let url = listener.url.clone();
            let task =
                match acceptor {
                    None => tokio::spawn(async move {
                        axum::serve(tcp, app).with_graceful_shutdown(stop).await
                    }),
                    Some(acceptor) => tokio::spawn(async move {
                        let tls = TlsListener::start(tcp, acceptor)?;
                        axum::serve(tls, app).with_graceful_shutdown(stop).await
                    }),
                };
            tasks.push((url, task));
            bound.push(listener);
        }
        ServerHandles {
            listeners: bound,
            tasks,
        }
    }
}

/// Binds and serves in one step: [`BoundServer::bind`] then [`BoundServer::serve`].
pub async fn serve(
    router: Router,
    config: &WorkerConfig,
    shutdown: CancellationToken,
) -> Result<ServerHandles, ServerError> {
    Ok(BoundServer::bind(config).await?.serve(router, shutdown))
}

/// The running listeners.
pub struct ServerHandles {
    listeners: Vec<BoundListener>,
    tasks: Vec<(String, JoinHandle<io::Result<()>>)>,
}

impl ServerHandles {
    /// The listeners served.
    pub fn listeners(&self) -> &[BoundListener] {
        &self.listeners
    }

    /// Waits until every listener has stopped (after the shutdown token is cancelled); the
    /// first error, if any.
    pub async fn wait(self) -> Result<(), ServerError> {
        let mut first_error = None;
        for (url, task) in self.tasks {
            let result = match task.await {
                Ok(result) => result,
                Err(e) => Err(io::Error::other(e.to_string())),
            };
            if let Err(source) = result
                && first_error.is_none()
            {
                first_error = Some(ServerError::Serve { url, source });
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// A listener whose connections have finished the TLS handshake. Handshakes run in their own
/// tasks, so a slow or silent client holds up no one else.
struct TlsListener {
    handshaken: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local_addr: SocketAddr,
    _accept_task: AbortOnDrop,
}

/// Aborts the task when dropped: the accept loop ends with its listener.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl TlsListener {
    fn start(tcp: TcpListener, acceptor: TlsAcceptor) -> io::Result<Self> {
        let local_addr = tcp.local_addr()?;
        let (sender, handshaken) = mpsc::channel(64);
        let accept_task = tokio::spawn(async move {
            let handshakes = Arc::new(Semaphore::new(MAX_CONCURRENT_HANDSHAKES));
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else {
                    return;
                };
                let (stream, peer) = match tcp.accept().await {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: wait rather than spin.
                        tracing::warn!(error = %e, "REST listener {local_addr}: accept failed");
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                let acceptor = acceptor.clone();
                let sender = sender.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(tls)) => {
                            let _ = sender.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        }
                        Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(Self {
            handshaken,
            local_addr,
            _accept_task: AbortOnDrop(accept_task),
        })
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.handshaken.recv().await {
            Some(accepted) => accepted,
            // The accept loop never ends while this listener holds it.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local_addr)
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::routing::get;
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use sluice_config::{Mode, Props};
    use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
    use tower::ServiceExt;

    use super::*;

    fn test_router() -> Router {
        Router::new()
            .route("/", get(|| async { "root" }))
            .route("/admin/loggers", get(|| async { "loggers" }))
            .fallback(|| async { ApiError::not_found("HTTP 404 Not Found") })
    }

    async fn call(router: &Router, path: &str) -> (StatusCode, String) {
        let response = router
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    const NOT_FOUND_BODY: &str = r#"{"error_code":404,"message":"HTTP 404 Not Found"}"#;

    #[test]
    fn admin_paths() {
        for path in [
            "/admin",
            "/admin/",
            "/admin/loggers",
            "/admin/loggers/org.foo",
        ] {
            assert!(is_admin_path(path), "{path}");
        }
        for path in ["/", "/administrator", "/connectors/admin", "/adminloggers"] {
            assert!(!is_admin_path(path), "{path}");
        }
        assert!(AdminPaths::Included.allows("/admin/loggers"));
        assert!(AdminPaths::Included.allows("/connectors"));
        assert!(!AdminPaths::Excluded.allows("/admin/loggers"));
        assert!(AdminPaths::Excluded.allows("/connectors"));
        assert!(AdminPaths::Only.allows("/admin/loggers"));
        assert!(!AdminPaths::Only.allows("/connectors"));
    }

    #[tokio::test]
    async fn admin_filter_answers_404_with_the_error_body() {
        let included = filter_admin_paths(test_router(), AdminPaths::Included);
        assert_eq!(call(&included, "/").await, (StatusCode::OK, "root".into()));
        assert_eq!(
            call(&included, "/admin/loggers").await,
            (StatusCode::OK, "loggers".into())
        );

        let excluded = filter_admin_paths(test_router(), AdminPaths::Excluded);
        assert_eq!(call(&excluded, "/").await, (StatusCode::OK, "root".into()));
        assert_eq!(
            call(&excluded, "/admin/loggers").await,
            (StatusCode::NOT_FOUND, NOT_FOUND_BODY.into())
        );
        assert_eq!(
            call(&excluded, "/admin/loggers?x=1").await,
            (StatusCode::NOT_FOUND, NOT_FOUND_BODY.into())
        );

        let only = filter_admin_paths(test_router(), AdminPaths::Only);
        assert_eq!(
            call(&only, "/").await,
            (StatusCode::NOT_FOUND, NOT_FOUND_BODY.into())
        );
        assert_eq!(
            call(&only, "/admin/loggers").await,
            (StatusCode::OK, "loggers".into())
        );
    }

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

    /// Sends `GET path` over `stream` and returns the status line and body.
    async fn get_over<S: AsyncRead + AsyncWrite + Unpin>(mut stream: S, path: &str) -> String {
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let status = response.lines().next().unwrap_or_default().to_owned();
        let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
        format!("{status} {body}")
    }

    #[tokio::test]
    async fn serves_http_https_and_admin_listeners() {
        let dir = tempfile::tempdir().unwrap();
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        let keystore = dir.path().join("keystore.pem");
        std::fs::write(
            &keystore,
            format!("{}{}", cert.cert.pem(), cert.signing_key.serialize_pem()),
        )
        .unwrap();
        let config = worker_config(&[
            ("listeners", "http://127.0.0.1:0,https://127.0.0.1:0"),
            ("admin.listeners", "http://127.0.0.1:0"),
            ("listeners.https.ssl.keystore.type", "PEM"),
            (
                "listeners.https.ssl.keystore.location",
                &keystore.display().to_string(),
            ),
        ]);
        let shutdown = CancellationToken::new();
        let server = serve(test_router(), &config, shutdown.clone())
            .await
            .unwrap();
        let listeners = server.listeners().to_vec();
        let [http, https, admin] = listeners.as_slice() else {
            panic!("{listeners:?}")
        };
        assert_eq!(
            (http.scheme, http.admin_paths),
            (ListenerScheme::Http, AdminPaths::Excluded)
        );
        assert_eq!(
            (https.scheme, https.admin_paths),
            (ListenerScheme::Https, AdminPaths::Excluded)
        );
        assert_eq!(
            (admin.scheme, admin.admin_paths),
            (ListenerScheme::Http, AdminPaths::Only)
        );
        assert_ne!(http.local_addr.port(), 0);

        let tcp = |l: &BoundListener| TcpStream::connect(l.local_addr);
        assert_eq!(
            get_over(tcp(http).await.unwrap(), "/").await,
            "HTTP/1.1 200 OK root"
        );
        assert_eq!(
            get_over(tcp(http).await.unwrap(), "/admin/loggers").await,
            format!("HTTP/1.1 404 Not Found {NOT_FOUND_BODY}")
        );
        assert_eq!(
            get_over(tcp(admin).await.unwrap(), "/admin/loggers").await,
            "HTTP/1.1 200 OK loggers"
        );
        assert_eq!(
            get_over(tcp(admin).await.unwrap(), "/").await,
            format!("HTTP/1.1 404 Not Found {NOT_FOUND_BODY}")
        );

        // HTTPS with the certificate trusted; plain HTTP on that port gets no answer.
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(cert.cert.pem().as_bytes()).unwrap())
            .unwrap();
        let client = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
        let tls = connector
            .connect(
                ServerName::try_from("localhost").unwrap(),
                tcp(https).await.unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(get_over(tls, "/").await, "HTTP/1.1 200 OK root");
        let plain = get_over(tcp(https).await.unwrap(), "/").await;
        assert!(!plain.contains("200"), "{plain}");

        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(10), server.wait())
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn bind_fails_on_a_port_in_use_and_on_bad_tls_settings() {
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let config = worker_config(&[("listeners", &format!("http://127.0.0.1:{port}"))]);
        let err = BoundServer::bind(&config).await.err().unwrap();
        assert!(
            matches!(err, ServerError::Bind { .. }) && err.to_string().contains(&port.to_string()),
            "{err}"
        );

        let config = worker_config(&[("listeners", "https://127.0.0.1:0")]);
        let err = BoundServer::bind(&config).await.err().unwrap();
        assert!(matches!(err, ServerError::Security(_)), "{err}");
        assert!(err.to_string().contains("needs a certificate"), "{err}");

        // Admin https listeners read admin.listeners.https.* (or ssl.*), not listeners.https.*.
        let config = worker_config(&[
            ("listeners", "http://127.0.0.1:0"),
            ("admin.listeners", "https://127.0.0.1:0"),
            ("listeners.https.ssl.keystore.location", "/unused"),
        ]);
        let err = BoundServer::bind(&config).await.err().unwrap();
        assert!(
            err.to_string()
                .contains("admin.listeners.https.ssl.keystore"),
            "{err}"
        );
    }
}
