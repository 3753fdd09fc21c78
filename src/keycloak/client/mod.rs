//! `KcAdmin`: one hardened outbound HTTP client (timeouts, no redirects, a
//! user agent, pooled connections, one pool per calling thread) plus the
//! admin token, the request plumbing every Admin REST call goes through, and
//! [`CallStats`], which tests use to hold the per-operation call budget. The
//! typed calls live in one file per Admin API section (`realms`, `clients`,
//! `users`, `groups`, `roles`), each building its paths with one helper on
//! top of [`realm_path`].
//!
//! Invariant: every Admin API call goes through `KcAdmin::call` (counted,
//! timed, retried once on a 401, `.`/`..`/empty segments refused), and this
//! module is built from plain values: it knows nothing of the settings file.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::token::{AdminGrant, TokenSource};
use super::KcError;

mod clients;
mod flows;
mod groups;
mod realms;
mod roles;
mod users;

pub use groups::GroupQuery;
pub use roles::{RoleHolder, RoleScope};
pub use users::UserQuery;

/// Counters of the Admin API traffic of one `KcAdmin`.
#[derive(Debug, Default)]
pub struct CallStats {
    /// Admin API calls made (token requests excluded).
    pub calls: AtomicU64,
    /// Of those, calls that write (anything but GET).
    pub writes: AtomicU64,
    /// Calls that failed with a transport error or a 5xx.
    pub errors: AtomicU64,
    /// Admin token requests.
    pub token_refreshes: Arc<AtomicU64>,
    /// Sum of call latencies, in microseconds.
    pub latency_micros: AtomicU64,
    /// Calls on the wire right now.
    in_flight: AtomicU64,
    /// Most calls on the wire at once since the last
    /// [`CallStats::take_peak_in_flight`].
    peak_in_flight: AtomicU64,
}

/// Counts one call as on the wire until it is dropped (answered, failed or
/// cancelled).
struct OnTheWire<'a>(&'a CallStats);

impl<'a> OnTheWire<'a> {
    fn new(stats: &'a CallStats) -> Self {
        let now = stats.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        stats.peak_in_flight.fetch_max(now, Ordering::Relaxed);
        Self(stats)
    }
}

impl Drop for OnTheWire<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

impl CallStats {
    /// Calls made so far.
    #[must_use]
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
    /// Writes made so far.
    #[must_use]
    pub fn writes(&self) -> u64 {
        self.writes.load(Ordering::Relaxed)
    }
    /// The most calls that were on the wire at once since the last call of
    /// this; starts the next count from those on the wire now.
    pub fn take_peak_in_flight(&self) -> u64 {
        let now = self.in_flight.load(Ordering::Relaxed);
        self.peak_in_flight.swap(now, Ordering::Relaxed)
    }
}

/// What [`KcAdmin::new`] needs: where Keycloak is, how to authenticate to its
/// Admin API, and how long one call may take.
#[derive(Debug, Clone)]
pub struct KcAdminOptions {
    /// Base URL of Keycloak as the sidecar reaches it.
    pub base_url: url::Url,
    /// Realm the admin credentials belong to.
    pub admin_realm: String,
    /// The admin credentials.
    pub grant: AdminGrant,
    /// Timeout of one Admin API call.
    pub timeout: Duration,
    /// Timeout for opening a connection.
    pub connect_timeout: Duration,
}

/// The Admin REST client. Cheap to clone; clones share the pool, token and stats.
#[derive(Clone)]
pub struct KcAdmin {
    inner: Arc<Inner>,
}

struct Inner {
    http: ThreadPools,
    base: url::Url,
    tokens: TokenSource,
    stats: Arc<CallStats>,
    admin_realm: String,
}

impl KcAdmin {
    /// Builds the client; makes no call yet.
    pub fn new(options: KcAdminOptions) -> Result<Self, KcError> {
        let KcAdminOptions {
            base_url: base,
            admin_realm,
            grant,
            timeout,
            connect_timeout,
        } = options;
        let http = ThreadPools::new(timeout, connect_timeout)
            .map_err(|e| KcError::Protocol(format!("HTTP client: {e}")))?;
        let stats = Arc::new(CallStats::default());
        let tokens = TokenSource::new(
            &base,
            &admin_realm,
            grant,
            Arc::clone(&stats.token_refreshes),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                tokens,
                stats,
                admin_realm,
            }),
        })
    }

    /// Counters of this client's traffic.
    #[must_use]
    pub fn stats(&self) -> &Arc<CallStats> {
        &self.inner.stats
    }

    /// The realm the admin credentials belong to.
    #[must_use]
    pub fn admin_realm(&self) -> &str {
        &self.inner.admin_realm
    }

    /// The base URL of Keycloak as the sidecar reaches it.
    #[must_use]
    pub fn base_url(&self) -> &url::Url {
        &self.inner.base
    }

    /// Ensures an admin token can be had now (fetches one when none is cached).
    pub async fn check_token(&self) -> Result<(), KcError> {
        let http = self.inner.http.client();
        self.inner.tokens.get(&http).await.map(|_| ())
    }

    /// Forgets the cached admin token (permissions changed, e.g. a new realm).
    pub async fn forget_token(&self) {
        self.inner.tokens.clear().await;
    }

    fn url(&self, segments: &[&str]) -> url::Url {
        let mut url = self.inner.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    /// One Admin API call with the admin token; retried once with a fresh
    /// token on a 401. Returns the status and body of a success.
    async fn call(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, String)],
        body: Option<&Value>,
    ) -> Result<(StatusCode, reqwest::header::HeaderMap, bytes::Bytes), KcError> {
        let what = segments.join("/");
        // `url` resolves "." and ".." segments: an id of ".." would address
        // the collection above it. No Keycloak object has such an id.
        if segments
            .iter()
            .any(|s| s.is_empty() || *s == "." || *s == "..")
        {
            return Err(KcError::NotFound(what));
        }
        let url = self.url(segments);
        let http = self.inner.http.client();
        let mut retried = false;
        loop {
            let token = self.inner.tokens.get(&http).await?;
            let stats = &self.inner.stats;
            stats.calls.fetch_add(1, Ordering::Relaxed);
            if method != Method::GET {
                stats.writes.fetch_add(1, Ordering::Relaxed);
            }
            let mut request = http
                .request(method.clone(), url.clone())
                .bearer_auth(token.secret.expose_secret())
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let started = Instant::now();
            let wire = OnTheWire::new(stats);
            let sent = request.send().await;
            let result = match sent {
                Ok(response) => {
                    let status = response.status();
                    let headers = response.headers().clone();
                    response
                        .bytes()
                        .await
                        .map(|bytes| (status, headers, bytes))
                        .map_err(|e| KcError::from_transport(url.as_str(), &e))
                }
                Err(e) => Err(KcError::from_transport(url.as_str(), &e)),
            };
            drop(wire);
            let elapsed = started.elapsed();
            let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
            tracing::debug!(
                method = %method,
                path = %what,
                status = result.as_ref().map_or(0, |r| r.0.as_u16()),
                micros,
                "keycloak call"
            );
            stats.latency_micros.fetch_add(micros, Ordering::Relaxed);
            let metrics = crate::telemetry::metrics::metrics();
            if let Some(m) = metrics {
                m.keycloak_latency
                    .with_label_values(&[method.as_str()])
                    .observe(elapsed.as_secs_f64());
            }
            let (status, headers, bytes) = result.inspect_err(|e| {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                if let Some(m) = metrics {
                    let kind = if matches!(e, KcError::Timeout { .. }) {
                        "timeout"
                    } else {
                        "unreachable"
                    };
                    m.keycloak_errors.with_label_values(&[kind]).inc();
                }
            })?;
            if status == StatusCode::UNAUTHORIZED && !retried {
                retried = true;
                self.inner.tokens.invalidate(token.generation).await;
                continue;
            }
            if status.is_success() {
                return Ok((status, headers, bytes));
            }
            if status.is_server_error() {
                stats.errors.fetch_add(1, Ordering::Relaxed);
                if let Some(m) = metrics {
                    m.keycloak_errors.with_label_values(&["server_error"]).inc();
                }
            }
            if status == StatusCode::UNAUTHORIZED {
                return Err(KcError::AdminAuth(format!(
                    "the Admin API refused a fresh token for {what}"
                )));
            }
            return Err(KcError::from_status(status.as_u16(), &what, &bytes));
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<T, KcError> {
        let (_, _, bytes) = self.call(Method::GET, segments, query, None).await?;
        serde_json::from_slice(&bytes)
            .map_err(|e| KcError::Protocol(format!("{}: {e}", segments.join("/"))))
    }

    /// GET that maps 404 to `None`.
    async fn get_optional<T: DeserializeOwned>(
        &self,
        segments: &[&str],
    ) -> Result<Option<T>, KcError> {
        match self.get_json(segments, &[]).await {
            Ok(v) => Ok(Some(v)),
            Err(KcError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// POST that creates an object; returns the id from `Location`.
    async fn create<B: Serialize>(&self, segments: &[&str], body: &B) -> Result<String, KcError> {
        let body = to_value(body)?;
        let (_, headers, _) = self.call(Method::POST, segments, &[], Some(&body)).await?;
        headers
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|loc| loc.rsplit('/').next())
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| KcError::Protocol(format!("{}: no Location", segments.join("/"))))
    }

    async fn write<B: Serialize>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
    ) -> Result<(), KcError> {
        let body = body.map(to_value).transpose()?;
        self.call(method, segments, &[], body.as_ref()).await?;
        Ok(())
    }

    /// GET of any Admin API path below `/admin/realms/{realm}/` as JSON, for
    /// tests that check what Keycloak stored; the sidecar itself uses the
    /// typed methods of each section.
    #[cfg(feature = "test-support")]
    pub async fn get_realm_value(
        &self,
        realm: &str,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<Value, KcError> {
        self.get_json(&realm_path(realm, path), query).await
    }
}

/// Most threads that get a connection pool of their own; calls from any
/// further thread share one pool.
const MAX_THREAD_POOLS: usize = 64;

/// The outbound client, one per calling thread (all built by
/// [`outbound_client`], so all equally hardened). hyper drives a connection
/// on the runtime of the thread that opened it: with one pool for every
/// thread, a call from an actix worker went out on a connection driven by
/// another thread, and every call paid two cross-thread wake-ups (an
/// eventfd write, a futex) and the context switches behind them, more CPU
/// than the call's own work when profiled. With a pool per thread, a worker
/// sends and reads on connections it drives itself.
struct ThreadPools {
    timeout: Duration,
    connect_timeout: Duration,
    shared: reqwest::Client,
    by_thread: std::sync::Mutex<std::collections::HashMap<std::thread::ThreadId, reqwest::Client>>,
}

impl ThreadPools {
    fn new(timeout: Duration, connect_timeout: Duration) -> Result<Self, reqwest::Error> {
        Ok(Self {
            timeout,
            connect_timeout,
            shared: outbound_client(timeout, connect_timeout)?,
            by_thread: std::sync::Mutex::new(std::collections::HashMap::new()),
        })
    }

    /// The calling thread's client (built on its first call), or the shared
    /// one past [`MAX_THREAD_POOLS`] threads.
    fn client(&self) -> reqwest::Client {
        let Ok(mut by_thread) = self.by_thread.lock() else {
            return self.shared.clone();
        };
        let id = std::thread::current().id();
        if let Some(client) = by_thread.get(&id) {
            return client.clone();
        }
        if by_thread.len() >= MAX_THREAD_POOLS {
            return self.shared.clone();
        }
        match outbound_client(self.timeout, self.connect_timeout) {
            Ok(client) => {
                by_thread.insert(id, client.clone());
                client
            }
            Err(_) => self.shared.clone(),
        }
    }
}

/// `admin/realms/{realm}/{tail…}`: the root the path helper of every section
/// builds on.
fn realm_path<'a>(realm: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut segments = vec!["admin", "realms", realm];
    segments.extend_from_slice(tail);
    segments
}

fn to_value<B: Serialize>(body: &B) -> Result<Value, KcError> {
    serde_json::to_value(body).map_err(|e| KcError::Protocol(format!("cannot encode body: {e}")))
}

/// The one outbound HTTP client configuration: bounded timeouts, no redirects
/// (a redirect from Keycloak would carry the admin token elsewhere), our user
/// agent, pooled keep-alive connections.
pub fn outbound_client(
    timeout: Duration,
    connect_timeout: Duration,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("kc-scim/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(64)
        .tcp_nodelay(true)
        .build()
}
