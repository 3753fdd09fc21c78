//! Outbound HTTP for the driver: the shared client and bearer tokens that a
//! background task keeps fresh (master admin tokens live 60 s by default).
//!
//! Invariant: a token is fetched once before it is handed out, so a caller
//! never sees an empty one; a failed refresh keeps the previous token and is
//! retried on the next tick.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

/// How often a token is fetched again.
const REFRESH_EVERY: Duration = Duration::from_secs(25);

/// A bearer token kept fresh by a background task.
#[derive(Clone)]
pub(crate) struct Token(Arc<RwLock<String>>);

impl Token {
    /// The current token.
    pub(crate) fn get(&self) -> String {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The Keycloak admin user and password: `KC_ADMIN_USER` and
/// `KC_ADMIN_PASSWORD`, default `admin`/`admin` (what `keycloak/start.sh` uses).
pub(crate) fn admin_credentials() -> (String, String) {
    (
        std::env::var("KC_ADMIN_USER").unwrap_or_else(|_| "admin".into()),
        std::env::var("KC_ADMIN_PASSWORD").unwrap_or_else(|_| "admin".into()),
    )
}

/// The client of every timed request: 30 s timeout, a pool large enough for
/// the highest concurrency level.
pub(crate) fn client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .context("HTTP client")
}

async fn fetch_token(
    http: &reqwest::Client,
    url: &str,
    form: &[(&'static str, String)],
) -> anyhow::Result<String> {
    let reply: Value = http
        .post(url)
        .form(form)
        .send()
        .await
        .with_context(|| format!("token endpoint {url} unreachable"))?
        .error_for_status()
        .with_context(|| format!("token refused by {url}"))?
        .json()
        .await
        .context("token reply is not JSON")?;
    reply["access_token"]
        .as_str()
        .map(str::to_owned)
        .context("no access_token in the token reply")
}

/// Fetches a token from `url` with `form`, then refreshes it every 25 s.
pub(crate) async fn refreshed_token(
    http: reqwest::Client,
    url: String,
    form: Vec<(&'static str, String)>,
) -> anyhow::Result<Token> {
    let first = fetch_token(&http, &url, &form).await?;
    let token = Token(Arc::new(RwLock::new(first)));
    let shared = token.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH_EVERY).await;
            match fetch_token(&http, &url, &form).await {
                Ok(fresh) => *shared.0.write().unwrap_or_else(PoisonError::into_inner) = fresh,
                Err(e) => eprintln!("token refresh failed, keeping the previous one: {e:#}"),
            }
        }
    });
    Ok(token)
}

/// An admin token of the master realm (password grant on `admin-cli`).
pub(crate) async fn admin_token(http: &reqwest::Client, kc: &str) -> anyhow::Result<Token> {
    let (username, password) = admin_credentials();
    refreshed_token(
        http.clone(),
        format!("{kc}/realms/master/protocol/openid-connect/token"),
        vec![
            ("grant_type", "password".to_owned()),
            ("client_id", "admin-cli".to_owned()),
            ("username", username),
            ("password", password),
        ],
    )
    .await
}
