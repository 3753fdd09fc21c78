//! The admin access token: fetched with `oauth2` (client credentials, or the
//! password grant on `admin-cli`), cached until shortly before it expires, and
//! refreshed single-flight so that many concurrent requests make one token
//! call. A 401 from the Admin API invalidates exactly the token it was made
//! with, so a burst of 401s still leads to one refresh.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    ClientId, ClientSecret, EndpointNotSet, EndpointSet, RequestTokenError, ResourceOwnerPassword,
    ResourceOwnerUsername, TokenResponse, TokenUrl,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::{Mutex, RwLock};

use super::KcError;

/// Refresh this long before Keycloak's stated expiry (master tokens live 60 s).
const EARLY_REFRESH: Duration = Duration::from_secs(15);

/// How the sidecar authenticates to the Admin API.
#[derive(Debug, Clone)]
pub enum AdminGrant {
    /// Client-credentials grant on a confidential client with a service account.
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
    },
    /// Password grant on `admin-cli`.
    Password {
        username: String,
        password: SecretString,
    },
}

type TokenClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

#[derive(Clone)]
pub(crate) struct AdminToken {
    pub(crate) secret: SecretString,
    pub(crate) generation: u64,
    expires_at: Instant,
}

pub(crate) struct TokenSource {
    oauth: TokenClient,
    credentials: AdminGrant,
    token_url: String,
    cached: RwLock<Option<AdminToken>>,
    refresh: Mutex<()>,
    generation: AtomicU64,
    pub(crate) refreshes: Arc<AtomicU64>,
}

impl TokenSource {
    pub(crate) fn new(
        base: &url::Url,
        admin_realm: &str,
        credentials: AdminGrant,
        refreshes: Arc<AtomicU64>,
    ) -> Result<Self, KcError> {
        let mut url = base.clone();
        url.path_segments_mut()
            .map_err(|()| KcError::Protocol(format!("{base} cannot be a base URL")))?
            .pop_if_empty()
            .extend(["realms", admin_realm, "protocol", "openid-connect", "token"]);
        let token_url = url.to_string();
        let token_uri =
            TokenUrl::new(token_url.clone()).map_err(|e| KcError::Protocol(e.to_string()))?;
        let oauth = match &credentials {
            AdminGrant::ClientCredentials {
                client_id,
                client_secret,
            } => BasicClient::new(ClientId::new(client_id.clone()))
                .set_client_secret(ClientSecret::new(client_secret.expose_secret().to_owned())),
            AdminGrant::Password { .. } => BasicClient::new(ClientId::new("admin-cli".to_owned())),
        }
        .set_token_uri(token_uri);
        Ok(Self {
            oauth,
            credentials,
            token_url,
            cached: RwLock::new(None),
            refresh: Mutex::new(()),
            generation: AtomicU64::new(0),
            refreshes,
        })
    }

    /// A valid token, from the cache when it has some life left.
    pub(crate) async fn get(&self, http: &reqwest::Client) -> Result<AdminToken, KcError> {
        if let Some(token) = self.fresh_cached().await {
            return Ok(token);
        }
        let _single_flight = self.refresh.lock().await;
        if let Some(token) = self.fresh_cached().await {
            return Ok(token);
        }
        let token = self.fetch(http).await?;
        *self.cached.write().await = Some(token.clone());
        Ok(token)
    }

    /// Drops the cached token if it is still the one of `generation`.
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut cached = self.cached.write().await;
        if cached.as_ref().is_some_and(|t| t.generation == generation) {
            *cached = None;
        }
    }

    /// Drops the cached token whatever it is (after a realm was created, the
    /// admin's permissions in the token are stale).
    pub(crate) async fn clear(&self) {
        *self.cached.write().await = None;
    }

    async fn fresh_cached(&self) -> Option<AdminToken> {
        let cached = self.cached.read().await;
        cached
            .as_ref()
            .filter(|t| t.expires_at > Instant::now())
            .cloned()
    }

    async fn fetch(&self, http: &reqwest::Client) -> Result<AdminToken, KcError> {
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        if let Some(m) = crate::telemetry::metrics::metrics() {
            m.token_refreshes.inc();
        }
        let started = Instant::now();
        let response = match &self.credentials {
            AdminGrant::ClientCredentials { .. } => {
                self.oauth
                    .exchange_client_credentials()
                    .request_async(http)
                    .await
            }
            AdminGrant::Password { username, password } => {
                let user = ResourceOwnerUsername::new(username.clone());
                let pass = ResourceOwnerPassword::new(password.expose_secret().to_owned());
                self.oauth
                    .exchange_password(&user, &pass)
                    .request_async(http)
                    .await
            }
        };
        let response = response.map_err(|e| self.token_error(e))?;
        let lifetime = response
            .expires_in()
            .unwrap_or(Duration::from_secs(60))
            .saturating_sub(EARLY_REFRESH)
            .max(Duration::from_secs(1));
        Ok(AdminToken {
            secret: SecretString::from(response.access_token().secret().clone()),
            generation: self.generation.fetch_add(1, Ordering::Relaxed) + 1,
            expires_at: started + lifetime,
        })
    }

    fn token_error<RE: std::error::Error + 'static>(
        &self,
        err: RequestTokenError<
            oauth2::HttpClientError<RE>,
            oauth2::StandardErrorResponse<BasicErrorResponseType>,
        >,
    ) -> KcError {
        match err {
            RequestTokenError::ServerResponse(resp) => KcError::AdminAuth(format!(
                "{}{}",
                resp.error(),
                resp.error_description()
                    .map(|d| format!(" ({d})"))
                    .unwrap_or_default()
            )),
            RequestTokenError::Request(inner) => {
                let mut reason = inner.to_string();
                let mut source = std::error::Error::source(&inner);
                while let Some(cause) = source {
                    reason = cause.to_string();
                    source = cause.source();
                }
                if reason.contains("timed out") {
                    KcError::Timeout {
                        url: self.token_url.clone(),
                    }
                } else {
                    KcError::Unreachable {
                        url: self.token_url.clone(),
                        reason,
                    }
                }
            }
            RequestTokenError::Parse(e, _) => KcError::Protocol(format!("token response: {e}")),
            RequestTokenError::Other(e) => KcError::AdminAuth(e),
        }
    }
}
