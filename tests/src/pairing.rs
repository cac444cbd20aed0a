//! The `sluice-pairing` job and the `sluice-camera` simulator run as child processes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::kafka::ConsumedRecord;
use crate::process::{ManagedChild, append_log_line, read_log, report_log_if_panicking};
use crate::properties::write_properties;

/// A binary of this workspace: `$env_var` if set, else `name` in the profile directory of the
/// running test, `$CARGO_TARGET_DIR/debug` or `<workspace>/target/debug`. Panics, saying to
/// build it, when none exists.
pub fn workspace_bin(env_var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(env_var) {
        return PathBuf::from(path);
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe()
        && let Some(profile_dir) = exe.parent().and_then(Path::parent)
    {
        candidates.push(profile_dir.join(name));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(
            crate::workspace_root()
                .join(target)
                .join("debug")
                .join(name),
        );
    }
    candidates.push(crate::workspace_root().join("target/debug").join(name));
    candidates
        .iter()
        .find(|candidate| candidate.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{name} is not built (looked at {candidates:?}): run `cargo build --bins` \
                 first (scripts/test.sh does), or set {env_var}"
            )
        })
}

/// The `sluice-pairing` executable (`$SLUICE_PAIRING_BIN` overrides).
pub fn pairing_bin() -> PathBuf {
    workspace_bin("SLUICE_PAIRING_BIN", "sluice-pairing")
}

/// The `sluice-camera` executable (`$SLUICE_CAMERA_BIN` overrides).
pub fn camera_bin() -> PathBuf {
    workspace_bin("SLUICE_CAMERA_BIN", "sluice-camera")
}

/// A running `sluice-pairing`; SIGKILLed when dropped, its log printed if the test panics.
pub struct PairingProcess {
    binary: PathBuf,
    properties_path: PathBuf,
    log_path: PathBuf,
    http_port: u16,
    child: ManagedChild,
    _dir: TempDir,
}

impl PairingProcess {
    /// Starts the job against `bootstrap` with `settings` (added to Tansu's fast consumer group
    /// settings and a free HTTP port). Does not wait: see [`PairingProcess::wait_assigned`].
    pub fn start(bootstrap: &str, settings: &[(&str, &str)]) -> Self {
        let dir = crate::temp_dir();
        let http_port = crate::free_port();
        let mut props: Vec<(String, String)> = vec![
            ("bootstrap.servers".into(), bootstrap.into()),
            ("http.address".into(), format!("127.0.0.1:{http_port}")),
        ];
        props.extend(crate::Tansu::fast_group_props_prefixed("consumer."));
        props.extend(
            settings
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let properties_path = write_properties(dir.path().join("pairing.properties"), &props);
        let log_path = dir.path().join("pairing.log");
        let binary = pairing_bin();
        let child = spawn(&binary, &properties_path, &log_path);
        Self {
            binary,
            properties_path,
            log_path,
            http_port,
            child,
            _dir: dir,
        }
    }

    /// The `/health` answer: status code and body.
    pub async fn health(&self) -> Option<(u16, serde_json::Value)> {
        let url = format!("http://127.0.0.1:{}/health", self.http_port);
        crate::rest::request(reqwest::Method::GET, &url, None)
            .await
            .ok()
    }

    /// The Prometheus text of `/metrics` (empty when it does not answer).
    pub async fn metrics_text(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.http_port);
        crate::rest::request(reqwest::Method::GET, &url, None)
            .await
            .ok()
            .and_then(|(_, body)| body.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// A counter or gauge value from `/metrics` (`name` as exposed, e.g.
    /// `sluice_pairing_records_in_total`).
    pub async fn metric(&self, name: &str) -> Option<f64> {
        self.metrics_text().await.lines().find_map(|line| {
            let (metric, value) = line.split_once(' ')?;
            (metric == name).then(|| value.trim().parse().ok())?
        })
    }

    /// Waits until `/health` is UP with at least `partitions` input partitions assigned.
    pub async fn wait_assigned(&mut self, partitions: i64, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait() {
                panic!(
                    "sluice-pairing exited ({status}); log:\n{}",
                    self.log_text()
                );
            }
            if let Some((200, body)) = self.health().await
                && body["assigned_partitions"].as_i64() >= Some(partitions)
            {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "sluice-pairing did not get {partitions} partitions within {timeout:?}; \
                     log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILL, no shutdown at all.
    pub fn kill_9(&mut self) -> ExitStatus {
        self.child.kill()
    }

    /// SIGTERM, then waits up to 30 s for the exit status (`None` if still running).
    pub async fn terminate(&mut self) -> Option<ExitStatus> {
        self.child.signal(Signal::SIGTERM);
        self.child.wait_exit(Duration::from_secs(30)).await
    }

    /// Starts the job again with the same file (after it has exited or been killed).
    pub fn restart(&mut self) {
        append_log_line(
            &self.log_path,
            "===== sluice-tests: pairing restarted =====",
        );
        self.child = spawn(&self.binary, &self.properties_path, &self.log_path);
    }

    /// Everything the job wrote to stdout and stderr, over all runs.
    pub fn log_text(&self) -> String {
        read_log(&self.log_path)
    }
}

impl Drop for PairingProcess {
    fn drop(&mut self) {
        report_log_if_panicking("sluice-pairing", &self.log_path, 80);
    }
}

fn spawn(binary: &Path, properties: &Path, log_path: &Path) -> ManagedChild {
    let mut command = Command::new(binary);
    command.arg(properties).arg("--table");
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        command.env("RUST_BACKTRACE", "1");
    }
    ManagedChild::spawn("sluice-pairing", command, log_path)
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
}

/// The latest value of each key (as text), parsed as JSON; a null value removes the key, as a
/// compacted topic or a table would.
pub fn latest_by_key(records: &[ConsumedRecord]) -> BTreeMap<String, serde_json::Value> {
    let mut latest = BTreeMap::new();
    for record in records {
        let key = record.key_str().unwrap_or_default();
        match record.value {
            Some(_) => {
                latest.insert(key, record.value_json());
            }
            None => {
                latest.remove(&key);
            }
        }
    }
    latest
}
