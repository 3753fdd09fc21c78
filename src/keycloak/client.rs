//! `KcAdmin`: one hardened outbound HTTP client (timeouts, no redirects, a
//! user agent, pooled connections) plus the admin token, and one typed method
//! per Admin REST call the sidecar makes. Every call is counted in
//! [`CallStats`], which tests use to hold the per-operation call budget.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::token::TokenSource;
use super::{KcClient, KcError, KcGroup, KcProtocolMapper, KcRealm, KcUser};
use crate::config::{AdminCredentials, KeycloakSettings};

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
}

/// Search parameters of `GET /admin/realms/{r}/users`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// `username` with `exact=true`.
    pub username: Option<String>,
    /// `email` with `exact=true`.
    pub email: Option<String>,
    /// `q=name:value` attribute search (exact match in Keycloak).
    pub attribute: Option<(String, String)>,
    /// `search` (substring over username, email, first and last name).
    pub search: Option<String>,
    /// Offset (`first`).
    pub first: usize,
    /// Page size (`max`).
    pub max: usize,
}

impl UserQuery {
    fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("briefRepresentation", "false".to_owned()),
            ("first", self.first.to_string()),
            ("max", self.max.to_string()),
        ];
        self.push_filters(&mut p);
        p
    }

    fn push_filters(&self, p: &mut Vec<(&'static str, String)>) {
        let mut exact = false;
        if let Some(u) = &self.username {
            p.push(("username", u.clone()));
            exact = true;
        }
        if let Some(e) = &self.email {
            p.push(("email", e.clone()));
            exact = true;
        }
        if exact {
            p.push(("exact", "true".to_owned()));
        }
        if let Some((name, value)) = &self.attribute {
            p.push(("q", format!("{name}:{value}")));
        }
        if let Some(s) = &self.search {
            p.push(("search", s.clone()));
        }
    }
}

/// Search parameters of `GET /admin/realms/{r}/groups` (and `…/children`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupQuery {
    /// `search` with `exact=true` (Keycloak compares names case-sensitively).
    pub name: Option<String>,
    /// `q=name:value` attribute search.
    pub attribute: Option<(String, String)>,
    /// Offset.
    pub first: usize,
    /// Page size.
    pub max: usize,
}

/// The Admin REST client. Cheap to clone; clones share the pool, token and stats.
#[derive(Clone)]
pub struct KcAdmin {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    base: url::Url,
    tokens: TokenSource,
    stats: Arc<CallStats>,
}

impl KcAdmin {
    /// Builds the client; makes no call yet.
    pub fn new(
        settings: &KeycloakSettings,
        credentials: AdminCredentials,
    ) -> Result<Self, KcError> {
        let base = url::Url::parse(&settings.url)
            .map_err(|e| KcError::Protocol(format!("keycloak.url {:?}: {e}", settings.url)))?;
        let http = outbound_client(
            Duration::from_millis(settings.timeout_ms),
            Duration::from_millis(settings.connect_timeout_ms),
        )
        .map_err(|e| KcError::Protocol(format!("HTTP client: {e}")))?;
        let stats = Arc::new(CallStats::default());
        let tokens = TokenSource::new(
            &base,
            &settings.admin_realm,
            credentials,
            Arc::clone(&stats.token_refreshes),
        )?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                base,
                tokens,
                stats,
            }),
        })
    }

    /// Counters of this client's traffic.
    #[must_use]
    pub fn stats(&self) -> &Arc<CallStats> {
        &self.inner.stats
    }

    /// The base URL of Keycloak as the sidecar reaches it.
    #[must_use]
    pub fn base_url(&self) -> &url::Url {
        &self.inner.base
    }

    /// The shared outbound HTTP client (for non-admin calls such as JWKS).
    #[must_use]
    pub fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Ensures an admin token can be had now (fetches one when none is cached).
    pub async fn check_token(&self) -> Result<(), KcError> {
        self.inner.tokens.get(&self.inner.http).await.map(|_| ())
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
        let mut retried = false;
        loop {
            let token = self.inner.tokens.get(&self.inner.http).await?;
            let stats = &self.inner.stats;
            stats.calls.fetch_add(1, Ordering::Relaxed);
            if method != Method::GET {
                stats.writes.fetch_add(1, Ordering::Relaxed);
            }
            let mut request = self
                .inner
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.secret.expose_secret())
                .query(query);
            if let Some(body) = body {
                request = request.json(body);
            }
            let started = Instant::now();
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
            let elapsed = started.elapsed();
            let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
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

    /// GET of any Admin API path below `/admin/realms/{realm}/` as JSON (for
    /// checks and diagnostics that need a call no typed method covers).
    pub async fn get_realm_value(
        &self,
        realm: &str,
        path: &[&str],
        query: &[(&str, String)],
    ) -> Result<Value, KcError> {
        let mut segments = vec!["admin", "realms", realm];
        segments.extend_from_slice(path);
        self.get_json(&segments, query).await
    }

    // ---- realms -----------------------------------------------------------

    /// `GET /admin/realms/{r}`; `None` when the realm does not exist.
    pub async fn get_realm(&self, realm: &str) -> Result<Option<KcRealm>, KcError> {
        self.get_optional(&["admin", "realms", realm]).await
    }

    /// `POST /admin/realms` with a full realm representation (an import).
    pub async fn create_realm(&self, representation: &Value) -> Result<(), KcError> {
        self.write(Method::POST, &["admin", "realms"], Some(representation))
            .await
    }

    /// `PUT /admin/realms/{r}` with a partial representation.
    pub async fn update_realm(&self, realm: &str, representation: &Value) -> Result<(), KcError> {
        self.write(
            Method::PUT,
            &["admin", "realms", realm],
            Some(representation),
        )
        .await
    }

    /// `DELETE /admin/realms/{r}`.
    pub async fn delete_realm(&self, realm: &str) -> Result<(), KcError> {
        self.write::<Value>(Method::DELETE, &["admin", "realms", realm], None)
            .await
    }

    // ---- clients and mappers ---------------------------------------------

    /// The client with `clientId`, if any.
    pub async fn find_client(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<KcClient>, KcError> {
        let found: Vec<KcClient> = self
            .get_json(
                &["admin", "realms", realm, "clients"],
                &[("clientId", client_id.to_owned())],
            )
            .await?;
        Ok(found.into_iter().find(|c| c.client_id == client_id))
    }

    /// Creates a client; returns its internal id.
    pub async fn create_client(&self, realm: &str, client: &KcClient) -> Result<String, KcError> {
        self.create(&["admin", "realms", realm, "clients"], client)
            .await
    }

    /// Replaces a client representation.
    pub async fn update_client(
        &self,
        realm: &str,
        id: &str,
        client: &KcClient,
    ) -> Result<(), KcError> {
        self.write(
            Method::PUT,
            &["admin", "realms", realm, "clients", id],
            Some(client),
        )
        .await
    }

    /// The secret of a confidential client.
    pub async fn client_secret(&self, realm: &str, id: &str) -> Result<String, KcError> {
        let v: Value = self
            .get_json(
                &["admin", "realms", realm, "clients", id, "client-secret"],
                &[],
            )
            .await?;
        v.get("value")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| KcError::Protocol("client-secret without value".to_owned()))
    }

    /// The default client scopes of a client, as `(id, name)`.
    pub async fn default_client_scopes(
        &self,
        realm: &str,
        client: &str,
    ) -> Result<Vec<(String, String)>, KcError> {
        let scopes: Vec<Value> = self
            .get_json(
                &[
                    "admin",
                    "realms",
                    realm,
                    "clients",
                    client,
                    "default-client-scopes",
                ],
                &[],
            )
            .await?;
        Ok(scopes
            .iter()
            .filter_map(|s| {
                Some((
                    s.get("id")?.as_str()?.to_owned(),
                    s.get("name")?.as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    /// Detaches a default client scope from a client.
    pub async fn remove_default_client_scope(
        &self,
        realm: &str,
        client: &str,
        scope_id: &str,
    ) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &[
                "admin",
                "realms",
                realm,
                "clients",
                client,
                "default-client-scopes",
                scope_id,
            ],
            None,
        )
        .await
    }

    /// The protocol mappers of a client (its dedicated scope).
    pub async fn protocol_mappers(
        &self,
        realm: &str,
        client: &str,
    ) -> Result<Vec<KcProtocolMapper>, KcError> {
        self.get_json(
            &[
                "admin",
                "realms",
                realm,
                "clients",
                client,
                "protocol-mappers",
                "models",
            ],
            &[],
        )
        .await
    }

    /// Adds a protocol mapper to a client.
    pub async fn create_protocol_mapper(
        &self,
        realm: &str,
        client: &str,
        mapper: &KcProtocolMapper,
    ) -> Result<String, KcError> {
        self.create(
            &[
                "admin",
                "realms",
                realm,
                "clients",
                client,
                "protocol-mappers",
                "models",
            ],
            mapper,
        )
        .await
    }

    /// Replaces a protocol mapper (its `id` must be set).
    pub async fn update_protocol_mapper(
        &self,
        realm: &str,
        client: &str,
        mapper: &KcProtocolMapper,
    ) -> Result<(), KcError> {
        let id = mapper
            .id
            .as_deref()
            .ok_or_else(|| KcError::Protocol("mapper without id".to_owned()))?;
        self.write(
            Method::PUT,
            &[
                "admin",
                "realms",
                realm,
                "clients",
                client,
                "protocol-mappers",
                "models",
                id,
            ],
            Some(mapper),
        )
        .await
    }

    /// Deletes a protocol mapper.
    pub async fn delete_protocol_mapper(
        &self,
        realm: &str,
        client: &str,
        id: &str,
    ) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &[
                "admin",
                "realms",
                realm,
                "clients",
                client,
                "protocol-mappers",
                "models",
                id,
            ],
            None,
        )
        .await
    }

    // ---- user profile ------------------------------------------------------

    /// The realm's user-profile configuration (kept as JSON: we only touch
    /// `attributes` and carry everything else through).
    pub async fn user_profile(&self, realm: &str) -> Result<Value, KcError> {
        self.get_json(&["admin", "realms", realm, "users", "profile"], &[])
            .await
    }

    /// Replaces the realm's user-profile configuration.
    pub async fn update_user_profile(&self, realm: &str, profile: &Value) -> Result<(), KcError> {
        self.write(
            Method::PUT,
            &["admin", "realms", realm, "users", "profile"],
            Some(profile),
        )
        .await
    }

    // ---- users ------------------------------------------------------------

    /// Creates a user; returns its id.
    pub async fn create_user(&self, realm: &str, user: &KcUser) -> Result<String, KcError> {
        self.create(&["admin", "realms", realm, "users"], user)
            .await
    }

    /// A user by id; `None` when there is none.
    pub async fn get_user(&self, realm: &str, id: &str) -> Result<Option<KcUser>, KcError> {
        self.get_optional(&["admin", "realms", realm, "users", id])
            .await
    }

    /// Replaces a user representation (attributes are replaced whole).
    pub async fn update_user(&self, realm: &str, id: &str, user: &KcUser) -> Result<(), KcError> {
        self.write(
            Method::PUT,
            &["admin", "realms", realm, "users", id],
            Some(user),
        )
        .await
    }

    /// Deletes a user.
    pub async fn delete_user(&self, realm: &str, id: &str) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &["admin", "realms", realm, "users", id],
            None,
        )
        .await
    }

    /// Searches users.
    pub async fn find_users(&self, realm: &str, query: &UserQuery) -> Result<Vec<KcUser>, KcError> {
        self.get_json(&["admin", "realms", realm, "users"], &query.params())
            .await
    }

    /// Counts the users a query would return (paging ignored).
    pub async fn count_users(&self, realm: &str, query: &UserQuery) -> Result<usize, KcError> {
        let mut params = Vec::new();
        query.push_filters(&mut params);
        self.get_json(&["admin", "realms", realm, "users", "count"], &params)
            .await
    }

    /// Sets a user's password (tests and demos).
    pub async fn set_password(
        &self,
        realm: &str,
        id: &str,
        password: &str,
        temporary: bool,
    ) -> Result<(), KcError> {
        let body =
            serde_json::json!({"type": "password", "value": password, "temporary": temporary});
        self.write(
            Method::PUT,
            &["admin", "realms", realm, "users", id, "reset-password"],
            Some(&body),
        )
        .await
    }

    // ---- groups ------------------------------------------------------------

    /// A group by id; `None` when there is none.
    pub async fn get_group(&self, realm: &str, id: &str) -> Result<Option<KcGroup>, KcError> {
        self.get_optional(&["admin", "realms", realm, "groups", id])
            .await
    }

    /// A group by path (`/parent/child`); `None` when there is none.
    pub async fn group_by_path(&self, realm: &str, path: &str) -> Result<Option<KcGroup>, KcError> {
        let mut segments = vec!["admin", "realms", realm, "group-by-path"];
        segments.extend(path.split('/').filter(|s| !s.is_empty()));
        self.get_optional(&segments).await
    }

    /// Creates a group at top level, or under `parent`; returns its id.
    pub async fn create_group(
        &self,
        realm: &str,
        parent: Option<&str>,
        group: &KcGroup,
    ) -> Result<String, KcError> {
        match parent {
            None => {
                self.create(&["admin", "realms", realm, "groups"], group)
                    .await
            }
            Some(p) => {
                self.create(&["admin", "realms", realm, "groups", p, "children"], group)
                    .await
            }
        }
    }

    /// Updates a group's name and attributes.
    pub async fn update_group(
        &self,
        realm: &str,
        id: &str,
        group: &KcGroup,
    ) -> Result<(), KcError> {
        self.write(
            Method::PUT,
            &["admin", "realms", realm, "groups", id],
            Some(group),
        )
        .await
    }

    /// Deletes a group.
    pub async fn delete_group(&self, realm: &str, id: &str) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &["admin", "realms", realm, "groups", id],
            None,
        )
        .await
    }

    /// Groups at top level (or the children of `parent`), optionally only
    /// those named exactly `name` or whose attribute matches `attribute`.
    pub async fn find_groups(
        &self,
        realm: &str,
        parent: Option<&str>,
        query: &GroupQuery,
    ) -> Result<Vec<KcGroup>, KcError> {
        let mut params = vec![
            ("briefRepresentation", "false".to_owned()),
            ("first", query.first.to_string()),
            ("max", query.max.to_string()),
        ];
        if let Some(name) = &query.name {
            params.push(("search", name.clone()));
            params.push(("exact", "true".to_owned()));
        }
        if let Some((k, v)) = &query.attribute {
            params.push(("q", format!("{k}:{v}")));
        }
        match parent {
            None => {
                self.get_json(&["admin", "realms", realm, "groups"], &params)
                    .await
            }
            Some(p) => {
                self.get_json(
                    &["admin", "realms", realm, "groups", p, "children"],
                    &params,
                )
                .await
            }
        }
    }

    /// A page of a group's direct members (brief representations).
    pub async fn group_members(
        &self,
        realm: &str,
        group: &str,
        first: usize,
        max: usize,
    ) -> Result<Vec<KcUser>, KcError> {
        self.get_json(
            &["admin", "realms", realm, "groups", group, "members"],
            &[
                ("briefRepresentation", "true".to_owned()),
                ("first", first.to_string()),
                ("max", max.to_string()),
            ],
        )
        .await
    }

    /// Makes a user a direct member of a group (idempotent in Keycloak).
    pub async fn add_group_member(
        &self,
        realm: &str,
        user: &str,
        group: &str,
    ) -> Result<(), KcError> {
        self.write::<Value>(
            Method::PUT,
            &["admin", "realms", realm, "users", user, "groups", group],
            None,
        )
        .await
    }

    /// Removes a user from a group (idempotent in Keycloak).
    pub async fn remove_group_member(
        &self,
        realm: &str,
        user: &str,
        group: &str,
    ) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &["admin", "realms", realm, "users", user, "groups", group],
            None,
        )
        .await
    }

    /// The groups a user is a direct member of.
    pub async fn user_groups(&self, realm: &str, user: &str) -> Result<Vec<KcGroup>, KcError> {
        self.get_json(
            &["admin", "realms", realm, "users", user, "groups"],
            &[
                ("briefRepresentation", "false".to_owned()),
                ("max", "1000".to_owned()),
            ],
        )
        .await
    }

    // ---- realm-scoped helpers --------------------------------------------

    /// Issues a token from a realm's token endpoint with client credentials
    /// (not the admin token; used to check what a realm's clients receive).
    pub async fn client_credentials_token(
        &self,
        realm: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Value, KcError> {
        self.realm_token(
            realm,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ],
        )
        .await
    }

    /// Issues a token from a realm's token endpoint with the password grant.
    pub async fn password_token(
        &self,
        realm: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, KcError> {
        let mut full = vec![("grant_type", "password")];
        full.extend_from_slice(form);
        self.realm_token(realm, &full).await
    }

    async fn realm_token(&self, realm: &str, form: &[(&str, &str)]) -> Result<Value, KcError> {
        let url = self.url(&["realms", realm, "protocol", "openid-connect", "token"]);
        let response = self
            .inner
            .http
            .post(url.clone())
            .form(form)
            .send()
            .await
            .map_err(|e| KcError::from_transport(url.as_str(), &e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| KcError::from_transport(url.as_str(), &e))?;
        if !status.is_success() {
            return Err(KcError::from_status(status.as_u16(), "token", &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| KcError::Protocol(format!("token: {e}")))
    }
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
