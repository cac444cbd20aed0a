//! TLS client configuration from PEM files, on rustls with the ring provider.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore};

/// Why the TLS settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM file could not be read or held nothing usable.
    #[error("cannot read {what} from '{path}': {message}")]
    Pem {
        /// Which file it was.
        what: &'static str,
        /// Its path.
        path: String,
        /// What went wrong.
        message: String,
    },
    /// rustls refused the material.
    #[error("invalid TLS settings: {0}")]
    Rustls(#[from] rustls::Error),
}

fn read_certs(
    what: &'static str,
    path: &str,
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let pem_error = |message: String| TlsSetupError::Pem {
        what,
        path: path.to_owned(),
        message,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error(
            "no PEM certificate found (Java keystores are not supported: convert to PEM)".into(),
        ));
    }
    Ok(certs)
}

/// A client config trusting the CA certificates in `trust_store` (or the system's roots when
/// `None`), with the client certificate and key of `key_store` when given.
pub fn client_config(
    trust_store: Option<&str>,
    key_store: Option<&str>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    match trust_store {
        Some(path) => {
            for cert in read_certs("CA certificates", path)? {
                roots.add(cert)?;
            }
        }
        None => {
            let native = rustls_native_roots();
            roots.add_parsable_certificates(native);
        }
    }
    let builder =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots);
    let config = match key_store {
        Some(path) => {
            let chain = read_certs("client certificate", path)?;
            let key = PrivateKeyDer::from_pem_file(path).map_err(|e| TlsSetupError::Pem {
                what: "client private key",
                path: path.to_owned(),
                message: e.to_string(),
            })?;
            builder.with_client_auth_cert(chain, key)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// The system's CA certificates from the usual Debian bundle, when present.
fn rustls_native_roots() -> Vec<CertificateDer<'static>> {
    const BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";
    CertificateDer::pem_file_iter(BUNDLE)
        .map(|iter| iter.filter_map(Result::ok).collect())
        .unwrap_or_default()
}
