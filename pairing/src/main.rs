//! `sluice-pairing PAIRING.properties [--set key=value ...]`: the sock pairing job.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use clap::Parser;
use sluice_pairing::config::PairingConfig;
use sluice_pairing::metrics::{Metrics, router};
use sluice_pairing::runner::{ensure_topics, run};
use sluice_pairing::table::TableMode;
use tracing::{error, info, warn};

/// Finds sock sightings and pairs in camera classifications on Kafka.
#[derive(Debug, Parser)]
#[command(name = "sluice-pairing", version)]
struct Cli {
    /// The job's properties file (see configs/pairing.properties).
    properties: PathBuf,
    /// Overrides a setting of the file (repeatable), e.g. `--set mode=compatible`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    overrides: Vec<String>,
    /// Address of the HTTP server for /metrics and /health (overrides http.address); port 0
    /// picks a free port, logged at start.
    #[arg(long, value_name = "HOST:PORT")]
    http: Option<String>,
    /// Print the pair table as ksqlDB-style lines on stdout even when stdout is not a terminal.
    #[arg(long, conflicts_with = "no_table")]
    table: bool,
    /// Never print the pair table.
    #[arg(long)]
    no_table: bool,
    /// Log filter (tracing's env-filter syntax); also SLUICE_LOG.
    #[arg(long, env = "SLUICE_LOG", default_value = "info")]
    log: String,
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log)
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let mut config = match PairingConfig::load(&cli.properties, &cli.overrides) {
        Ok(config) => config,
        Err(e) => {
            error!("{e}");
            return ExitCode::from(2);
        }
    };
    for key in &config.unknown_keys {
        warn!(key = %key, "unknown setting (ignored)");
    }
    if let Some(http) = cli.http {
        config.http_address = http;
    }
    let table = if cli.no_table {
        TableMode::Off
    } else if std::io::stdout().is_terminal() {
        TableMode::Redraw
    } else if cli.table {
        TableMode::Append
    } else {
        TableMode::Off
    };
    let config = Arc::new(config);
    let metrics = Arc::new(Metrics::default());
    let listener = match tokio::net::TcpListener::bind(&config.http_address).await {
        Ok(listener) => listener,
        Err(e) => {
            error!(address = %config.http_address, "cannot listen for HTTP: {e}");
            return ExitCode::from(2);
        }
    };
    match listener.local_addr() {
        Ok(address) => info!("HTTP listening on http://{address} (/metrics, /health)"),
        Err(e) => warn!("HTTP listener address unknown: {e}"),
    }
    let app = router(metrics.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            error!("HTTP server failed: {e}");
        }
    });
    if let Err(e) = ensure_topics(&config).await {
        error!("{e}");
        return ExitCode::from(1);
    }
    let stop = Arc::new(AtomicBool::new(false));
    let job = {
        let (config, metrics, stop) = (config.clone(), metrics.clone(), stop.clone());
        tokio::task::spawn_blocking(move || run(config, metrics, stop, table))
    };
    tokio::pin!(job);
    let result = tokio::select! {
        result = &mut job => result,
        () = shutdown_signal() => {
            info!("signal received: finishing the current batch");
            stop.store(true, Ordering::Relaxed);
            job.await
        }
    };
    match result {
        Ok(Ok(())) => {
            info!("stopped");
            ExitCode::SUCCESS
        }
        Ok(Err(e)) => {
            error!("{e}");
            ExitCode::from(1)
        }
        Err(e) => {
            error!("the job thread failed: {e}");
            ExitCode::from(1)
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut interrupt), Ok(mut terminate)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        // Without signal handlers, the default action (exit) applies.
        return std::future::pending().await;
    };
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
}
