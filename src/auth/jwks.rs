//! Signing keys published as JSON Web Key Sets (Entra's, and each realm's
//! `…/protocol/openid-connect/certs`), cached per URL. A token whose `kid`
//! is not in the cached set triggers one refetch (a key rotation shows up at
//! once); a set older than its maximum age is refetched on the next lookup.
//!
//! Invariant: a URL is fetched at most once per `min_refetch`, whatever the
//! callers send (so tokens with made-up `kid`s cannot hammer the key
//! server), fetches are single-flight, and a failed fetch keeps the keys
//! already known.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{Jwk, KeyAlgorithm};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use super::AuthError;

/// Largest key-set document accepted, in bytes.
const MAX_JWKS_BYTES: usize = 512 * 1024;

/// One verification key of a set.
#[derive(Clone)]
pub struct SigningKey {
    /// The key.
    pub key: DecodingKey,
    /// The algorithm the set pins the key to (`alg`), if it says.
    pub algorithm: Option<Algorithm>,
}

/// The keys of one URL and when they were last fetched (or tried).
struct Entry {
    keys: Arc<HashMap<String, SigningKey>>,
    fetched: Option<Instant>,
    attempted: Instant,
}

/// How often key sets are fetched.
#[derive(Debug, Clone, Copy)]
pub struct JwksTiming {
    /// Least time between two fetches of one URL.
    pub min_refetch: Duration,
    /// A set older than this is refetched on the next lookup.
    pub max_age: Duration,
}

/// Key sets by URL.
pub struct JwksCache {
    http: reqwest::Client,
    timing: JwksTiming,
    entries: RwLock<HashMap<String, Entry>>,
    fetching: Mutex<()>,
}

impl JwksCache {
    /// An empty cache fetching with `http`.
    #[must_use]
    pub fn new(http: reqwest::Client, timing: JwksTiming) -> Self {
        Self {
            http,
            timing,
            entries: RwLock::new(HashMap::new()),
            fetching: Mutex::new(()),
        }
    }

    /// The key `kid` of the set at `url`: from the cache, else after one
    /// refetch when the rate limit allows it.
    pub async fn key(&self, url: &str, kid: &str) -> Result<SigningKey, AuthError> {
        if let Some(hit) = self.fresh_hit(url, kid).await {
            return Ok(hit);
        }
        let _single_flight = self.fetching.lock().await;
        if let Some(hit) = self.fresh_hit(url, kid).await {
            return Ok(hit);
        }
        let (known, may_fetch) = {
            let entries = self.entries.read().await;
            match entries.get(url) {
                Some(e) => (
                    e.fetched.map(|_| Arc::clone(&e.keys)),
                    e.attempted.elapsed() >= self.timing.min_refetch,
                ),
                None => (None, true),
            }
        };
        if !may_fetch {
            return match known {
                Some(keys) => keys.get(kid).cloned().ok_or(AuthError::UnknownKey),
                None => Err(AuthError::KeysUnavailable),
            };
        }
        let fetched = self.fetch(url).await;
        let mut entries = self.entries.write().await;
        match fetched {
            Ok(keys) => {
                let keys = Arc::new(keys);
                entries.insert(
                    url.to_owned(),
                    Entry {
                        keys: Arc::clone(&keys),
                        fetched: Some(Instant::now()),
                        attempted: Instant::now(),
                    },
                );
                tracing::debug!(url, keys = keys.len(), "signing keys fetched");
                keys.get(kid).cloned().ok_or(AuthError::UnknownKey)
            }
            Err(cause) => {
                tracing::warn!(url, %cause, "cannot fetch signing keys");
                let entry = entries.entry(url.to_owned()).or_insert_with(|| Entry {
                    keys: Arc::new(HashMap::new()),
                    fetched: None,
                    attempted: Instant::now(),
                });
                entry.attempted = Instant::now();
                match known {
                    Some(keys) => keys.get(kid).cloned().ok_or(AuthError::UnknownKey),
                    None => Err(AuthError::KeysUnavailable),
                }
            }
        }
    }

    /// A cached key of a set that is not yet due for a refetch.
    async fn fresh_hit(&self, url: &str, kid: &str) -> Option<SigningKey> {
        let entries = self.entries.read().await;
        let entry = entries.get(url)?;
        let fresh = entry
            .fetched
            .is_some_and(|at| at.elapsed() < self.timing.max_age);
        let key = entry.keys.get(kid)?;
        // A stale set is still used while a refetch is not allowed yet.
        (fresh || entry.attempted.elapsed() < self.timing.min_refetch).then(|| key.clone())
    }

    async fn fetch(&self, url: &str) -> Result<HashMap<String, SigningKey>, String> {
        let response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| format!("transport: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("HTTP {status}"));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_JWKS_BYTES as u64)
        {
            return Err("key set too large".to_owned());
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| format!("transport: {e}"))?;
        if bytes.len() > MAX_JWKS_BYTES {
            return Err("key set too large".to_owned());
        }
        let document: Value =
            serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))?;
        parse_key_set(&document)
    }
}

/// The signature keys of a JWKS document, by `kid`. Keys that are not for
/// signatures, have no `kid`, or cannot be read are skipped.
pub fn parse_key_set(document: &Value) -> Result<HashMap<String, SigningKey>, String> {
    let keys = document
        .get("keys")
        .and_then(Value::as_array)
        .ok_or("no keys array")?;
    let mut out = HashMap::new();
    for raw in keys {
        if raw
            .get("use")
            .and_then(Value::as_str)
            .is_some_and(|u| u != "sig")
        {
            continue;
        }
        let Ok(jwk) = serde_json::from_value::<Jwk>(raw.clone()) else {
            continue;
        };
        let Some(kid) = jwk.common.key_id.clone() else {
            continue;
        };
        let algorithm = match jwk.common.key_algorithm {
            None => None,
            Some(alg) => match signature_algorithm(alg) {
                Some(a) => Some(a),
                None => continue, // an encryption key
            },
        };
        let Ok(key) = DecodingKey::from_jwk(&jwk) else {
            continue;
        };
        out.insert(kid, SigningKey { key, algorithm });
    }
    Ok(out)
}

fn signature_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::HS256 => Algorithm::HS256,
        KeyAlgorithm::HS384 => Algorithm::HS384,
        KeyAlgorithm::HS512 => Algorithm::HS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        KeyAlgorithm::RSA1_5 | KeyAlgorithm::RSA_OAEP | KeyAlgorithm::RSA_OAEP_256 => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // A 512-bit modulus is enough to test parsing; nothing is verified with it.
    const N: &str =
        "vZ1Cmr1yBnQYbUwCrV0ruZbuASzNQeEe1P5hjmw3y5ZZ7HIzJbo3OnPN9dhDCSmuvaFkLZuhjJomMUn6xbRWKQ";

    #[test]
    fn encryption_keys_and_keys_without_kid_are_skipped() {
        let doc = json!({"keys": [
            {"kty": "RSA", "kid": "sig1", "use": "sig", "alg": "RS256", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc1", "use": "enc", "alg": "RSA-OAEP", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "enc2", "alg": "RSA-OAEP", "n": N, "e": "AQAB"},
            {"kty": "RSA", "use": "sig", "n": N, "e": "AQAB"},
            {"kty": "RSA", "kid": "noalg", "n": N, "e": "AQAB"},
            {"kty": "weird", "kid": "bad"}
        ]});
        let keys = parse_key_set(&doc).expect("parses");
        let mut kids: Vec<_> = keys.keys().cloned().collect();
        kids.sort();
        assert_eq!(kids, vec!["noalg", "sig1"]);
        assert_eq!(
            keys.get("sig1").and_then(|k| k.algorithm),
            Some(Algorithm::RS256)
        );
        assert_eq!(keys.get("noalg").and_then(|k| k.algorithm), None);
    }

    #[test]
    fn a_document_without_keys_is_an_error() {
        assert!(parse_key_set(&json!({"nope": []})).is_err());
        assert!(parse_key_set(&json!([])).is_err());
    }

    #[tokio::test]
    async fn an_unreachable_key_server_is_reported_and_not_retried_at_once() {
        let cache = JwksCache::new(
            reqwest::Client::new(),
            JwksTiming {
                min_refetch: Duration::from_secs(60),
                max_age: Duration::from_secs(3600),
            },
        );
        // Port 9 (discard) on localhost: connection refused.
        let url = "http://127.0.0.1:9/keys";
        assert_eq!(
            cache.key(url, "k").await.err(),
            Some(AuthError::KeysUnavailable)
        );
        // Within min_refetch there is no second attempt.
        let started = Instant::now();
        assert_eq!(
            cache.key(url, "k").await.err(),
            Some(AuthError::KeysUnavailable)
        );
        assert!(started.elapsed() < Duration::from_millis(50));
    }
}
