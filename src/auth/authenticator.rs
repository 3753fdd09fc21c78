//! The [`Authenticator`]: chooses the verifier from the token's shape
//! (`kcscim_…` → static token, three dot-separated parts → JWT, routed by
//! its issuer to Entra's or the realm's own rules) and holds the state that
//! verification shares across requests: the key-set caches and the per-realm
//! limiter of settings refreshes.
//!
//! Invariant: every rule is evaluated against the realm the request names —
//! its settings, its issuer, its key set — so a credential for realm A never
//! works on realm B; nothing here logs a token.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::jwks::{JwksCache, JwksTiming};
use super::jwt;
use super::{verify_static, AuthError, Credential, TOKEN_PREFIX};
use crate::mapping::{Profile, RealmScimSettings, SCIM_CLIENT_ID};

/// Least time between two settings refreshes of one realm caused by
/// unknown static tokens.
pub const SETTINGS_REFRESH_INTERVAL: Duration = Duration::from_secs(1);

/// What the authenticator needs to know.
#[derive(Debug, Clone)]
pub struct AuthenticatorOptions {
    /// Where Entra publishes its signing keys.
    pub entra_jwks_url: String,
    /// Keycloak as the sidecar reaches it (realm key sets are fetched there).
    pub keycloak_url: String,
    /// Keycloak as clients see it: realm issuers are `{public_url}/realms/{realm}`.
    pub public_url: String,
    /// Allowed clock skew for `exp` / `nbf`.
    pub clock_skew: Duration,
    /// How often key sets may be fetched.
    pub jwks: JwksTiming,
}

/// Verifies bearer tokens for realms.
pub struct Authenticator {
    opts: AuthenticatorOptions,
    entra_keys: JwksCache,
    realm_keys: JwksCache,
    refreshed: Mutex<HashMap<String, Instant>>,
}

impl Authenticator {
    /// An authenticator fetching key sets with `http` (the hardened outbound
    /// client).
    #[must_use]
    pub fn new(http: &reqwest::Client, opts: AuthenticatorOptions) -> Self {
        Self {
            entra_keys: JwksCache::new(http.clone(), opts.jwks),
            realm_keys: JwksCache::new(http.clone(), opts.jwks),
            opts,
            refreshed: Mutex::new(HashMap::new()),
        }
    }

    /// The issuer of `realm`'s own tokens.
    #[must_use]
    pub fn realm_issuer(&self, realm: &str) -> String {
        format!(
            "{}/realms/{realm}",
            self.opts.public_url.trim_end_matches('/')
        )
    }

    /// Verifies `token`, presented to `realm` whose settings are `settings`
    /// and whose SCIM client's service-account user is `service_account`.
    pub async fn verify(
        &self,
        realm: &str,
        token: &str,
        settings: &RealmScimSettings,
        service_account: Option<&str>,
    ) -> Result<Credential, AuthError> {
        if token.starts_with(TOKEN_PREFIX) || !jwt::looks_like_jwt(token) {
            return verify_static(token, settings, chrono::Utc::now());
        }
        let claimed = jwt::peek(token)?;
        if jwt::is_entra_issuer(&claimed.issuer) {
            return self.verify_entra(token, &claimed, settings).await;
        }
        let issuer = self.realm_issuer(realm);
        if claimed.issuer != issuer {
            return Err(AuthError::WrongIssuer);
        }
        let url = format!(
            "{}/realms/{realm}/protocol/openid-connect/certs",
            self.opts.keycloak_url.trim_end_matches('/')
        );
        if !jwt::is_keycloak_algorithm(claimed.algorithm) {
            return Err(AuthError::Algorithm);
        }
        let key = self.realm_keys.key(&url, &claimed.kid).await?;
        let client_id = jwt::verify_keycloak(
            token,
            claimed.algorithm,
            &key,
            &issuer,
            jwt::KeycloakCaller {
                client_id: SCIM_CLIENT_ID,
                service_account,
            },
            self.opts.clock_skew,
        )?;
        Ok(Credential::KeycloakJwt { client_id })
    }

    async fn verify_entra(
        &self,
        token: &str,
        claimed: &jwt::Unverified,
        settings: &RealmScimSettings,
    ) -> Result<Credential, AuthError> {
        let (Profile::Azure, Some(tenant_id)) = (&settings.profile, &settings.tenant_id) else {
            return Err(AuthError::ProfileMismatch);
        };
        if claimed.algorithm != jsonwebtoken::Algorithm::RS256 {
            return Err(AuthError::Algorithm);
        }
        let key = self
            .entra_keys
            .key(&self.opts.entra_jwks_url, &claimed.kid)
            .await?;
        let tenant_id = jwt::verify_entra(token, &key, tenant_id, self.opts.clock_skew)?;
        Ok(Credential::EntraJwt { tenant_id })
    }

    /// Whether the cached settings of `realm` may be reloaded now because a
    /// static token was not found in them (a token created a moment ago
    /// works at once); true at most once per [`SETTINGS_REFRESH_INTERVAL`]
    /// per realm.
    pub fn may_refresh_settings(&self, realm: &str) -> bool {
        let Ok(mut refreshed) = self.refreshed.lock() else {
            return false;
        };
        let now = Instant::now();
        match refreshed.get(realm) {
            Some(at) if now.duration_since(*at) < SETTINGS_REFRESH_INTERVAL => false,
            _ => {
                refreshed.insert(realm.to_owned(), now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn authenticator() -> Authenticator {
        Authenticator::new(
            &reqwest::Client::new(),
            AuthenticatorOptions {
                entra_jwks_url: "http://127.0.0.1:9/keys".to_owned(),
                keycloak_url: "http://127.0.0.1:9".to_owned(),
                public_url: "https://id.example.com/".to_owned(),
                clock_skew: Duration::from_secs(60),
                jwks: JwksTiming {
                    min_refetch: Duration::from_secs(10),
                    max_age: Duration::from_secs(3600),
                },
            },
        )
    }

    #[test]
    fn settings_refresh_is_limited_per_realm() {
        let a = authenticator();
        assert!(a.may_refresh_settings("r1"));
        assert!(!a.may_refresh_settings("r1"));
        assert!(a.may_refresh_settings("r2"));
    }

    #[test]
    fn realm_issuer_uses_the_public_url() {
        assert_eq!(
            authenticator().realm_issuer("acme"),
            "https://id.example.com/realms/acme"
        );
    }

    #[tokio::test]
    async fn a_static_token_is_checked_against_the_realm_settings() {
        let now = chrono::Utc::now();
        let (stored, secret) = super::super::new_static_token(now, None);
        let settings = RealmScimSettings {
            tokens: vec![stored.clone()],
            ..RealmScimSettings::default()
        };
        let a = authenticator();
        assert_eq!(
            a.verify("r", &secret, &settings, None).await,
            Ok(Credential::StaticToken { id: stored.id })
        );
        assert_eq!(
            a.verify("r", &secret, &RealmScimSettings::default(), None)
                .await,
            Err(AuthError::UnknownToken)
        );
    }

    #[tokio::test]
    async fn an_entra_token_on_a_generic_realm_is_refused_without_fetching_keys() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","kid":"k"}"#),
            b64(r#"{"iss":"https://sts.windows.net/t/"}"#)
        );
        let a = authenticator();
        assert_eq!(
            a.verify("r", &token, &RealmScimSettings::default(), None)
                .await,
            Err(AuthError::ProfileMismatch)
        );
    }

    #[tokio::test]
    async fn a_token_of_another_realm_is_refused_by_issuer() {
        use base64::Engine;
        let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        let token = format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","kid":"k"}"#),
            b64(r#"{"iss":"https://id.example.com/realms/other"}"#)
        );
        assert_eq!(
            authenticator()
                .verify("acme", &token, &RealmScimSettings::default(), None)
                .await,
            Err(AuthError::WrongIssuer)
        );
    }
}
