//! Sign-in through the realm with OIDC: authorization code flow
//! with PKCE (S256) on the public `scim-admin-console` client, done with
//! the `oauth2` crate. The browser meets Keycloak at its public URL; the
//! code is exchanged over the sidecar's own connection to Keycloak.
//!
//! The ID token comes straight from the realm's token endpoint in answer to
//! this sidecar's request (OIDC Core 3.1.3.7: the channel stands
//! in for the signature check), so its claims are read, and checked for
//! issuer realm, audience, nonce and expiry, without verifying the signature.

use base64::Engine;
use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, EndpointNotSet, EndpointSet, ExtraTokenFields,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, StandardRevocableToken,
    StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::mapping::CONSOLE_CLIENT_ID;

/// The `id_token` of a token response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdTokenField {
    /// The ID token, when `openid` was in the scope.
    #[serde(default)]
    pub id_token: Option<String>,
}

impl ExtraTokenFields for IdTokenField {}

type OidcTokenResponse = StandardTokenResponse<IdTokenField, BasicTokenType>;

type OidcClient = oauth2::Client<
    BasicErrorResponse,
    OidcTokenResponse,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// Where a realm's OIDC endpoints are.
#[derive(Debug, Clone)]
pub struct Endpoints {
    /// Keycloak as the browser reaches it.
    pub public_base: String,
    /// Keycloak as the sidecar reaches it.
    pub internal_base: String,
}

impl Endpoints {
    fn realm_url(base: &str, realm: &str, tail: &str) -> String {
        format!(
            "{}/realms/{realm}/protocol/openid-connect/{tail}",
            base.trim_end_matches('/')
        )
    }

    /// The browser-facing end-session endpoint of `realm`.
    #[must_use]
    pub fn end_session(&self, realm: &str) -> String {
        Self::realm_url(&self.public_base, realm, "logout")
    }

    fn client(&self, realm: &str, redirect: &str) -> Result<OidcClient, String> {
        let auth = AuthUrl::new(Self::realm_url(&self.public_base, realm, "auth"))
            .map_err(|e| format!("authorization URL: {e}"))?;
        let token = TokenUrl::new(Self::realm_url(&self.internal_base, realm, "token"))
            .map_err(|e| format!("token URL: {e}"))?;
        let redirect =
            RedirectUrl::new(redirect.to_owned()).map_err(|e| format!("redirect URL: {e}"))?;
        Ok(
            oauth2::Client::new(ClientId::new(CONSOLE_CLIENT_ID.to_owned()))
                .set_auth_uri(auth)
                .set_token_uri(token)
                .set_redirect_uri(redirect),
        )
    }

    /// The authorization URL to send the browser to, with its `state`,
    /// PKCE verifier and nonce (kept in the pending sign-in cookie).
    pub fn authorize(
        &self,
        realm: &str,
        redirect: &str,
        nonce: &str,
    ) -> Result<(String, String, String), String> {
        let client = self.client(realm, redirect)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".to_owned()))
            .add_extra_param("nonce", nonce)
            .set_pkce_challenge(challenge)
            .url();
        Ok((
            url.to_string(),
            state.secret().clone(),
            verifier.secret().clone(),
        ))
    }

    /// Exchanges `code` for the ID token.
    pub async fn exchange(
        &self,
        http: &reqwest::Client,
        realm: &str,
        redirect: &str,
        code: &str,
        verifier: &str,
    ) -> Result<String, String> {
        let client = self.client(realm, redirect)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(http)
            .await
            .map_err(|e| match e {
                oauth2::RequestTokenError::ServerResponse(r) => {
                    format!("Keycloak refused the code: {}", r.error())
                }
                _ => "the token request failed".to_owned(),
            })?;
        response
            .extra_fields()
            .id_token
            .clone()
            .ok_or_else(|| "Keycloak sent no ID token".to_owned())
    }
}

/// What the page takes from an ID token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `sub`: the user id.
    pub user_id: String,
    /// `preferred_username`.
    pub username: String,
    /// `sid`: the Keycloak session.
    pub sid: String,
}

/// The claims of `id_token` checked against the realm, the client, the
/// nonce and `now` (Unix seconds).
pub fn identity(id_token: &str, realm: &str, nonce: &str, now: i64) -> Result<Identity, String> {
    let payload = id_token
        .split('.')
        .nth(1)
        .ok_or_else(|| "the ID token is not a JWT".to_owned())?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .map_err(|_| "the ID token is not a JWT".to_owned())?;
    let claims: Value =
        serde_json::from_slice(&bytes).map_err(|_| "the ID token is not a JWT".to_owned())?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or("");
    let realm_suffix = format!("/realms/{realm}");
    if !text("iss").ends_with(&realm_suffix) {
        return Err("the ID token is of another realm".to_owned());
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(a)) => a == CONSOLE_CLIENT_ID,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(CONSOLE_CLIENT_ID)),
        _ => false,
    };
    if !audience_ok {
        return Err("the ID token is for another client".to_owned());
    }
    if !super::session::same_secret(text("nonce"), nonce) {
        return Err("the ID token's nonce does not match".to_owned());
    }
    if claims.get("exp").and_then(Value::as_i64).unwrap_or(0) <= now {
        return Err("the ID token has expired".to_owned());
    }
    let (user_id, sid) = (text("sub"), text("sid"));
    if user_id.is_empty() || sid.is_empty() {
        return Err("the ID token names no user or session".to_owned());
    }
    Ok(Identity {
        user_id: user_id.to_owned(),
        username: text("preferred_username").to_owned(),
        sid: sid.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &Value) -> String {
        let enc = |v: &Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string().as_bytes())
        };
        format!(
            "{}.{}.sig",
            enc(&serde_json::json!({"alg": "RS256"})),
            enc(claims)
        )
    }

    fn claims() -> Value {
        serde_json::json!({
            "iss": "http://kc/realms/demo",
            "aud": CONSOLE_CLIENT_ID,
            "sub": "u1",
            "sid": "s1",
            "nonce": "n1",
            "exp": 200,
            "preferred_username": "alice"
        })
    }

    #[test]
    fn a_matching_id_token_names_the_user_and_session() {
        let id = identity(&jwt(&claims()), "demo", "n1", 100).expect("valid");
        assert_eq!(id.user_id, "u1");
        assert_eq!(id.sid, "s1");
        assert_eq!(id.username, "alice");
    }

    #[test]
    fn realm_audience_nonce_and_expiry_are_checked() {
        assert!(identity(&jwt(&claims()), "other", "n1", 100).is_err());
        assert!(identity(&jwt(&claims()), "demo", "n2", 100).is_err());
        assert!(identity(&jwt(&claims()), "demo", "n1", 200).is_err());
        let mut c = claims();
        c["aud"] = serde_json::json!(["account"]);
        assert!(identity(&jwt(&c), "demo", "n1", 100).is_err());
        assert!(identity("garbage", "demo", "n1", 100).is_err());
    }

    #[test]
    fn the_authorization_url_asks_for_pkce_s256_on_the_console_client() {
        let e = Endpoints {
            public_base: "http://localhost:8080".to_owned(),
            internal_base: "http://kc:8080".to_owned(),
        };
        let (url, state, verifier) = e
            .authorize(
                "demo",
                "http://localhost/realms/demo/scim/admin/callback",
                "n",
            )
            .expect("url");
        assert!(url.starts_with("http://localhost:8080/realms/demo/protocol/openid-connect/auth?"));
        assert!(url.contains("code_challenge_method=S256"), "{url}");
        assert!(url.contains(&format!("state={state}")), "{url}");
        assert!(url.contains("client_id=scim-admin-console"), "{url}");
        assert!(
            !url.contains(&verifier),
            "the verifier stays with the sidecar"
        );
    }
}
