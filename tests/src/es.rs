//! The Elasticsearch stand-in (`es-standin`, a TEST DOUBLE from `tests/es-standin`), run as a
//! child process on a free port.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::process::{ManagedChild, read_log, report_log_if_panicking};

const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// Options for [`EsStandIn::start_with`].
#[derive(Debug, Clone, Default)]
pub struct EsOptions {
    /// `version.number` to report (default 8.11.1).
    pub version: Option<String>,
    /// Require basic auth with this user and password.
    pub credentials: Option<(String, String)>,
    /// Serve HTTPS with this PEM certificate chain and key.
    pub tls: Option<(String, String)>,
}

/// A running stand-in; killed when dropped.
pub struct EsStandIn {
    process: ManagedChild,
    port: u16,
    tls: bool,
    credentials: Option<(String, String)>,
    dir: TempDir,
    client: reqwest::Client,
}

/// The `es-standin` executable: `$SLUICE_ES_STANDIN_BIN`, else next to the `sluice` binary the
/// tests use, else in the Cargo profile directory of the test binary.
pub fn standin_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SLUICE_ES_STANDIN_BIN") {
        return PathBuf::from(path);
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(profile_dir) = exe.parent().and_then(std::path::Path::parent)
    {
        candidates.push(profile_dir.join("es-standin"));
    }
    if let Some(dir) = crate::sluice_bin().parent() {
        candidates.push(dir.join("es-standin"));
    }
    candidates
        .iter()
        .find(|c| c.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!("es-standin is not built (looked at {candidates:?}): run `cargo build --bins`")
        })
}

impl EsStandIn {
    /// Starts a stand-in with default options.
    pub async fn start() -> EsStandIn {
        Self::start_with(EsOptions::default()).await
    }

    /// Starts a stand-in and waits until it has written its port.
    pub async fn start_with(options: EsOptions) -> EsStandIn {
        let dir = crate::temp_dir();
        let mut args: Vec<String> = Vec::new();
        if let Some(v) = &options.version {
            args.extend(["--es-version".into(), v.clone()]);
        }
        if let Some((u, p)) = &options.credentials {
            args.extend(["--user".into(), u.clone(), "--password".into(), p.clone()]);
        }
        if let Some((cert, key)) = &options.tls {
            let cert_path = dir.path().join("cert.pem");
            let key_path = dir.path().join("key.pem");
            std::fs::write(&cert_path, cert).expect("write cert");
            std::fs::write(&key_path, key).expect("write key");
            args.extend([
                "--cert".into(),
                cert_path.display().to_string(),
                "--key".into(),
                key_path.display().to_string(),
            ]);
        }
        let (process, port) = spawn(&dir, 0, &args).await;
        EsStandIn {
            process,
            port,
            tls: options.tls.is_some(),
            credentials: options.credentials.clone(),
            dir,
            client: crate::http_client_builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("client"),
        }
    }

    /// Base URL.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://127.0.0.1:{}", self.port)
    }

    /// Plain-HTTP URL of the control endpoints (only for a stand-in without TLS).
    fn control(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Injects faults (`POST /_standin/faults`).
    pub async fn faults(&self, spec: Value) {
        let r = self
            .client
            .post(self.control("/_standin/faults"))
            .body(spec.to_string())
            .send()
            .await
            .expect("faults request");
        assert!(
            r.status().is_success(),
            "faults rejected: {:?}",
            r.text().await
        );
    }

    /// Lets held bulks go.
    pub async fn release(&self) {
        self.client
            .post(self.control("/_standin/release"))
            .send()
            .await
            .expect("release");
    }

    /// `GET /_standin/stats`.
    pub async fn stats(&self) -> Value {
        self.get(&self.control("/_standin/stats")).await
    }

    /// `GET /_standin/requests`: the last requests received.
    pub async fn requests(&self) -> Vec<Value> {
        self.get(&self.control("/_standin/requests"))
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn with_auth(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.credentials {
            Some((u, p)) => request.basic_auth(u, Some(p)),
            None => request,
        }
    }

    async fn get(&self, url: &str) -> Value {
        match self.with_auth(self.client.get(url)).send().await {
            Ok(r) => r.json().await.unwrap_or(Value::Null),
            Err(_) => Value::Null,
        }
    }

    /// Live documents in `index` (0 when it does not exist or the stand-in is unreachable).
    pub async fn count(&self, index: &str) -> u64 {
        self.stats().await["indices"][index]["docs"]
            .as_u64()
            .unwrap_or(0)
    }

    /// One document (`GET /{index}/_doc/{id}`), `None` if missing.
    pub async fn doc(&self, index: &str, id: &str) -> Option<Value> {
        let v = self
            .get(&self.control(&format!("/{index}/_doc/{id}")))
            .await;
        (v["found"] == json!(true)).then_some(v)
    }

    /// Every document of `index` (`_search` with a large size).
    pub async fn search_all(&self, index: &str) -> Vec<Value> {
        let r = self
            .with_auth(self.client.post(self.control(&format!("/{index}/_search"))))
            .header("content-type", "application/json")
            .body(json!({"size": 1_000_000, "query": {"match_all": {}}}).to_string())
            .send()
            .await;
        let Ok(r) = r else { return Vec::new() };
        let v: Value = r.json().await.unwrap_or(Value::Null);
        v["hits"]["hits"].as_array().cloned().unwrap_or_default()
    }

    /// Freezes the process (SIGSTOP): connections hang, as with a stalled node.
    pub fn freeze(&mut self) {
        self.process.signal(Signal::SIGSTOP);
    }

    /// Thaws a frozen process (SIGCONT).
    pub fn thaw(&mut self) {
        self.process.signal(Signal::SIGCONT);
    }

    /// The stand-in's log.
    pub fn log_text(&self) -> String {
        read_log(self.process.log_path())
    }
}

async fn spawn(dir: &TempDir, port: u16, args: &[String]) -> (ManagedChild, u16) {
    let port_file = dir.path().join("port");
    let _ = std::fs::remove_file(&port_file);
    let mut command = Command::new(standin_bin());
    command
        .arg("--port")
        .arg(port.to_string())
        .arg("--port-file")
        .arg(&port_file)
        .args(args);
    let log_path = dir.path().join("es-standin.log");
    let mut process = ManagedChild::spawn("es-standin", command, &log_path)
        .unwrap_or_else(|e| panic!("cannot start es-standin: {e}"));
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return (process, port);
        }
        if process.try_wait().is_some() || Instant::now() > deadline {
            panic!("es-standin did not start:\n{}", read_log(&log_path));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

impl Drop for EsStandIn {
    fn drop(&mut self) {
        // A frozen process would not die on SIGTERM-style handling; SIGKILL works either way.
        report_log_if_panicking("es-standin", self.process.log_path(), 30);
        self.process.kill();
        let _ = &self.dir;
    }
}
