//! Signing of internal REST requests between workers (KIP-507): the body's HMAC under the
//! session key the leader keeps in the config topic, sent Base64-encoded in
//! `X-Connect-Authorization` with the algorithm in `X-Connect-Request-Signature-Algorithm`.

use base64::Engine;
use hmac::{Hmac, Mac};

use super::config_store::SessionKey;
use crate::herder::HerderError;

/// Header carrying the Base64 signature.
pub const SIGNATURE_HEADER: &str = "X-Connect-Authorization";
/// Header naming the signature algorithm.
pub const ALGORITHM_HEADER: &str = "X-Connect-Request-Signature-Algorithm";

/// Errors signing a request.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The algorithm is not one this worker knows.
    #[error("unsupported signature algorithm {0}")]
    UnknownAlgorithm(String),
    /// The stored key is not Base64.
    #[error("the session key is not valid Base64: {0}")]
    BadKey(String),
}

/// A fresh random 256-bit key.
pub fn new_key() -> Vec<u8> {
    let mut key = vec![0u8; 32];
    // The OS random source does not fail on supported platforms; a zero key would still be
    // replaced at the next key rotation.
    if let Err(e) = getrandom::fill(&mut key) {
        tracing::error!(error = %e, "no random source for the session key");
    }
    key
}

fn mac(algorithm: &str, key: &[u8], body: &[u8]) -> Result<Vec<u8>, SignatureError> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], body: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length, so this cannot fail.
        let mut m = <M as hmac::digest::KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        m.update(body);
        m.finalize().into_bytes().to_vec()
    }
    match algorithm {
        "HmacSHA256" => Ok(run::<Hmac<sha2::Sha256>>(key, body)),
        "HmacSHA512" => Ok(run::<Hmac<sha2::Sha512>>(key, body)),
        other => Err(SignatureError::UnknownAlgorithm(other.to_owned())),
    }
}

fn key_bytes(key: &SessionKey) -> Result<Vec<u8>, SignatureError> {
    base64::engine::general_purpose::STANDARD
        .decode(key.key.trim())
        .map_err(|e| SignatureError::BadKey(e.to_string()))
}

/// The Base64 signature of `body`.
pub fn sign(key: &SessionKey, algorithm: &str, body: &[u8]) -> Result<String, SignatureError> {
    let mac = mac(algorithm, &key_bytes(key)?, body)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(mac))
}

/// Checks an internal request's signature; errors carry the status Kafka answers with
/// (400 missing/unknown algorithm, 503 no key yet, 403 wrong signature).
pub fn verify(
    key: Option<&SessionKey>,
    accepted_algorithm: &str,
    signature: Option<(&str, &str)>,
    body: &[u8],
) -> Result<(), HerderError> {
    let Some((algorithm, given)) = signature else {
        return Err(HerderError::BadRequest(
            "Internal request missing required signature".into(),
        ));
    };
    if algorithm != accepted_algorithm {
        return Err(HerderError::BadRequest(format!(
            "This worker does not support the signature algorithm {algorithm}"
        )));
    }
    let Some(key) = key else {
        return Err(HerderError::Unavailable(
            "This worker has no session key yet to verify internal requests".into(),
        ));
    };
    let expected = sign(key, algorithm, body).map_err(|e| HerderError::Internal(e.to_string()))?;
    let given = given.as_bytes();
    let same = expected.len() == given.len()
        && subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), given).into();
    if same {
        Ok(())
    } else {
        Err(HerderError::Forbidden(
            "Internal request contained invalid signature.".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey {
            key: base64::engine::general_purpose::STANDARD.encode(b"key"),
            algorithm: "HmacSHA256".into(),
            created_ms: 0,
        }
    }

    #[test]
    fn hmac_sha256_matches_the_rfc_4231_style_known_value() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog") is a well-known value.
        let sig = sign(
            &key(),
            "HmacSHA256",
            b"The quick brown fox jumps over the lazy dog",
        )
        .unwrap();
        let raw = base64::engine::general_purpose::STANDARD
            .decode(sig)
            .unwrap();
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
        );
    }

    #[test]
    fn verification_answers_like_kafka() {
        let k = key();
        let body = b"[]";
        let good = sign(&k, "HmacSHA256", body).unwrap();
        assert!(verify(Some(&k), "HmacSHA256", Some(("HmacSHA256", &good)), body).is_ok());
        assert!(matches!(
            verify(Some(&k), "HmacSHA256", None, body),
            Err(HerderError::BadRequest(_))
        ));
        assert!(matches!(
            verify(Some(&k), "HmacSHA256", Some(("HmacMD5", &good)), body),
            Err(HerderError::BadRequest(_))
        ));
        assert!(matches!(
            verify(None, "HmacSHA256", Some(("HmacSHA256", &good)), body),
            Err(HerderError::Unavailable(_))
        ));
        assert!(matches!(
            verify(Some(&k), "HmacSHA256", Some(("HmacSHA256", &good)), b"[{}]"),
            Err(HerderError::Forbidden(_))
        ));
    }
}
