//! `sluice`: the binary edge. Parses the command line and runs a worker.

use clap::Parser;
use sluice_worker::cli::{Cli, Command, init_logging};
use sluice_worker::standalone;

/// mimalloc rather than glibc's malloc: records are decoded, transformed and encoded with many
/// small allocations, and malloc/free took about half of a sink task's CPU in profiles. The
/// crate's `override` feature also serves C's `malloc` (librdkafka) from mimalloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    // One TLS crypto provider for every rustls user in the process (HTTP clients, listeners):
    // ring, which builds without cmake. Fails only when one is installed already.
    let _ = rustls::crypto::ring::default_provider().install_default();
    init_logging(&cli);
    let code = match cli.command {
        Command::Standalone {
            worker_properties,
            connectors,
        } => match standalone::run(worker_properties, connectors).await {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("sluice: {e}");
                e.exit_code()
            }
        },
        Command::Distributed { worker_properties } => {
            match sluice_worker::distributed::run::run(worker_properties).await {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("sluice: {e:#}");
                    1
                }
            }
        }
    };
    std::process::exit(code);
}
