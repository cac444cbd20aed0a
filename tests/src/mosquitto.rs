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
    tls_port: Option<u16>,
    binary: std::path::PathBuf,
    config_path: std::path::PathBuf,
    _dir: TempDir,
}

/// Options for [`Mosquitto::start_with`].
#[derive(Debug, Clone, Default)]
pub struct MosquittoOptions {
    /// Require this user name and password (a password file made with `mosquitto_passwd`);
    /// anonymous access is refused.
    pub credentials: Option<(String, String)>,
    /// Keep sessions and queued messages on disk, so they survive [`Mosquitto::restart`].
    pub persistence: bool,
    /// Also listen with TLS on a second port (see [`Mosquitto::tls_url`]).
    pub tls: Option<MosquittoTls>,
    /// QoS 1 and 2 messages Mosquitto sends a client before it must acknowledge one
    /// (`max_inflight_messages`); unlimited when `None`.
    pub inflight_window: Option<u16>,
}

/// PEM material for Mosquitto's TLS listener.
#[derive(Debug, Clone)]
pub struct MosquittoTls {
    /// The server certificate chain, leaf first.
    pub certificate_chain: String,
    /// The server's private key.
    pub private_key: String,
    /// When set, clients must present a certificate issued by one of these CAs.
    pub client_ca: Option<String>,
}

impl Mosquitto {
    /// Starts a broker and waits until its port accepts TCP connections.
    ///
    /// The binary is `$SLUICE_MOSQUITTO_BIN` if set, else `mosquitto` on `PATH` or in
    /// `/usr/sbin` (the Debian package, installed by `scripts/install-deps.sh`).
    pub async fn start() -> Mosquitto {
        Self::start_inner(MosquittoOptions::default(), false).await
    }

    /// Starts a broker with `options`. Unlike [`Mosquitto::start`], queues and in-flight windows
    /// are unlimited (`max_queued_messages 0`, `max_inflight_messages 0`): Mosquitto's defaults
    /// (1000 queued, 20 in flight) would drop QoS 1 messages queued for an offline persistent
    /// session, and throttle a subscriber that acknowledges only after Kafka has the record.
    pub async fn start_with(options: MosquittoOptions) -> Mosquitto {
        Self::start_inner(options, true).await
    }

    async fn start_inner(options: MosquittoOptions, unlimited: bool) -> Mosquitto {
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
                 log_dest stdout\n\
                 log_type error\n\
                 log_type warning\n\
                 log_type notice\n\
                 log_type information\n"
            );
            let mut config = format!("{config}{}", extra_config(&options, dir.path(), unlimited));
            let tls_port = options.tls.as_ref().map(|tls| {
                let port = crate::free_port();
                config.push_str(&tls_listener(tls, port, dir.path()));
                port
            });
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
                tls_port,
                binary: binary.clone(),
                config_path,
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

    /// Kills the broker (SIGKILL when `hard`, else SIGTERM so it saves its persistence file)
    /// and starts it again on the same port with the same configuration.
    pub async fn restart(&mut self, hard: bool) {
        if hard {
            self.process.kill();
        } else {
            self.process.signal(nix::sys::signal::Signal::SIGTERM);
            if self
                .process
                .wait_exit(Duration::from_secs(10))
                .await
                .is_none()
            {
                self.process.kill();
            }
        }
        let mut command = Command::new(&self.binary);
        command.arg("-c").arg(&self.config_path);
        let log_path = self.process.log_path().to_path_buf();
        self.process = ManagedChild::spawn("mosquitto", command, &log_path)
            .unwrap_or_else(|e| panic!("cannot restart {}: {e}", self.binary.display()));
        assert!(
            self.wait_ready().await,
            "Mosquitto did not restart; log:\n{}",
            self.log_text()
        );
    }

    /// The broker's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The broker's address as `tcp://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("tcp://127.0.0.1:{}", self.port)
    }

    /// The TLS listener's address as `ssl://127.0.0.1:PORT`; panics if the broker was started
    /// without [`MosquittoOptions::tls`].
    pub fn tls_url(&self) -> String {
        let port = self.tls_port.expect("Mosquitto was started without TLS");
        format!("ssl://127.0.0.1:{port}")
    }

    /// Everything the broker has logged so far.
    pub fn log_text(&self) -> String {
        read_log(self.process.log_path())
    }
}

/// Access, persistence and queue settings for `options`.
fn extra_config(options: &MosquittoOptions, dir: &std::path::Path, unlimited: bool) -> String {
    let mut config = String::new();
    if unlimited {
        let window = options.inflight_window.unwrap_or(0);
        config.push_str(&format!(
            "max_queued_messages 0\nmax_inflight_messages {window}\n"
        ));
    }
    {
        match &options.credentials {
            Some((user, password)) => {
                let file = dir.join("passwords");
                let tool = crate::find_executable(
                    "SLUICE_MOSQUITTO_PASSWD_BIN",
                    "mosquitto_passwd",
                    &[
                        "/usr/bin/mosquitto_passwd",
                        "/usr/local/bin/mosquitto_passwd",
                    ],
                )
                .unwrap_or_else(|| panic!("mosquitto_passwd not found"));
                let status = Command::new(tool)
                    .arg("-b")
                    .arg("-c")
                    .arg(&file)
                    .arg(user)
                    .arg(password)
                    .status()
                    .unwrap_or_else(|e| panic!("cannot run mosquitto_passwd: {e}"));
                assert!(status.success(), "mosquitto_passwd failed: {status}");
                config.push_str(&format!(
                    "allow_anonymous false\npassword_file {}\n",
                    file.display()
                ));
            }
            None => config.push_str("allow_anonymous true\n"),
        }
        if options.persistence {
            // Mosquitto started as root drops to the `mosquitto` user, which must write here.
            std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777))
                .unwrap_or_else(|e| panic!("cannot open up {}: {e}", dir.display()));
            config.push_str(&format!(
                "persistence true\npersistence_location {}/\nautosave_interval 1\n",
                dir.display()
            ));
        } else {
            config.push_str("persistence false\n");
        }
    }
    config
}

/// A TLS listener on `port` with the material of `tls`, written to files in `dir`.
fn tls_listener(tls: &MosquittoTls, port: u16, dir: &std::path::Path) -> String {
    let write = |name: &str, pem: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path.display().to_string()
    };
    let mut config = format!(
        "listener {port} 127.0.0.1\ncertfile {}\nkeyfile {}\n",
        write("server-chain.pem", &tls.certificate_chain),
        write("server-key.pem", &tls.private_key)
    );
    if let Some(ca) = &tls.client_ca {
        config.push_str(&format!(
            "cafile {}\nrequire_certificate true\n",
            write("client-ca.pem", ca)
        ));
    }
    config
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        report_log_if_panicking("Mosquitto", self.process.log_path(), 40);
    }
}
