//! Test harness for Sluice's end-to-end tests.
//!
//! Everything here runs real processes: [`Tansu`] (a Kafka-protocol broker), [`Mosquitto`] (an
//! MQTT broker) and the `sluice` binary itself ([`WorkerProcess`]). Each one gets a free
//! loopback port, writes its output to a log file in a temporary directory, and is killed when
//! its handle is dropped; when a test panics, the tail of each log is printed so the failure
//! explains itself.
//!
//! Child processes lead their own process groups and are also asked to die (SIGKILL) when the
//! thread that started them exits, so nothing outlives a test that is killed by a timeout; keep
//! handles inside the test that made them (not in statics shared across threads).
//!
//! The `sluice` binary must be built first (`cargo build --bins`, which `scripts/test.sh` does),
//! and the brokers installed (`scripts/install-deps.sh`).
//!
//! ```no_run
//! use std::time::Duration;
//! use sluice_tests::{Tansu, kafka};
//!
//! # async fn example() {
//! let tansu = Tansu::start().await;
//! kafka::create_topic(&tansu.bootstrap(), "events", 1).await;
//! kafka::produce(&tansu.bootstrap(), "events", Some(b"k"), Some(b"v"), &[("h", b"x")]).await;
//! let records = kafka::consume_all(&tansu.bootstrap(), "events", 1, Duration::from_secs(20)).await;
//! assert_eq!(records[0].value.as_deref(), Some(&b"v"[..]));
//! # }
//! ```

pub mod es;

/// Argument `index` of a bench example's command line, parsed; panics naming it (`name`) when it
/// is missing or does not parse.
pub fn cli_arg<T: std::str::FromStr>(args: &[String], index: usize, name: &str) -> T {
    args.get(index)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("argument {index} ({name}) missing or invalid: {args:?}"))
}

/// A `reqwest` client builder for tests. The workspace builds reqwest with rustls but without a
/// built-in crypto provider (the ring provider is used everywhere: no cmake), so a process must
/// install one before building a client; this does it once.
pub fn http_client_builder() -> reqwest::ClientBuilder {
    static PROVIDER: std::sync::Once = std::sync::Once::new();
    PROVIDER.call_once(|| {
        // Fails only when a provider is installed already, which is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}
pub mod kafka;
mod mosquitto;
pub mod pairing;
mod process;
pub mod properties;
pub mod rest;
mod tansu;
mod worker;

use std::collections::hash_map::RandomState;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::net::{Ipv4Addr, TcpListener};
use std::panic::Location;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use es::{EsOptions, EsStandIn};
pub use kafka::ConsumedRecord;
pub use mosquitto::{Mosquitto, MosquittoOptions, MosquittoTls};
/// Signals for [`WorkerProcess::send_signal`].
pub use nix::sys::signal::Signal;
pub use tansu::Tansu;
pub use worker::{WorkerCommand, WorkerProcess, sluice_bin};

/// The root of the Cargo workspace (the directory holding the top `Cargo.toml`).
pub fn workspace_root() -> &'static Path {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir)
}

/// Ports handed out by this process, so two calls never return the same one.
static HANDED_OUT_PORTS: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// A loopback TCP port that nothing listens on right now.
///
/// Ports are drawn at random below Linux's ephemeral range (32768 and up), so they do not
/// collide with the local ports of outgoing connections, and each is checked by binding it.
/// Another process may still take it before the caller binds it; that window is small.
pub fn free_port() -> u16 {
    const LOW: u16 = 15_000;
    const HIGH: u16 = 32_000;
    let mut handed_out = HANDED_OUT_PORTS
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for _ in 0..1000 {
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let port = LOW + (hasher.finish() % u64::from(HIGH - LOW)) as u16;
        if handed_out.contains(&port) {
            continue;
        }
        if TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            handed_out.push(port);
            return port;
        }
    }
    panic!("found no free loopback port between {LOW} and {HIGH} in 1000 tries");
}

/// Polls `condition` every `poll_interval` until it returns `true`; panics if `timeout` passes
/// first, naming the caller's source location.
///
/// ```no_run
/// # async fn example(worker: &sluice_tests::WorkerProcess) {
/// use std::time::Duration;
/// sluice_tests::wait_until(Duration::from_secs(10), Duration::from_millis(100), || async {
///     worker.log_text().contains("started")
/// })
/// .await;
/// # }
/// ```
#[track_caller]
pub fn wait_until<F, Fut>(
    timeout: Duration,
    poll_interval: Duration,
    condition: F,
) -> impl Future<Output = ()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let caller = Location::caller();
    let what = format!("the condition at {}:{}", caller.file(), caller.line());
    wait_until_inner(what, timeout, poll_interval, condition)
}

/// Like [`wait_until`], with a description of the awaited condition for the panic message.
pub async fn wait_until_described<F, Fut>(
    description: &str,
    timeout: Duration,
    poll_interval: Duration,
    condition: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    wait_until_inner(description.to_owned(), timeout, poll_interval, condition).await;
}

async fn wait_until_inner<F, Fut>(
    what: String,
    timeout: Duration,
    poll_interval: Duration,
    mut condition: F,
) where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let start = Instant::now();
    let mut attempts = 0u32;
    loop {
        attempts += 1;
        if condition().await {
            return;
        }
        if start.elapsed() >= timeout {
            panic!(
                "timed out after {:.1} s ({attempts} checks) waiting for {what}",
                start.elapsed().as_secs_f64()
            );
        }
        tokio::time::sleep(poll_interval).await;
    }
}

/// A fresh temporary directory (removed when dropped), for connector files and data.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("sluice-test-")
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"))
}

/// Finds an executable: `env_var` if set, else the first `name` on `PATH`, else the first of
/// `fallbacks` that exists.
fn find_executable(env_var: &str, name: &str, fallbacks: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .map(|dir| dir.join(name))
        .chain(fallbacks.iter().map(PathBuf::from))
        .find(|candidate| candidate.is_file())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_and_bindable() {
        let a = free_port();
        let b = free_port();
        assert_ne!(a, b);
        assert!((15_000..32_000).contains(&a));
        TcpListener::bind((Ipv4Addr::LOCALHOST, a)).expect("port a is free");
        TcpListener::bind((Ipv4Addr::LOCALHOST, b)).expect("port b is free");
    }

    #[tokio::test]
    async fn wait_until_returns_once_the_condition_holds() {
        let mut calls = 0;
        wait_until(Duration::from_secs(5), Duration::from_millis(1), || {
            calls += 1;
            let done = calls >= 3;
            async move { done }
        })
        .await;
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    #[should_panic(expected = "waiting for the condition at tests/src/lib.rs")]
    async fn wait_until_panics_naming_the_caller() {
        wait_until(
            Duration::from_millis(30),
            Duration::from_millis(5),
            || async { false },
        )
        .await;
    }

    #[test]
    fn workspace_root_holds_the_workspace_manifest() {
        let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
            .expect("workspace Cargo.toml");
        assert!(manifest.contains("[workspace]"));
    }
}
