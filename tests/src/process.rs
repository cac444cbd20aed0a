//! Child processes that cannot outlive the test that started them.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

/// A spawned broker or worker: its own process group, output appended to a log file, killed
/// (group-wide) and reaped when dropped.
pub(crate) struct ManagedChild {
    child: Child,
    name: String,
    log_path: PathBuf,
    exit_status: Option<ExitStatus>,
}

impl ManagedChild {
    /// Spawns `command` with stdin closed and stdout and stderr appended to `log_path`.
    ///
    /// The child leads a new process group so that [`ManagedChild::kill`] also reaches anything
    /// it forks, and it asks the kernel for SIGKILL when the spawning thread dies, so a test
    /// process killed by a timeout does not leave brokers behind.
    pub(crate) fn spawn(name: &str, mut command: Command, log_path: &Path) -> io::Result<Self> {
        let log = open_log(log_path)?;
        command
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        // SAFETY: the closure runs between fork and exec and only makes the prctl system call,
        // which is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)
            });
        }
        let child = command.spawn()?;
        Ok(Self {
            child,
            name: name.to_owned(),
            log_path: log_path.to_owned(),
            exit_status: None,
        })
    }

    /// The process id (also its process group id).
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    fn nix_pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    /// The exit status if the process has ended (reaping it), `None` while it runs.
    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.exit_status.is_none() {
            match self.child.try_wait() {
                Ok(status) => self.exit_status = status,
                Err(e) => panic!("cannot check whether {} is still running: {e}", self.name),
            }
        }
        self.exit_status
    }

    /// Sends `signal` to the process itself (not its group) while it has not been reaped.
    pub(crate) fn signal(&mut self, signal: Signal) {
        if self.try_wait().is_none() {
            // ESRCH is fine: the process ended between the check and the signal.
            let _ = signal::kill(self.nix_pid(), signal);
        }
    }

    /// Polls until the process exits or `timeout` passes, without blocking the async runtime.
    pub(crate) async fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGKILLs the whole process group and reaps the child.
    pub(crate) fn kill(&mut self) -> ExitStatus {
        if let Some(status) = self.try_wait() {
            return status;
        }
        // The pid cannot have been reused: the child is not reaped yet.
        let _ = signal::killpg(self.nix_pid(), Signal::SIGKILL);
        match self.child.wait() {
            Ok(status) => {
                self.exit_status = Some(status);
                status
            }
            Err(e) => panic!("cannot reap {} after SIGKILL: {e}", self.name),
        }
    }

    /// The log file.
    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }
}

impl Drop for ManagedChild {
    fn drop(&mut self) {
        if self.try_wait().is_none() {
            let _ = signal::killpg(self.nix_pid(), Signal::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn open_log(path: &Path) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

/// Appends a marker line to a log file (e.g. between two runs of a restarted worker).
pub(crate) fn append_log_line(path: &Path, line: &str) {
    if let Ok(mut f) = open_log(path) {
        let _ = writeln!(f, "{line}");
    }
}

/// The whole log file, lossily decoded; empty when it cannot be read.
pub(crate) fn read_log(path: &Path) -> String {
    std::fs::read(path)
        .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        .unwrap_or_default()
}

/// The last `lines` lines of a log file, for failure reports.
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    let text = read_log(path);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all[start..].join("\n")
}

/// Prints the tail of a log to stderr when the current thread is panicking, so that a failed
/// test shows what the process said (the test runner shows stderr of failed tests).
pub(crate) fn report_log_if_panicking(what: &str, path: &Path, lines: usize) {
    if std::thread::panicking() {
        eprintln!(
            "===== last {lines} lines of the {what} log ({}) =====\n{}\n===== end of the {what} log =====",
            path.display(),
            log_tail(path, lines)
        );
    }
}
