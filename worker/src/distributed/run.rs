//! `sluice distributed`: prepares the internal topics, reads them, joins the group and serves
//! REST until SIGTERM or SIGINT, then stops its work and leaves the group.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sluice_api::Props;
use sluice_config::{Mode, WorkerConfig};
use sluice_group::{ConnectProtocol, MemberConfig, spawn_member};
use tokio::sync::mpsc;

use super::config_store::ConfigStore;
use super::herder::{DistributedHerder, HerderSettings};
use super::offset_store::KafkaOffsetStore;
use super::status_store::StatusTopic;
use super::topics::{self, InternalTopic};
use crate::metrics::Metrics;
use crate::plugins::PluginRegistry;
use crate::rest::server::BoundServer;
use crate::rest::{AppState, router};
use crate::runtime::Worker;
use crate::status::StatusStore;

/// How long start-up may take to read each internal topic.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// Worker-level settings the worker's own Kafka clients use (the internal topics' producers and
/// consumers): the bootstrap servers and the security settings, unprefixed as in Kafka.
fn internal_client_props(props: &Props) -> Props {
    props
        .iter()
        .filter(|(k, _)| {
            k.as_str() == "bootstrap.servers"
                || k.as_str() == "security.protocol"
                || k.starts_with("sasl.")
                || k.starts_with("ssl.")
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn millis(config: &WorkerConfig, key: &str, default: i64) -> Duration {
    Duration::from_millis(config.config().long(key).unwrap_or(default).max(0) as u64)
}

/// Runs a distributed worker until SIGTERM or SIGINT.
pub async fn run(worker_file: PathBuf) -> anyhow::Result<()> {
    let started = Instant::now();
    let config =
        WorkerConfig::load(&worker_file, Mode::Distributed).map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::logging::register_secrets(config.secrets());
    let props = config.props().clone();
    let client = internal_client_props(&props);
    let group_id = config
        .config()
        .string("group.id")
        .context("group.id is required in distributed mode")?
        .to_owned();

    let internal = [
        InternalTopic::from_worker(&props, "config", None),
        InternalTopic::from_worker(&props, "offset", Some(25)),
        InternalTopic::from_worker(&props, "status", Some(5)),
    ];
    topics::ensure(&client, &internal)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let client_id = format!("sluice-{group_id}-{}", config.worker_id());

    let offsets = Arc::new(
        KafkaOffsetStore::start(&client, &internal[1].name, &format!("{client_id}-offsets"))
            .await?,
    );
    offsets.read_to_end(READ_TIMEOUT).await?;
    let status = StatusStore::new(config.worker_id());
    let status_topic = StatusTopic::start(
        &client,
        &internal[2].name,
        &format!("{client_id}-statuses"),
        status.clone(),
    )
    .await?;
    status_topic.read_to_end(READ_TIMEOUT).await?;
    let (config_tx, config_rx) = mpsc::unbounded_channel();
    let configs = Arc::new(
        ConfigStore::start(
            &client,
            &internal[0].name,
            &format!("{client_id}-configs"),
            config_tx,
        )
        .await?,
    );
    configs.read_to_end(READ_TIMEOUT).await?;

    let url = config.advertised_url();
    let settings = HerderSettings {
        url: url.clone(),
        protocols: ConnectProtocol::from_config(
            config
                .config()
                .string("connect.protocol")
                .unwrap_or("sessioned"),
        )
        .unwrap_or_else(|| vec![ConnectProtocol::Sessioned, ConnectProtocol::Compatible]),
        sync_timeout: millis(&config, "worker.sync.timeout.ms", 3000),
        max_delay: millis(&config, "scheduled.rebalance.max.delay.ms", 5000),
        key_ttl: millis(&config, "inter.worker.key.ttl.ms", 3_600_000),
        signature_algorithm: config
            .config()
            .string("inter.worker.signature.algorithm")
            .unwrap_or("HmacSHA256")
            .to_owned(),
    };
    let member_config = MemberConfig {
        bootstrap_servers: config
            .bootstrap_servers()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        group_id: group_id.clone(),
        client_id: client_id.clone(),
        session_timeout: millis(&config, "session.timeout.ms", 10_000),
        rebalance_timeout: millis(&config, "rebalance.timeout.ms", 60_000),
        heartbeat_interval: millis(&config, "heartbeat.interval.ms", 3000),
        protocols: settings.protocols.clone(),
    };
    let worker = Worker {
        status,
        config: Arc::new(config),
        registry: PluginRegistry::builtin(),
        offsets: offsets.clone(),
        metrics: Arc::new(Metrics::new()),
    };
    let herder = DistributedHerder::new(worker.clone(), configs, config_rx, settings);

    let rest_server = BoundServer::bind(&worker.config)
        .await
        .map_err(anyhow::Error::from)?;
    let cluster_id = crate::standalone::fetch_cluster_id(&worker).await;
    let app = router(AppState {
        herder: Arc::new(herder.clone()),
        cluster_id: Arc::new(cluster_id),
    });
    let shutdown = tokio_util::sync::CancellationToken::new();
    let server = rest_server.serve(app, shutdown.clone());
    tracing::info!(url = %url, group = %group_id, elapsed_ms = started.elapsed().as_millis() as u64, "REST API ready; joining the group");
    herder.attach_member(spawn_member(member_config, Arc::new(herder.clone())));

    crate::standalone::wait_for_signal().await;
    tracing::info!("shutting down: stopping connectors and tasks, then leaving the group");
    herder.shutdown().await;
    shutdown.cancel();
    if let Err(e) = server.wait().await {
        tracing::warn!(error = %e, "REST server error at shutdown");
    }
    // Keep the stores alive until the end: they own the internal topics' clients.
    drop((offsets, status_topic));
    Ok(())
}
