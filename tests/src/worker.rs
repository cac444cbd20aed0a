//! The `sluice` binary run as a child process: start, readiness, signals, restart.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use crate::process::{ManagedChild, append_log_line, read_log, report_log_if_panicking};
use crate::properties::{PropertyPair, to_owned_pairs, write_properties};

/// How long [`WorkerProcess::wait_ready`] waits.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long [`WorkerProcess::terminate`] lets the worker shut down after SIGTERM.
const TERMINATE_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the worker log printed when a test panics.
const LOG_LINES_ON_FAILURE: usize = 200;

/// The `sluice` executable the tests run.
///
/// `$SLUICE_BIN` if set; otherwise `sluice` in the Cargo profile directory of the running test
/// binary, of `$CARGO_TARGET_DIR/debug`, or of `<workspace>/target/debug`, whichever exists
/// first. Panics, saying to run `cargo build --bins`, when none does.
pub fn sluice_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("SLUICE_BIN") {
        return PathBuf::from(path);
    }
    let mut candidates = Vec::new();
    // Test binaries live in <target>/<profile>/deps/.
    if let Ok(exe) = std::env::current_exe()
        && let Some(profile_dir) = exe.parent().and_then(Path::parent)
    {
        candidates.push(profile_dir.join("sluice"));
    }
    if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(crate::workspace_root().join(target).join("debug/sluice"));
    }
    candidates.push(crate::workspace_root().join("target/debug/sluice"));
    candidates
        .iter()
        .find(|candidate| candidate.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the sluice binary is not built (looked at {candidates:?}): run \
                 `cargo build --bins` first (scripts/test.sh does), or set SLUICE_BIN"
            )
        })
}

enum Mode {
    Standalone { connector_files: Vec<PathBuf> },
    Distributed,
}

/// How to start a worker, before it starts: mode, worker properties, environment.
///
/// Unless [`WorkerCommand::without_defaults`] is called, the harness adds
/// `listeners=http://127.0.0.1:<free port>` when `listeners` is not given and, in standalone
/// mode, `offset.storage.file.filename=<worker dir>/connect.offsets` when not given.
pub struct WorkerCommand {
    mode: Mode,
    props: Vec<(String, String)>,
    env: Vec<(String, String)>,
    add_defaults: bool,
}

impl WorkerCommand {
    /// `sluice standalone <worker.properties> <connector files...>`.
    pub fn standalone(
        worker_props: impl IntoIterator<Item: PropertyPair>,
        connector_files: impl IntoIterator<Item: AsRef<Path>>,
    ) -> Self {
        let connector_files = connector_files
            .into_iter()
            .map(|file| absolute(file.as_ref()))
            .collect();
        Self {
            mode: Mode::Standalone { connector_files },
            props: to_owned_pairs(worker_props),
            env: Vec::new(),
            add_defaults: true,
        }
    }

    /// `sluice distributed <worker.properties>`.
    pub fn distributed(worker_props: impl IntoIterator<Item: PropertyPair>) -> Self {
        Self {
            mode: Mode::Distributed,
            props: to_owned_pairs(worker_props),
            env: Vec::new(),
            add_defaults: true,
        }
    }

    /// Sets environment variables for the worker (kept across restarts).
    pub fn with_env(mut self, env: impl IntoIterator<Item: PropertyPair>) -> Self {
        self.env.extend(to_owned_pairs(env));
        self
    }

    /// Writes the worker properties exactly as given, adding no `listeners` or offset file.
    pub fn without_defaults(mut self) -> Self {
        self.add_defaults = false;
        self
    }

    /// Writes the properties file into a fresh temporary directory and starts the worker. Does
    /// not wait for it: see [`WorkerProcess::wait_ready`].
    pub fn spawn(self) -> WorkerProcess {
        let binary = sluice_bin();
        let dir = crate::temp_dir();
        let mut props = self.props;
        let has = |props: &[(String, String)], key: &str| props.iter().any(|(k, _)| k == key);
        if self.add_defaults {
            if !has(&props, "listeners") {
                let listener = format!("http://127.0.0.1:{}", crate::free_port());
                props.push(("listeners".to_owned(), listener));
            }
            if matches!(self.mode, Mode::Standalone { .. })
                && !has(&props, "offset.storage.file.filename")
            {
                let offsets = dir.path().join("connect.offsets");
                props.push((
                    "offset.storage.file.filename".to_owned(),
                    offsets.display().to_string(),
                ));
            }
        }
        let rest_url = rest_url_from_listeners(
            props
                .iter()
                .rev()
                .find(|(k, _)| k == "listeners")
                .map(|(_, v)| v.as_str()),
        );
        let properties_path = write_properties(dir.path().join("worker.properties"), &props);
        let mut args: Vec<OsString> = Vec::new();
        match &self.mode {
            Mode::Standalone { connector_files } => {
                args.push("standalone".into());
                args.push(properties_path.clone().into());
                args.extend(connector_files.iter().map(|f| f.clone().into_os_string()));
            }
            Mode::Distributed => {
                args.push("distributed".into());
                args.push(properties_path.clone().into());
            }
        }
        let log_path = dir.path().join("worker.log");
        let child = start_child(&binary, &args, &self.env, dir.path(), &log_path);
        WorkerProcess {
            binary,
            args,
            env: self.env,
            properties_path,
            log_path,
            rest_url,
            child,
            dir,
        }
    }
}

/// A running (or exited) `sluice` worker; SIGKILLed when dropped. When the test panics, the
/// tail of its log is printed.
///
/// Output (stdout and stderr, every run after restarts) goes to [`WorkerProcess::log_text`].
/// The worker runs in its own temporary directory ([`WorkerProcess::dir`]).
pub struct WorkerProcess {
    binary: PathBuf,
    args: Vec<OsString>,
    env: Vec<(String, String)>,
    properties_path: PathBuf,
    log_path: PathBuf,
    rest_url: String,
    child: ManagedChild,
    dir: TempDir,
}

impl WorkerProcess {
    /// Starts `sluice standalone` with these worker properties and connector config files (see
    /// [`WorkerCommand`] for the defaults added). Does not wait for readiness.
    pub fn standalone(
        worker_props: impl IntoIterator<Item: PropertyPair>,
        connector_files: impl IntoIterator<Item: AsRef<Path>>,
    ) -> Self {
        WorkerCommand::standalone(worker_props, connector_files).spawn()
    }

    /// Starts `sluice distributed` with these worker properties. Does not wait for readiness.
    pub fn distributed(worker_props: impl IntoIterator<Item: PropertyPair>) -> Self {
        WorkerCommand::distributed(worker_props).spawn()
    }

    /// Waits until `GET /` answers 200, for up to 30 s. Panics with the log if the worker exits
    /// or does not answer in time.
    pub async fn wait_ready(&mut self) {
        self.wait_ready_within(READY_TIMEOUT).await;
    }

    /// [`WorkerProcess::wait_ready`] with another time limit.
    pub async fn wait_ready_within(&mut self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let root = format!("{}/", self.rest_url);
        loop {
            if let Some(status) = self.child.try_wait() {
                panic!(
                    "the worker exited ({status}) before its REST API answered; log:\n{}",
                    self.log_text()
                );
            }
            let last_answer = match crate::rest::request(reqwest::Method::GET, &root, None).await {
                Ok((200, _)) => return,
                Ok((status, body)) => format!("HTTP {status}: {body}"),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                panic!(
                    "the worker's REST API at {root} did not answer 200 within {timeout:?} \
                     (last: {last_answer}); log:\n{}",
                    self.log_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The REST API's base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn rest_url(&self) -> &str {
        &self.rest_url
    }

    /// The REST API's URL for `path` (which starts with `/`), e.g. `url("/connectors")`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.rest_url)
    }

    /// The process id of the current run.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// `true` while the current run has not exited.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().is_none()
    }

    /// The exit status of the current run, `None` while it runs.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait()
    }

    /// Kills the worker with SIGKILL (no shutdown at all) and reaps it.
    pub fn kill_9(&mut self) -> ExitStatus {
        self.child.kill()
    }

    /// Sends SIGTERM and waits for the worker to exit, returning its exit status. Panics (after
    /// a SIGKILL) if it is still running 30 s later.
    pub async fn terminate(&mut self) -> ExitStatus {
        match self.terminate_within(TERMINATE_TIMEOUT).await {
            Some(status) => status,
            None => {
                self.child.kill();
                panic!(
                    "the worker did not exit within {TERMINATE_TIMEOUT:?} of SIGTERM; log:\n{}",
                    self.log_text()
                );
            }
        }
    }

    /// Sends SIGTERM and waits up to `timeout`; `None` if the worker is still running then
    /// (it is left running).
    pub async fn terminate_within(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.signal(Signal::SIGTERM);
        self.child.wait_exit(timeout).await
    }

    /// Sends a signal to the worker (e.g. SIGINT, SIGSTOP, SIGCONT) without waiting.
    pub fn send_signal(&mut self, signal: Signal) {
        self.child.signal(signal);
    }

    /// Waits up to `timeout` for the worker to exit by itself; `None` if it is still running.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.child.wait_exit(timeout).await
    }

    /// Starts the worker again with the same arguments, files and environment (keeping its
    /// directory, REST port and log). A still-running worker is first stopped as by
    /// [`WorkerProcess::terminate`]. Does not wait for readiness.
    pub async fn restart(&mut self) {
        if self.is_running() {
            self.terminate().await;
        }
        append_log_line(&self.log_path, "===== sluice-tests: worker restarted =====");
        self.child = start_child(
            &self.binary,
            &self.args,
            &self.env,
            self.dir.path(),
            &self.log_path,
        );
    }

    /// Everything the worker has written to stdout and stderr so far, over all runs.
    pub fn log_text(&self) -> String {
        read_log(&self.log_path)
    }

    /// The log file.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The worker properties file the harness wrote.
    pub fn properties_path(&self) -> &Path {
        &self.properties_path
    }

    /// The worker's temporary directory (its working directory; removed on drop).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        report_log_if_panicking("worker", &self.log_path, LOG_LINES_ON_FAILURE);
    }
}

fn start_child(
    binary: &Path,
    args: &[OsString],
    env: &[(String, String)],
    dir: &Path,
    log_path: &Path,
) -> ManagedChild {
    let mut command = Command::new(binary);
    command.args(args).current_dir(dir);
    if std::env::var_os("RUST_BACKTRACE").is_none() {
        command.env("RUST_BACKTRACE", "1");
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    ManagedChild::spawn("the sluice worker", command, log_path)
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()))
}

/// The base URL for the first listener: `http://host:port`, with a wildcard host replaced by
/// 127.0.0.1. Without listeners, Kafka Connect's default port 8083.
fn rest_url_from_listeners(listeners: Option<&str>) -> String {
    let first = listeners
        .and_then(|l| l.split(',').map(str::trim).find(|l| !l.is_empty()))
        .unwrap_or("http://:8083");
    let (scheme, address) = first.split_once("://").unwrap_or(("http", first));
    let (host, port) = address.rsplit_once(':').unwrap_or((address, "8083"));
    let host = match host {
        "" | "0.0.0.0" | "[::]" | "::" => "127.0.0.1",
        other => other,
    };
    format!("{}://{host}:{port}", scheme.to_ascii_lowercase())
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_url_comes_from_the_first_listener() {
        assert_eq!(
            rest_url_from_listeners(Some("http://127.0.0.1:18083,http://localhost:9")),
            "http://127.0.0.1:18083"
        );
        assert_eq!(
            rest_url_from_listeners(Some("HTTP://0.0.0.0:8084")),
            "http://127.0.0.1:8084"
        );
        assert_eq!(rest_url_from_listeners(None), "http://127.0.0.1:8083");
    }
}
