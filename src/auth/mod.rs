//! Bearer credential verification, per realm. Three kinds are accepted:
//! static secret tokens, stored only as SHA-256 hashes on the realm's
//! `scim-endpoint` client and compared in constant time against every
//! active hash (any number may be active at once, so rotation needs no
//! downtime); Entra-issued JWTs on realms with profile `azure` ([`jwt`]);
//! and the realm's own Keycloak client-credentials tokens of the
//! `scim-endpoint` client. [`Authenticator`] chooses among them by the
//! token's shape and caches the issuers' key sets ([`jwks`]).
//!
//! Invariant: a credential is checked only against the settings of the realm
//! it is presented to, so a credential for realm A never works on realm B;
//! no secret, token or hash is ever logged.

use std::fmt::Write as _;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::mapping::{RealmScimSettings, StoredToken};

mod authenticator;
pub mod jwks;
pub mod jwt;

pub use authenticator::{Authenticator, AuthenticatorOptions, SETTINGS_REFRESH_INTERVAL};
pub use jwks::JwksTiming;

/// Prefix of the static tokens this service issues (helps secret scanners).
pub const TOKEN_PREFIX: &str = "kcscim_";

/// Who called, as far as authentication tells.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A static token, by its public id.
    StaticToken {
        /// The token's id (never the secret).
        id: String,
    },
    /// A JWT issued by Microsoft Entra ID for the realm's tenant.
    EntraJwt {
        /// The token's `tid`.
        tenant_id: String,
    },
    /// A client-credentials JWT issued by the realm itself.
    KeycloakJwt {
        /// The token's `azp` (always `scim-endpoint`).
        client_id: String,
    },
}

impl Credential {
    /// The credential kind, for logs and metrics.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::StaticToken { .. } => "static_token",
            Self::EntraJwt { .. } => "entra_jwt",
            Self::KeycloakJwt { .. } => "keycloak_jwt",
        }
    }

    /// The credential's public id, for the audit log: the static token's
    /// id, the Entra tenant, or the Keycloak client — never the token.
    #[must_use]
    pub fn id(&self) -> &str {
        match self {
            Self::StaticToken { id } => id,
            Self::EntraJwt { tenant_id } => tenant_id,
            Self::KeycloakJwt { client_id } => client_id,
        }
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// More than one `Authorization` header: which one counts is ambiguous.
    #[error("the request has more than one Authorization header")]
    Ambiguous,
    /// No `Authorization` header.
    #[error("the request has no Authorization header")]
    Missing,
    /// Not `Bearer <token>`.
    #[error("the Authorization header is not a Bearer token")]
    WrongScheme,
    /// The token matches no active static token of this realm.
    #[error("the bearer token is not valid for this realm")]
    UnknownToken,
    /// The token matched an expired static token, or the JWT's `exp` passed.
    #[error("the bearer token has expired")]
    Expired,
    /// The JWT's `nbf` lies in the future.
    #[error("the bearer token is not valid yet")]
    NotYetValid,
    /// A JWT that cannot be read (header, `kid`, claims).
    #[error("the bearer token is not a readable JWT")]
    Malformed,
    /// A JWT algorithm that is not accepted (`none`, symmetric, or not the issuer's).
    #[error("the bearer token's signature algorithm is not accepted")]
    Algorithm,
    /// A JWT whose signature does not verify.
    #[error("the bearer token's signature is not valid")]
    BadSignature,
    /// A JWT signed with a key the issuer does not publish.
    #[error("the bearer token is signed with an unknown key")]
    UnknownKey,
    /// The issuer's signing keys could not be fetched.
    #[error("the signing keys of the token's issuer are unavailable")]
    KeysUnavailable,
    /// A JWT from an issuer this realm does not accept.
    #[error("the bearer token's issuer is not accepted by this realm")]
    WrongIssuer,
    /// An Entra JWT for another audience.
    #[error("the bearer token's audience is not accepted")]
    WrongAudience,
    /// An Entra JWT of another tenant.
    #[error("the bearer token's tenant is not the realm's tenant")]
    WrongTenant,
    /// A Keycloak JWT issued to another client.
    #[error("the bearer token was issued to another client")]
    WrongClient,
    /// A Keycloak JWT of the right client whose subject is not the client's
    /// service account: a user's token, from a browser or password grant.
    #[error("the bearer token is not a client-credentials token of the SCIM client")]
    NotServiceAccount,
    /// A Keycloak JWT that is not an access token.
    #[error("the bearer token is not an access token")]
    WrongTokenType,
    /// An Entra JWT on a realm whose profile is not `azure` (or has no tenant id).
    #[error("Entra tokens are accepted only on realms with profile azure and a tenant id")]
    ProfileMismatch,
}

impl AuthError {
    /// A short label for metrics.
    #[must_use]
    pub fn reason(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Ambiguous => "ambiguous",
            Self::WrongScheme => "wrong_scheme",
            Self::UnknownToken => "unknown_token",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::Malformed => "malformed",
            Self::Algorithm => "algorithm",
            Self::BadSignature => "bad_signature",
            Self::UnknownKey => "unknown_key",
            Self::KeysUnavailable => "keys_unavailable",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::WrongTenant => "wrong_tenant",
            Self::WrongClient => "wrong_client",
            Self::WrongTokenType => "wrong_token_type",
            Self::NotServiceAccount => "not_service_account",
            Self::ProfileMismatch => "profile_mismatch",
        }
    }
}

/// The token of an `Authorization: Bearer …` header value.
pub fn bearer_token(header: Option<&str>) -> Result<&str, AuthError> {
    let header = header.ok_or(AuthError::Missing)?.trim();
    let (scheme, token) = header.split_once(' ').ok_or(AuthError::WrongScheme)?;
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthError::WrongScheme);
    }
    Ok(token)
}

/// Verifies `token` against the realm's static tokens.
pub fn verify_static(
    token: &str,
    settings: &RealmScimSettings,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Credential, AuthError> {
    let presented = Sha256::digest(token.as_bytes());
    let mut matched: Option<&StoredToken> = None;
    for stored in &settings.tokens {
        let Some(hash) = decode_hex(&stored.sha256) else {
            continue;
        };
        // Every stored hash is compared, whatever matched before.
        if bool::from(hash.as_slice().ct_eq(presented.as_slice())) {
            matched = Some(stored);
        }
    }
    let stored = matched.ok_or(AuthError::UnknownToken)?;
    if !stored.is_active(now) {
        return Err(AuthError::Expired);
    }
    Ok(Credential::StaticToken {
        id: stored.id.clone(),
    })
}

/// A new static token: `(stored form, secret)`. The secret carries 256 bits
/// of randomness and is shown once; only its hash is stored.
#[must_use]
pub fn new_static_token(
    now: chrono::DateTime<chrono::Utc>,
    expires: Option<chrono::DateTime<chrono::Utc>>,
) -> (StoredToken, String) {
    let mut secret_bytes = [0_u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret_bytes);
    let mut id_bytes = [0_u8; 6];
    rand::rngs::OsRng.fill_bytes(&mut id_bytes);
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret_bytes)
    );
    let stored = StoredToken {
        id: hex(&id_bytes),
        sha256: hex(&Sha256::digest(secret.as_bytes())),
        created: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        expires: expires.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    };
    (stored, secret)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_with(tokens: Vec<StoredToken>) -> RealmScimSettings {
        RealmScimSettings {
            tokens,
            ..RealmScimSettings::default()
        }
    }

    #[test]
    fn issued_token_verifies_and_only_its_hash_is_stored() {
        let now = chrono::Utc::now();
        let (stored, secret) = new_static_token(now, None);
        assert!(secret.starts_with(TOKEN_PREFIX));
        assert!(!stored.sha256.contains(&secret));
        let s = settings_with(vec![stored.clone()]);
        assert_eq!(
            verify_static(&secret, &s, now),
            Ok(Credential::StaticToken { id: stored.id })
        );
    }

    #[test]
    fn two_active_tokens_both_work_and_revoking_one_keeps_the_other() {
        let now = chrono::Utc::now();
        let (a, secret_a) = new_static_token(now, None);
        let (b, secret_b) = new_static_token(now, None);
        let both = settings_with(vec![a.clone(), b.clone()]);
        assert!(verify_static(&secret_a, &both, now).is_ok());
        assert!(verify_static(&secret_b, &both, now).is_ok());
        let only_b = settings_with(vec![b]);
        assert_eq!(
            verify_static(&secret_a, &only_b, now),
            Err(AuthError::UnknownToken)
        );
        assert!(verify_static(&secret_b, &only_b, now).is_ok());
    }

    #[test]
    fn expired_token_is_refused() {
        let now = chrono::Utc::now();
        let (stored, secret) = new_static_token(now, Some(now - chrono::Duration::seconds(1)));
        assert_eq!(
            verify_static(&secret, &settings_with(vec![stored]), now),
            Err(AuthError::Expired)
        );
    }

    #[test]
    fn header_forms() {
        assert_eq!(bearer_token(None), Err(AuthError::Missing));
        assert_eq!(bearer_token(Some("Basic abc")), Err(AuthError::WrongScheme));
        assert_eq!(bearer_token(Some("Bearer")), Err(AuthError::WrongScheme));
        assert_eq!(bearer_token(Some("Bearer ")), Err(AuthError::WrongScheme));
        assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
    }

    #[test]
    fn a_token_of_another_realm_is_refused() {
        let now = chrono::Utc::now();
        let (_, secret_a) = new_static_token(now, None);
        let (b, _) = new_static_token(now, None);
        assert_eq!(
            verify_static(&secret_a, &settings_with(vec![b]), now),
            Err(AuthError::UnknownToken)
        );
    }
}
