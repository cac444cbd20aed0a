//! Mosquitto, an MQTT broker, run as a child process with a generated configuration.

use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{ManagedChild, read_log, report_log_if_panicking};

const READY_TIMEOUT: Duration = Duration::from_secs(15);
const START_ATTEMPTS: usize = 3;

/// A running Mosquitto broker on a free loopback port, anonymous access, no persistence;
/// killed when dropped.
pub struct Mosquitto {
    process: ManagedChild,
    port: u16,
    _dir: TempDir,
}

impl Mosquitto {
    /// Starts a broker and waits until its port accepts TCP connections.
    ///
    /// The binary is `$SLUICE_MOSQUITTO_BIN` if set, else `mosquitto` on `PATH` or in
    /// `/usr/sbin` (the Debian package, installed by `scripts/install-deps.sh`).
    pub async fn start() -> Mosquitto {
        let binary = crate::find_executable(
            "SLUICE_MOSQUITTO_BIN",
            "mosquitto",
            &["/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"],
        )
        .unwrap_or_else(|| {
            panic!("mosquitto not found: run scripts/install-deps.sh or set SLUICE_MOSQUITTO_BIN")
        });
        let mut last_log = String::new();
        for _ in 0..START_ATTEMPTS {
            let dir = crate::temp_dir();
            let port = crate::free_port();
            let config_path = dir.path().join("mosquitto.conf");
            let config = format!(
                "listener {port} 127.0.0.1\n\
                 allow_anonymous true\n\
                 persistence false\n\
                 log_dest stdout\n\
                 log_type error\n\
                 log_type warning\n\
                 log_type notice\n\
                 log_type information\n"
            );
            std::fs::write(&config_path, config)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", config_path.display()));
            let mut command = Command::new(&binary);
            command.arg("-c").arg(&config_path);
            let log_path = dir.path().join("mosquitto.log");
            let process = ManagedChild::spawn("mosquitto", command, &log_path)
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut mosquitto = Mosquitto {
                process,
                port,
                _dir: dir,
            };
            if mosquitto.wait_ready().await {
                return mosquitto;
            }
            mosquitto.process.kill();
            last_log = mosquitto.log_text();
        }
        panic!("Mosquitto did not start in {START_ATTEMPTS} attempts; last log:\n{last_log}");
    }

    async fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if self.process.try_wait().is_some() {
                return false;
            }
            if TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    }

    /// The broker's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's address as `tcp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// Everything the broker has logged so far.
    pub fn log_text(&self) -> String {
        read_log(self.process.log_path())
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        report_log_if_panicking("Mosquitto", self.process.log_path(), 40);
    }
}
