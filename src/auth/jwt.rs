//! Verification of signed JWTs: Entra-issued tokens (realm profile `azure`)
//! and the realm's own Keycloak client-credentials tokens. The unverified
//! `iss` only chooses which rules apply; every accepted token has passed its
//! signature check against the issuer's published keys, its algorithm check,
//! `exp` / `nbf` with the configured skew, and the issuer's claim rules.
//!
//! Invariant: no symmetric algorithm and no `none` is ever accepted, so a
//! public key can never be used as an HMAC secret; the token itself is never
//! logged or put into an error.

use std::time::Duration;

use base64::Engine;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;

use super::jwks::SigningKey;
use super::AuthError;

/// The audience of the tokens Entra's provisioning service sends.
pub const ENTRA_AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";
/// Issuer prefix of Entra (v1) tokens; the tenant id and `/` follow.
pub const ENTRA_ISSUER_PREFIX: &str = "https://sts.windows.net/";
/// Issuer prefix of Entra v2.0 tokens; the tenant id and `/v2.0` follow.
pub const ENTRA_V2_ISSUER_PREFIX: &str = "https://login.microsoftonline.com/";

/// Whether `issuer` has the form of an Entra issuer (v1 or v2.0); which
/// tenant it must name is the realm's to say.
#[must_use]
pub fn is_entra_issuer(issuer: &str) -> bool {
    issuer.starts_with(ENTRA_ISSUER_PREFIX)
        || (issuer.starts_with(ENTRA_V2_ISSUER_PREFIX) && issuer.ends_with("/v2.0"))
}

/// Algorithms a Keycloak realm may sign access tokens with (asymmetric only).
const KEYCLOAK_ALGORITHMS: [Algorithm; 8] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
];

/// Whether a realm's tokens may be signed with `alg`.
#[must_use]
pub fn is_keycloak_algorithm(alg: Algorithm) -> bool {
    KEYCLOAK_ALGORITHMS.contains(&alg)
}

/// Whether `token` has the shape of a JWS compact serialisation.
#[must_use]
pub fn looks_like_jwt(token: &str) -> bool {
    let mut parts = token.split('.');
    let three = parts.clone().count() == 3;
    three && parts.all(|p| !p.is_empty())
}

/// What the unverified token says about itself: enough to choose the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    /// The header's `alg`.
    pub algorithm: Algorithm,
    /// The header's `kid`.
    pub kid: String,
    /// The payload's `iss`.
    pub issuer: String,
}

/// Reads header and issuer without trusting them. `alg: none` and unknown
/// algorithms are refused here.
pub fn peek(token: &str) -> Result<Unverified, AuthError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload)) = (parts.next(), parts.next()) else {
        return Err(AuthError::Malformed);
    };
    let header: RawHeader = decode_part(header)?;
    let algorithm = header
        .alg
        .parse::<Algorithm>()
        .map_err(|_| AuthError::Algorithm)?;
    let kid = header
        .kid
        .filter(|k| !k.is_empty())
        .ok_or(AuthError::Malformed)?;
    let Iss { iss } = decode_part(payload)?;
    Ok(Unverified {
        algorithm,
        kid,
        issuer: iss,
    })
}

fn decode_part<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, AuthError> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| AuthError::Malformed)
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    kid: Option<String>,
}

#[derive(Deserialize)]
struct Iss {
    iss: String,
}

#[derive(Debug, Deserialize)]
struct EntraClaims {
    tid: Option<String>,
}

/// Verifies an Entra-issued token of tenant `tenant_id`; returns the tenant.
pub fn verify_entra(
    token: &str,
    key: &SigningKey,
    tenant_id: &str,
    skew: Duration,
) -> Result<String, AuthError> {
    if key.algorithm.is_some_and(|a| a != Algorithm::RS256) {
        return Err(AuthError::Algorithm);
    }
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = skew.as_secs();
    validation.validate_nbf = true;
    validation.set_issuer(&[
        format!("{ENTRA_ISSUER_PREFIX}{tenant_id}/"),
        format!("{ENTRA_V2_ISSUER_PREFIX}{tenant_id}/v2.0"),
    ]);
    validation.set_audience(&[ENTRA_AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let claims = jsonwebtoken::decode::<EntraClaims>(token, &key.key, &validation)
        .map_err(map_error)?
        .claims;
    match claims.tid {
        Some(tid) if tid.eq_ignore_ascii_case(tenant_id) => Ok(tid),
        _ => Err(AuthError::WrongTenant),
    }
}

#[derive(Debug, Deserialize)]
struct KeycloakClaims {
    azp: Option<String>,
    typ: Option<String>,
    sub: Option<String>,
}

/// Who a Keycloak access token must come from: the SCIM client, and its
/// service account as the subject (a client-credentials grant).
#[derive(Debug, Clone, Copy)]
pub struct KeycloakCaller<'a> {
    /// The client id (`azp`).
    pub client_id: &'a str,
    /// The id of the client's service-account user (`sub`); `None` when the
    /// client has none, and then no token is accepted.
    pub service_account: Option<&'a str>,
}

/// Verifies an access token of the realm whose issuer is `issuer`, issued to
/// `caller`'s client for its service account; returns the client id.
pub fn verify_keycloak(
    token: &str,
    header_alg: Algorithm,
    key: &SigningKey,
    issuer: &str,
    caller: KeycloakCaller<'_>,
    skew: Duration,
) -> Result<String, AuthError> {
    if !is_keycloak_algorithm(header_alg) || key.algorithm.is_some_and(|a| a != header_alg) {
        return Err(AuthError::Algorithm);
    }
    let mut validation = Validation::new(header_alg);
    validation.leeway = skew.as_secs();
    validation.validate_nbf = true;
    validation.validate_aud = false; // Keycloak's `aud` names resource servers, not us; `azp` names the client
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss"]);
    let claims = jsonwebtoken::decode::<KeycloakClaims>(token, &key.key, &validation)
        .map_err(map_error)?
        .claims;
    // ID and refresh tokens of the same client carry other `typ`s.
    if !claims
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
    {
        return Err(AuthError::WrongTokenType);
    }
    let azp = match claims.azp {
        Some(azp) if azp == caller.client_id => azp,
        _ => return Err(AuthError::WrongClient),
    };
    // A user's token of the same client (standard flow, password grant) has
    // the user as `sub`; only the client's own service account may call.
    match (claims.sub.as_deref(), caller.service_account) {
        (Some(sub), Some(account)) if sub == account => Ok(azp),
        _ => Err(AuthError::NotServiceAccount),
    }
}

#[allow(clippy::needless_pass_by_value)] // used as `map_err(map_error)`
fn map_error(e: jsonwebtoken::errors::Error) -> AuthError {
    match e.kind() {
        ErrorKind::ExpiredSignature => AuthError::Expired,
        ErrorKind::ImmatureSignature => AuthError::NotYetValid,
        ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
        ErrorKind::InvalidAudience => AuthError::WrongAudience,
        ErrorKind::InvalidSignature => AuthError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName => AuthError::Algorithm,
        _ => AuthError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn jwt_shape_is_three_non_empty_parts() {
        assert!(looks_like_jwt("a.b.c"));
        assert!(!looks_like_jwt("a.b"));
        assert!(!looks_like_jwt("a..c"));
        assert!(!looks_like_jwt("a.b.c.d"));
        assert!(!looks_like_jwt("kcscim_abc"));
    }

    #[test]
    fn alg_none_is_refused_before_any_key_lookup() {
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"none","kid":"k"}"#),
            b64(r#"{"iss":"x"}"#)
        );
        assert_eq!(peek(&token), Err(AuthError::Algorithm));
    }

    #[test]
    fn a_token_without_kid_or_iss_is_malformed() {
        let no_kid = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"iss":"x"}"#)
        );
        assert_eq!(peek(&no_kid), Err(AuthError::Malformed));
        let no_iss = format!("{}.{}.sig", b64(r#"{"alg":"RS256","kid":"k"}"#), b64("{}"));
        assert_eq!(peek(&no_iss), Err(AuthError::Malformed));
        assert_eq!(peek("x.y.z"), Err(AuthError::Malformed));
    }

    #[test]
    fn peek_reads_alg_kid_and_issuer() {
        let token = format!(
            "{}.{}.sig",
            b64(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#),
            b64(r#"{"iss":"https://sts.windows.net/t/"}"#)
        );
        assert_eq!(
            peek(&token),
            Ok(Unverified {
                algorithm: Algorithm::RS256,
                kid: "k1".to_owned(),
                issuer: "https://sts.windows.net/t/".to_owned(),
            })
        );
    }

    #[test]
    fn hmac_keys_and_symmetric_header_algorithms_are_refused_for_keycloak() {
        let key = SigningKey {
            key: jsonwebtoken::DecodingKey::from_secret(b"public key bytes"),
            algorithm: None,
        };
        let r = verify_keycloak(
            "a.b.c",
            Algorithm::HS256,
            &key,
            "iss",
            KeycloakCaller {
                client_id: "scim-endpoint",
                service_account: Some("sa"),
            },
            Duration::ZERO,
        );
        assert_eq!(r, Err(AuthError::Algorithm));
    }
}
