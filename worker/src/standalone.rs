//! Standalone mode: one worker, connector configs in memory, source offsets in a local file
//! (`offset.storage.file.filename`), connectors given on the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use rdkafka::producer::{BaseProducer, Producer};
use sluice_config::{Mode, WorkerConfig, load_connector_file};

use crate::herder::StandaloneHerder;
use crate::metrics::Metrics;
use crate::plugins::PluginRegistry;
use crate::rest::server::BoundServer;
use crate::rest::{AppState, router};
use crate::runtime::Worker;
use crate::runtime::offsets::FileOffsetStore;
use crate::status::{StatusStore, TargetState};

/// Why standalone mode ended with an error; the exit code follows Kafka's (3 for connector files).
#[derive(Debug, thiserror::Error)]
pub enum StandaloneError {
    /// The worker could not start.
    #[error(transparent)]
    Startup(#[from] anyhow::Error),
    /// A connector given on the command line could not be created.
    #[error("{0}")]
    Connector(String),
}

impl StandaloneError {
    /// The process exit code: 3 for a bad connector file (as `connect-standalone`), 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Startup(_) => 1,
            Self::Connector(_) => 3,
        }
    }
}

/// Runs a standalone worker until SIGTERM or SIGINT, then stops every task gracefully.
pub async fn run(
    worker_file: PathBuf,
    connector_files: Vec<PathBuf>,
) -> Result<(), StandaloneError> {
    let started = Instant::now();
    let config =
        WorkerConfig::load(&worker_file, Mode::Standalone).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::logging::register_secrets(config.secrets());
    let offsets_file = config
        .config()
        .string("offset.storage.file.filename")
        .map(PathBuf::from)
        .context("offset.storage.file.filename is required in standalone mode")?;
    let offsets = FileOffsetStore::open(&offsets_file).map_err(|e| anyhow::anyhow!("{e}"))?;
    let bind: SocketAddr = config.rest_bind_addr();
    let worker = Worker {
        status: StatusStore::new(config.worker_id()),
        config: Arc::new(config),
        registry: PluginRegistry::builtin(),
        offsets: Arc::new(offsets),
        metrics: Arc::new(Metrics::new()),
    };
    let herder = StandaloneHerder::new(worker.clone());

    let rest_server = BoundServer::bind(&worker.config)
        .await
        .map_err(anyhow::Error::from)?;
    let cluster_id = fetch_cluster_id(&worker).await;
    let app = router(AppState {
        herder: Arc::new(herder.clone()),
        cluster_id: Arc::new(cluster_id),
    });
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = rest_server.serve(app, shutdown.clone());
    tracing::info!(listen = %bind, worker_id = %worker.status.worker_id(), elapsed_ms = started.elapsed().as_millis() as u64, "REST API ready");

    for file in &connector_files {
        let created = async {
            let c = load_connector_file(file).map_err(|e| e.to_string())?;
            let initial = match c.initial_state.as_deref() {
                None => None,
                Some(s) => Some(
                    TargetState::from_initial_state(s)
                        .ok_or_else(|| format!("invalid initial_state {s}"))?,
                ),
            };
            herder
                .put_connector(&c.name, c.config, initial, false)
                .await
                .map_err(|e| e.to_string())
        }
        .await;
        if let Err(e) = created {
            let message = format!("Failed to create connector from {}: {e}", file.display());
            tracing::error!("{message}");
            herder.shutdown().await;
            shutdown.cancel();
            return Err(StandaloneError::Connector(message));
        }
    }
    herder.set_ready();
    tracing::info!(
        connectors = connector_files.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "worker started"
    );

    wait_for_signal().await;
    tracing::info!("stopping: flushing and committing every task");
    herder.shutdown().await;
    shutdown.cancel();
    if let Err(e) = server.wait().await {
        tracing::warn!(error = %e, "REST server error at shutdown");
    }
    tracing::info!("worker stopped");
    Ok(())
}

/// The Kafka cluster id for `GET /`; `None` when the cluster cannot be reached yet.
pub(crate) async fn fetch_cluster_id(worker: &Worker) -> Option<String> {
    let mut props = sluice_api::Props::new();
    props.insert(
        "bootstrap.servers".into(),
        worker.config.bootstrap_servers().to_owned(),
    );
    let producer: BaseProducer = crate::runtime::kafka::client_config(&props).create().ok()?;
    tokio::task::spawn_blocking(move || producer.client().fetch_cluster_id(Duration::from_secs(5)))
        .await
        .ok()
        .flatten()
}

pub(crate) async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
