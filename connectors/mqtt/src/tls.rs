//! TLS client configuration from PEM or PKCS#12 files, on rustls with the ring provider.
//!
//! The format of a trust or key store is recognised from its content: PEM text (`-----BEGIN`),
//! or a DER-encoded PKCS#12 archive (`.p12`/`.pfx`, as written by `openssl pkcs12 -export` or
//! `keytool -storetype PKCS12`), opened with the store's password. Java JKS files are recognised
//! and refused with a hint to convert them. A PEM key store's private key may be encrypted
//! (PKCS#8 `ENCRYPTED PRIVATE KEY`, as `openssl pkcs8 -topk8 -v2 aes-256-cbc` writes it), opened
//! with the key password.

use std::sync::Arc;

use p12_keystore::Pkcs12Archive;
use pkcs8::EncryptedPrivateKeyInfoRef;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore};

use crate::config::KEY_PASSWORD;

/// Why the TLS settings could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A store file could not be read or held nothing usable.
    #[error("cannot read {what} from '{path}': {message}")]
    Store {
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

/// A trust store or key store file and the password of a PKCS#12 one.
#[derive(Debug, Clone, Copy)]
pub struct StoreFile<'a> {
    /// Path of the file.
    pub path: &'a str,
    /// Password of a PKCS#12 file (empty for none); unused for PEM.
    pub password: &'a str,
    /// The setting that names the password, for messages.
    pub password_key: &'static str,
    /// Password of an encrypted private key in a PEM key store (empty for none).
    pub key_password: &'a str,
}

/// What a store file holds, read from its first bytes.
#[derive(Debug, PartialEq, Eq)]
enum Format {
    Pem,
    Pkcs12,
    Jks,
}

fn format_of(data: &[u8]) -> Format {
    match data {
        [0xFE, 0xED, 0xFE, 0xED, ..] => Format::Jks,
        // A DER SEQUENCE: PKCS#12's PFX. PEM files are text and cannot start with 0x30 ('0')
        // followed by a length byte >= 0x80 as every PFX of any size does.
        [0x30, len, ..] if *len >= 0x80 => Format::Pkcs12,
        _ => Format::Pem,
    }
}

/// Reads a store file (blocking; small files, at task start and validation only).
fn read(what: &'static str, path: &str) -> Result<Vec<u8>, TlsSetupError> {
    std::fs::read(path).map_err(|e| TlsSetupError::Store {
        what,
        path: path.to_owned(),
        message: e.to_string(),
    })
}

fn store_error(what: &'static str, store: &StoreFile<'_>, message: String) -> TlsSetupError {
    TlsSetupError::Store {
        what,
        path: store.path.to_owned(),
        message,
    }
}

/// Opens a PKCS#12 archive, explaining a wrong password or a damaged file.
fn open_pkcs12(
    what: &'static str,
    store: &StoreFile<'_>,
    data: &[u8],
) -> Result<Pkcs12Archive, TlsSetupError> {
    Pkcs12Archive::from_pkcs12(data, store.password).map_err(|e| {
        let message = match e {
            p12_keystore::error::Error::MacError(_) => format!(
                "wrong password for this PKCS#12 file (set {}), or the file is damaged",
                store.password_key
            ),
            other if !store.key_password.is_empty() && store.key_password != store.password => {
                format!(
                    "not a readable PKCS#12 file ({other}); its private key must be encrypted \
                     with the store password ({KEY_PASSWORD} differs, and separate key \
                     passwords in PKCS#12 are not supported: re-export it with openssl pkcs12 \
                     -export)"
                )
            }
            other => format!("not a readable PKCS#12 file ({other})"),
        };
        store_error(what, store, message)
    })
}

const JKS_HINT: &str = "Java JKS key stores are not supported: convert it to PKCS#12 \
     (keytool -importkeystore -deststoretype pkcs12) or PEM";

/// The CA certificates of a trust store.
fn trusted_certs(store: &StoreFile<'_>) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    const WHAT: &str = "CA certificates";
    let data = read(WHAT, store.path)?;
    let certs = match format_of(&data) {
        Format::Jks => return Err(store_error(WHAT, store, JKS_HINT.into())),
        Format::Pkcs12 => open_pkcs12(WHAT, store, &data)?
            .certs
            .into_iter()
            .map(|bag| CertificateDer::from(bag.cert.as_der().to_vec()))
            .collect(),
        Format::Pem => pem_certs(WHAT, store, &data)?,
    };
    if certs.is_empty() {
        return Err(store_error(WHAT, store, "no certificate found".into()));
    }
    Ok(certs)
}

fn pem_certs(
    what: &'static str,
    store: &StoreFile<'_>,
    data: &[u8],
) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    CertificateDer::pem_slice_iter(data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| store_error(what, store, e.to_string()))
}

/// The client certificate chain (leaf first) and private key of a key store.
fn client_identity(
    store: &StoreFile<'_>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
    const WHAT: &str = "the client certificate and key";
    let data = read(WHAT, store.path)?;
    match format_of(&data) {
        Format::Jks => Err(store_error(WHAT, store, JKS_HINT.into())),
        Format::Pem => {
            // The key first: a legacy encrypted key's headers would read as a bad certificate.
            let key = pem_private_key(store, &data).map_err(|e| store_error(WHAT, store, e))?;
            let chain = pem_certs(WHAT, store, &data)?;
            if chain.is_empty() {
                return Err(store_error(WHAT, store, "no PEM certificate found".into()));
            }
            Ok((chain, key))
        }
        Format::Pkcs12 => {
            let archive = open_pkcs12(WHAT, store, &data)?;
            let mut keys = archive.keys.into_iter();
            let Some(key) = keys.next() else {
                return Err(store_error(
                    WHAT,
                    store,
                    "the PKCS#12 file holds no private key".into(),
                ));
            };
            if keys.next().is_some() {
                return Err(store_error(
                    WHAT,
                    store,
                    "the PKCS#12 file holds several private keys; keep only the client's".into(),
                ));
            }
            // The key's certificate (same local key id, or the only one), then the others.
            let mut certs = archive.certs;
            let leaf = certs
                .iter()
                .position(|c| {
                    c.local_key_id.is_some()
                        && c.local_key_id.as_deref() == key.local_key_id.as_ref().map(|k| &k.0[..])
                })
                .or_else(|| (certs.len() == 1).then_some(0))
                .ok_or_else(|| {
                    store_error(
                        WHAT,
                        store,
                        "the PKCS#12 file holds no certificate for its private key".into(),
                    )
                })?;
            let leaf = certs.remove(leaf);
            let chain = std::iter::once(leaf)
                .chain(certs)
                .map(|bag| CertificateDer::from(bag.cert.as_der().to_vec()))
                .collect();
            let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.key.as_der().to_vec()));
            Ok((chain, key))
        }
    }
}

/// The private key of a PEM key store, decrypting an `ENCRYPTED PRIVATE KEY` with the key
/// password.
fn pem_private_key(store: &StoreFile<'_>, data: &[u8]) -> Result<PrivateKeyDer<'static>, String> {
    const BEGIN: &str = "-----BEGIN ENCRYPTED PRIVATE KEY-----";
    const END: &str = "-----END ENCRYPTED PRIVATE KEY-----";
    let text = String::from_utf8_lossy(data);
    if let Some(start) = text.find(BEGIN) {
        let end = text[start..]
            .find(END)
            .map(|at| start + at + END.len())
            .ok_or("the encrypted private key has no END line")?;
        if store.key_password.is_empty() {
            return Err(format!(
                "the private key is encrypted: set {KEY_PASSWORD} to its password"
            ));
        }
        // Via DER: der's PEM reader cannot decode this structure directly.
        let unreadable =
            |e: &dyn std::fmt::Display| format!("unreadable encrypted private key: {e}");
        let (_, der) =
            pkcs8::der::pem::decode_vec(text[start..end].as_bytes()).map_err(|e| unreadable(&e))?;
        let encrypted =
            EncryptedPrivateKeyInfoRef::try_from(&der[..]).map_err(|e| unreadable(&e))?;
        let key = encrypted.decrypt(store.key_password).map_err(|_| {
            format!(
                "cannot decrypt the private key with {KEY_PASSWORD}: wrong password, or a \
                 cipher other than PBES2 (PBKDF2 or scrypt with AES)"
            )
        })?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            key.as_bytes().to_vec(),
        )));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(
            "the private key is encrypted in OpenSSL's legacy PEM format, which is not \
             supported: convert it with openssl pkcs8 -topk8 -v2 aes-256-cbc"
                .to_owned(),
        );
    }
    PrivateKeyDer::from_pem_slice(data).map_err(|e| format!("no private key: {e}"))
}

/// Checks that the stores can be read and opened, as a task would at start.
pub fn check_stores(
    trust_store: Option<StoreFile<'_>>,
    key_store: Option<StoreFile<'_>>,
) -> Result<(), TlsSetupError> {
    if let Some(store) = trust_store {
        trusted_certs(&store)?;
    }
    if let Some(store) = key_store {
        client_identity(&store)?;
    }
    Ok(())
}

/// A client config trusting the CA certificates in `trust_store` (or the system's roots when
/// `None`), with the client certificate and key of `key_store` when given.
pub fn client_config(
    trust_store: Option<StoreFile<'_>>,
    key_store: Option<StoreFile<'_>>,
) -> Result<Arc<ClientConfig>, TlsSetupError> {
    let mut roots = RootCertStore::empty();
    match trust_store {
        Some(store) => {
            for cert in trusted_certs(&store)? {
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
        Some(store) => {
            let (chain, key) = client_identity(&store)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};

    struct Material {
        /// Removed when the test ends.
        dir: tempfile::TempDir,
        ca_pem: String,
        ca_der: Vec<u8>,
        leaf_pem: String,
        leaf_der: Vec<u8>,
        key_pem: String,
        key_der: Vec<u8>,
    }

    fn material(name: &str) -> Material {
        let dir = tempfile::Builder::new()
            .prefix(&format!("sluice-mqtt-tls-{name}-"))
            .tempdir()
            .unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "test CA");
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let mut leaf_params = rcgen::CertificateParams::new(vec!["client".to_owned()]).unwrap();
        leaf_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "client");
        let leaf = leaf_params.signed_by(&leaf_key, &ca).unwrap();
        Material {
            dir,
            ca_pem: ca.as_ref().pem(),
            ca_der: ca.as_ref().der().to_vec(),
            leaf_pem: leaf.pem(),
            leaf_der: leaf.der().to_vec(),
            key_pem: leaf_key.serialize_pem(),
            key_der: leaf_key.serialize_der(),
        }
    }

    fn write(m: &Material, name: &str, data: &[u8]) -> String {
        let path = m.dir.path().join(name);
        std::fs::write(&path, data).unwrap();
        path.display().to_string()
    }

    fn pkcs12(m: &Material, password: &str, with_key: bool) -> Vec<u8> {
        let mut store = KeyStore::new();
        let ca = Certificate::from_der(&m.ca_der).unwrap();
        if with_key {
            let chain = PrivateKeyChain::new(
                b"key-1".to_vec(),
                PrivateKey::from_der(&m.key_der).unwrap(),
                [Certificate::from_der(&m.leaf_der).unwrap(), ca],
            );
            store.add_entry("client", KeyStoreEntry::PrivateKeyChain(chain));
        } else {
            store.add_entry("ca", KeyStoreEntry::Certificate(ca));
        }
        store.writer(password).write().unwrap()
    }

    fn store<'a>(path: &'a str, password: &'a str) -> StoreFile<'a> {
        StoreFile {
            path,
            password,
            password_key: "mqtt.ssl.key.store.password",
            key_password: "",
        }
    }

    /// `key_pem` encrypted as `openssl pkcs8 -topk8 -v2 aes-256-cbc` does (PBES2, PBKDF2 with
    /// HMAC-SHA256, AES-256-CBC).
    fn encrypted_key_pem(m: &Material, password: &str) -> String {
        let params = pkcs8::pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(
            2048,
            b"0123456789abcdef",
            [7u8; 16],
        )
        .unwrap();
        let encrypted = pkcs8::PrivateKeyInfoRef::try_from(&m.key_der[..])
            .unwrap()
            .encrypt_with_params(params, password)
            .unwrap();
        encrypted
            .to_pem("ENCRYPTED PRIVATE KEY", pkcs8::LineEnding::LF)
            .unwrap()
            .to_string()
    }

    #[test]
    fn an_encrypted_pem_key_opens_with_the_key_password_only() {
        let m = material("encrypted");
        let pem = format!("{}{}", m.leaf_pem, encrypted_key_pem(&m, "k3y-pw"));
        let path = write(&m, "client-encrypted.pem", pem.as_bytes());
        let with = |key_password: &'static str| StoreFile {
            key_password,
            ..store(&path, "")
        };

        let (chain, key) = client_identity(&with("k3y-pw")).unwrap();
        assert_eq!(chain[0].as_ref(), &m.leaf_der[..]);
        assert_eq!(
            key.secret_der(),
            &m.key_der[..],
            "decrypted to the original key"
        );

        let err = check_stores(None, Some(with(""))).unwrap_err().to_string();
        assert!(
            err.contains("encrypted") && err.contains("mqtt.ssl.key.password"),
            "{err}"
        );
        let err = check_stores(None, Some(with("wrong")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("cannot decrypt") && err.contains("client-encrypted.pem"),
            "{err}"
        );
        assert!(
            !err.contains("wrong\""),
            "the password stays out of messages: {err}"
        );

        let legacy = format!(
            "{}-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nAAAA\n-----END RSA PRIVATE KEY-----\n",
            m.leaf_pem
        );
        let legacy = write(&m, "legacy.pem", legacy.as_bytes());
        let err = check_stores(None, Some(store(&legacy, "")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("openssl pkcs8 -topk8"), "{err}");
    }

    #[test]
    fn pem_and_pkcs12_stores_give_the_same_material() {
        let m = material("same");
        let trust_pem = write(&m, "ca.pem", m.ca_pem.as_bytes());
        let key_pem = write(
            &m,
            "client.pem",
            format!("{}{}", m.leaf_pem, m.key_pem).as_bytes(),
        );
        let trust_p12 = write(&m, "trust.p12", &pkcs12(&m, "changeit", false));
        let key_p12 = write(&m, "client.pfx", &pkcs12(&m, "s3cret", true));

        let from_pem = trusted_certs(&store(&trust_pem, "")).unwrap();
        let from_p12 = trusted_certs(&store(&trust_p12, "changeit")).unwrap();
        assert_eq!(from_pem, from_p12);
        assert_eq!(from_p12[0].as_ref(), &m.ca_der[..]);

        let (pem_chain, pem_key) = client_identity(&store(&key_pem, "")).unwrap();
        let (p12_chain, p12_key) = client_identity(&store(&key_p12, "s3cret")).unwrap();
        assert_eq!(p12_chain[0], pem_chain[0], "the leaf comes first");
        assert_eq!(p12_chain.len(), 2, "the CA follows as chain");
        assert_eq!(p12_key.secret_der(), pem_key.secret_der());
        assert!(
            client_config(
                Some(store(&trust_p12, "changeit")),
                Some(store(&key_p12, "s3cret"))
            )
            .is_ok()
        );
    }

    #[test]
    fn a_wrong_password_names_the_file_and_the_password_setting() {
        let m = material("password");
        let key_p12 = write(&m, "client.p12", &pkcs12(&m, "right", true));
        let err = check_stores(None, Some(store(&key_p12, "wrong")))
            .unwrap_err()
            .to_string();
        assert!(err.contains(&key_p12), "{err}");
        assert!(
            err.contains("wrong password") && err.contains("mqtt.ssl.key.store.password"),
            "{err}"
        );
    }

    #[test]
    fn damaged_missing_and_jks_files_are_explained() {
        let m = material("bad");
        let mut data = pkcs12(&m, "pw", true);
        data.truncate(data.len() / 2);
        let damaged = write(&m, "damaged.p12", &data);
        let err = check_stores(Some(store(&damaged, "pw")), None)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("damaged.p12") && err.contains("PKCS#12"),
            "{err}"
        );

        let missing = m.dir.path().join("missing.p12").display().to_string();
        let err = check_stores(Some(store(&missing, "")), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.p12"), "{err}");

        let jks = write(&m, "store.jks", &[0xFE, 0xED, 0xFE, 0xED, 0, 0, 0, 2]);
        let err = check_stores(None, Some(store(&jks, "x")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("JKS") && err.contains("store.jks"), "{err}");

        let only_ca = write(&m, "only-ca.p12", &pkcs12(&m, "pw", false));
        let err = check_stores(None, Some(store(&only_ca, "pw")))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no private key"), "{err}");
    }
}
