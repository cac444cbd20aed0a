//! The `sluice` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Sluice: a Kafka Connect-compatible connector worker.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about, long_about = None)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
    /// Log filter, e.g. `info` or `info,sluice_worker=debug` (RUST_LOG syntax).
    #[arg(
        long,
        env = "SLUICE_LOG",
        default_value = "info,rdkafka=warn",
        global = true
    )]
    pub log: String,
    /// Log format.
    #[arg(
        long,
        value_enum,
        env = "SLUICE_LOG_FORMAT",
        default_value = "text",
        global = true
    )]
    pub log_format: LogFormat,
}

/// How logs are written.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Worker modes.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run one worker with connectors from files; offsets in a local file.
    Standalone {
        /// Worker settings (Java .properties; CONNECT_* environment variables override them).
        worker_properties: PathBuf,
        /// Connector configs: .properties files, JSON config objects, or JSON create requests.
        connectors: Vec<PathBuf>,
    },
    /// Run a worker that joins a cluster through Kafka: configs, offsets and statuses in topics.
    Distributed {
        /// Worker settings (Java .properties; CONNECT_* environment variables override them).
        worker_properties: PathBuf,
    },
}

/// Sets up logging (levels changeable at run time through `/admin/loggers`).
pub fn init_logging(cli: &Cli) {
    crate::logging::init(&cli.log, matches!(cli.log_format, LogFormat::Json));
}
