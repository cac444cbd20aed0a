//! `es-standin`: a TEST DOUBLE of Elasticsearch (see the crate docs). Never a product feature.
//!
//! Prints `listening on PORT` (and writes the port to `--port-file`) once it accepts connections.

use std::path::PathBuf;

use clap::Parser;
use sluice_es_standin::{Options, TlsFiles};

/// A strict, in-memory Elasticsearch stand-in for tests (not a product).
#[derive(Parser, Debug)]
#[command(name = "es-standin", version)]
struct Args {
    /// Port on 127.0.0.1; 0 picks a free one (printed on stdout).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Also write the bound port to this file.
    #[arg(long)]
    port_file: Option<PathBuf>,
    /// `version.number` reported by `GET /`.
    #[arg(long, default_value = "8.11.1")]
    es_version: String,
    /// Require basic auth with this user (with --password).
    #[arg(long, requires = "password")]
    user: Option<String>,
    /// Password for --user.
    #[arg(long, requires = "user")]
    password: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (with --key).
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// PEM private key for --cert.
    #[arg(long, requires = "cert")]
    key: Option<PathBuf>,
    /// Answer index_not_found for bulk writes to missing indices (action.auto_create_index=false).
    #[arg(long)]
    no_auto_create: bool,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let tls = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Some(TlsFiles {
            certificate_chain_pem: std::fs::read(cert)?,
            private_key_pem: std::fs::read(key)?,
        }),
        _ => None,
    };
    let options = Options {
        version: args.es_version.clone(),
        credentials: args.user.clone().zip(args.password.clone()),
        auto_create_index: !args.no_auto_create,
        ..Options::default()
    };
    let server = sluice_es_standin::start(args.port, options, tls).await?;
    let port = server.addr.port();
    if let Some(path) = &args.port_file {
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, port.to_string())?;
        std::fs::rename(&tmp, path)?;
    }
    println!("listening on {port}");
    tokio::signal::ctrl_c().await?;
    drop(server);
    Ok(())
}
