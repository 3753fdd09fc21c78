//! The directory on Keycloak's Admin API. Per realm it caches, for a short
//! TTL, the SCIM settings and mapper table (two calls to load) and, on the
//! first write, the set of protected users and groups (service accounts and
//! holders of `realm-management` roles). Request paths make only the calls
//! their operation needs: get 1, lookup 1, create 2, patch / replace 2,
//! delete 1.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};
use tokio::sync::{Mutex, MutexGuard, OwnedSemaphorePermit, RwLock, Semaphore};

use super::breaker::{Decision, Window};
use crate::config::DeprovisionSettings;

use super::{if_match_admits, Directory, DirectoryError, ListPage, ListRequest, RealmView};
use crate::keycloak::{GroupQuery, KcAdmin, KcError, KcGroup, KcUser, UserQuery};
use crate::mapping::group::{
    group_schema, group_version, kc_group_from_scim, member_ids, scim_group_from_kc,
};
use crate::mapping::user::now_rfc3339;
use crate::mapping::{
    plan_user_lookup, MapperTable, RealmScimSettings, UserLookup, UserMapping, SCIM_CLIENT_ID,
};
use crate::scim::schema::ResourceSchema;
use crate::scim::{apply_patch, split_member_ops, AttrPath, Filter, PatchRequest, ScimError};

/// Tuning of the Keycloak directory.
#[derive(Debug, Clone)]
pub struct KcDirectoryOptions {
    /// Keycloak's public base URL (for `meta.location`).
    pub public_url: String,
    /// How long realm state and protected sets are cached.
    pub cache_ttl: Duration,
    /// Most users a non-pushable filter may scan.
    pub max_scan: usize,
    /// Most operations one realm may have in flight.
    pub max_in_flight_per_realm: usize,
    /// How long an operation waits for a slot before `Busy`.
    pub queue_wait: Duration,
    /// How long a write waits for an earlier write to the same resource
    /// (a queue wait plus the two Keycloak calls of the write ahead of it).
    pub write_wait: Duration,
    /// The mass-deprovision breaker.
    pub deprovision: DeprovisionSettings,
}

struct RealmState {
    view: Arc<RealmView>,
    mapping: UserMapping,
    /// `(id, path)` of the group SCIM groups live under, if configured.
    group_parent: Option<(String, String)>,
}

/// Users and groups SCIM may read but not write.
#[derive(Default)]
struct Protected {
    users: HashSet<String>,
    groups: HashSet<String>,
}

/// Service-account users: never shown to SCIM (Keycloak's user
/// representation does not say which users are service accounts).
#[derive(Default)]
struct ServiceAccounts {
    ids: HashSet<String>,
    /// The `realm-management` client's id, found on the way.
    realm_management: Option<String>,
}

/// A cached load: when it happened, and the value or why there is none.
type Entry<T> = (Instant, Result<Arc<T>, String>);

/// A per-realm cache with single-flight loading.
struct Cache<T> {
    entries: RwLock<HashMap<String, Entry<T>>>,
    loading: Mutex<()>,
    /// When a load last failed because Keycloak was unavailable.
    failed: std::sync::Mutex<HashMap<String, Instant>>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            loading: Mutex::new(()),
            failed: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

/// After a load failed because Keycloak was unavailable, requests within
/// this time get the same answer at once instead of each waiting for their
/// own timeout in turn behind the single-flight lock.
const FAILURE_MEMO: Duration = Duration::from_secs(1);

/// How long "realm not found" is remembered (a new realm shows up quickly).
const NEGATIVE_TTL: Duration = Duration::from_secs(2);

impl<T> Cache<T> {
    async fn cached(&self, key: &str, ttl: Duration) -> Option<Result<Arc<T>, String>> {
        let entries = self.entries.read().await;
        let (at, value) = entries.get(key)?;
        let ttl = if value.is_ok() { ttl } else { NEGATIVE_TTL };
        (at.elapsed() < ttl).then(|| value.clone())
    }

    async fn get_or_load<F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        load: F,
    ) -> Result<Arc<T>, DirectoryError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, DirectoryError>>,
    {
        if let Some(hit) = self.cached(key, ttl).await {
            return hit.map_err(DirectoryError::NotFound);
        }
        let asked = Instant::now();
        self.check_recent_failure(key, asked)?;
        let _single_flight = self.loading.lock().await;
        if let Some(hit) = self.cached(key, ttl).await {
            return hit.map_err(DirectoryError::NotFound);
        }
        self.check_recent_failure(key, asked)?;
        let loaded = match load().await {
            Ok(Some(v)) => Ok(Arc::new(v)),
            Ok(None) => Err(format!("realm {key} has no SCIM endpoint")),
            Err(e) => {
                if matches!(e, DirectoryError::Unavailable { .. }) {
                    if let Ok(mut failed) = self.failed.lock() {
                        failed.insert(key.to_owned(), Instant::now());
                    }
                }
                return Err(e);
            }
        };
        self.entries
            .write()
            .await
            .insert(key.to_owned(), (Instant::now(), loaded.clone()));
        loaded.map_err(DirectoryError::NotFound)
    }

    /// `Unavailable` when a load failed since `asked`, or very recently.
    fn check_recent_failure(&self, key: &str, asked: Instant) -> Result<(), DirectoryError> {
        let failed_at = self.failed.lock().ok().and_then(|f| f.get(key).copied());
        match failed_at {
            Some(at) if at >= asked || at.elapsed() < FAILURE_MEMO => {
                Err(DirectoryError::Unavailable {
                    detail: "Keycloak is unavailable; retry later".to_owned(),
                    retry_after: 5,
                })
            }
            _ => Ok(()),
        }
    }

    async fn forget(&self, key: &str) {
        self.entries.write().await.remove(key);
    }
}

/// Writes to one resource are serialized through one of these locks (by a
/// hash of realm and id), so a read-modify-write never loses a concurrent one.
const WRITE_STRIPES: usize = 64;

/// The Keycloak-backed directory.
pub struct KcDirectory {
    kc: KcAdmin,
    opts: KcDirectoryOptions,
    write_locks: Vec<Mutex<()>>,
    in_flight: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    breakers: std::sync::Mutex<HashMap<String, Window>>,
    realms: Cache<RealmState>,
    service_accounts: Cache<ServiceAccounts>,
    protected: Cache<Protected>,
}

fn kc_err(what: &str) -> impl Fn(KcError) -> DirectoryError + '_ {
    move |e| DirectoryError::from_kc(e, what)
}

impl KcDirectory {
    /// A directory on `kc`.
    #[must_use]
    pub fn new(kc: KcAdmin, opts: KcDirectoryOptions) -> Self {
        Self {
            kc,
            opts,
            write_locks: (0..WRITE_STRIPES).map(|_| Mutex::new(())).collect(),
            in_flight: std::sync::Mutex::new(HashMap::new()),
            breakers: std::sync::Mutex::new(HashMap::new()),
            realms: Cache::default(),
            service_accounts: Cache::default(),
            protected: Cache::default(),
        }
    }

    /// The admin client (for its call counters).
    #[must_use]
    pub fn admin(&self) -> &KcAdmin {
        &self.kc
    }

    /// Serializes writes to one resource; `Busy` when the wait exceeds
    /// `write_wait` (a stalled Keycloak must not pile writers up unbounded).
    async fn write_lock(
        &self,
        realm: &str,
        id: &str,
    ) -> Result<MutexGuard<'_, ()>, DirectoryError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (realm, id).hash(&mut h);
        let index = usize::try_from(h.finish() % WRITE_STRIPES as u64).unwrap_or(0);
        let Some(lock) = self.write_locks.get(index) else {
            return Err(DirectoryError::Backend(
                "write lock stripe out of range".to_owned(),
            ));
        };
        tokio::time::timeout(self.opts.write_wait, lock.lock())
            .await
            .map_err(|_| DirectoryError::Busy { retry_after: 1 })
    }

    /// A slot of the realm's in-flight budget; `Busy` after `queue_wait`.
    /// Called only for realms that resolved, so the map stays bounded.
    async fn admit(&self, realm: &str) -> Result<OwnedSemaphorePermit, DirectoryError> {
        let semaphore = {
            let mut map = self
                .in_flight
                .lock()
                .map_err(|_| DirectoryError::Backend("in-flight map poisoned".to_owned()))?;
            Arc::clone(map.entry(realm.to_owned()).or_insert_with(|| {
                Arc::new(Semaphore::new(self.opts.max_in_flight_per_realm.max(1)))
            }))
        };
        if let Ok(Ok(permit)) =
            tokio::time::timeout(self.opts.queue_wait, semaphore.acquire_owned()).await
        {
            return Ok(permit);
        }
        if let Some(m) = crate::telemetry::metrics::metrics() {
            m.backpressure_rejections.with_label_values(&[realm]).inc();
        }
        Err(DirectoryError::Busy { retry_after: 1 })
    }

    /// The realm's state and an in-flight slot.
    async fn enter(
        &self,
        realm: &str,
    ) -> Result<(Arc<RealmState>, OwnedSemaphorePermit), DirectoryError> {
        let state = self.state(realm).await?;
        let permit = self.admit(realm).await?;
        Ok((state, permit))
    }

    /// Admits one more disable or delete, or trips / reports the breaker.
    async fn guard_deprovision(
        &self,
        realm: &str,
        state: &RealmState,
    ) -> Result<(), DirectoryError> {
        let policy = &self.opts.deprovision;
        if !policy.enabled {
            return Ok(());
        }
        let metrics = crate::telemetry::metrics::metrics();
        if let Some(since) = &state.view.settings.breaker_tripped_at {
            if let Some(m) = metrics {
                m.breaker_refusals.with_label_values(&[realm]).inc();
            }
            return Err(DirectoryError::BreakerOpen {
                since: since.clone(),
            });
        }
        let now = Instant::now();
        let needs_count = self.with_window(realm, |w| w.needs_user_count(now, policy))?;
        if needs_count {
            let users = self
                .kc
                .count_users(realm, &UserQuery::default())
                .await
                .map_err(kc_err("Users"))?;
            self.with_window(realm, |w| w.set_user_count(now, users))?;
        }
        match self.with_window(realm, |w| w.admit(now, policy))? {
            Decision::Allow => Ok(()),
            Decision::Trip { events, limit } => {
                let since = now_rfc3339();
                tracing::error!(
                    target: "audit",
                    realm,
                    operation = "deprovision_breaker_trip",
                    events,
                    limit,
                    window_secs = policy.window_secs,
                    "mass-deprovision breaker tripped: disables and deletes refused until reset"
                );
                if let Some(m) = metrics {
                    m.breaker_trips.with_label_values(&[realm]).inc();
                    m.breaker_refusals.with_label_values(&[realm]).inc();
                }
                self.persist_trip(realm, &since).await?;
                Err(DirectoryError::BreakerOpen { since })
            }
        }
    }

    fn with_window<T>(
        &self,
        realm: &str,
        f: impl FnOnce(&mut Window) -> T,
    ) -> Result<T, DirectoryError> {
        let mut map = self
            .breakers
            .lock()
            .map_err(|_| DirectoryError::Backend("breaker map poisoned".to_owned()))?;
        Ok(f(map.entry(realm.to_owned()).or_default()))
    }

    /// Stores the trip on the realm's `scim-endpoint` client, so every
    /// replica refuses too and an admin's reset clears it everywhere.
    async fn persist_trip(&self, realm: &str, since: &str) -> Result<(), DirectoryError> {
        let mut client = self
            .kc
            .find_client(realm, SCIM_CLIENT_ID)
            .await
            .map_err(kc_err("scim-endpoint client"))?
            .ok_or_else(|| DirectoryError::Backend("scim-endpoint client vanished".to_owned()))?;
        let mut settings = RealmScimSettings::from_attributes(&client.attributes)
            .map_err(DirectoryError::Backend)?;
        settings.breaker_tripped_at = Some(since.to_owned());
        settings.write_attributes(&mut client.attributes);
        let id = client.id.clone().unwrap_or_default();
        self.kc
            .update_client(realm, &id, &client)
            .await
            .map_err(kc_err("scim-endpoint client"))?;
        self.realms.forget(realm).await;
        Ok(())
    }

    /// Drops the cached state of `realm` (after settings changed).
    pub async fn invalidate(&self, realm: &str) {
        self.realms.forget(realm).await;
        self.service_accounts.forget(realm).await;
        self.protected.forget(realm).await;
    }

    async fn state(&self, realm: &str) -> Result<Arc<RealmState>, DirectoryError> {
        if crate::realm::RealmName::parse(realm).is_err() {
            return Err(DirectoryError::NotFound(format!(
                "no SCIM endpoint for realm {realm:?}"
            )));
        }
        let state = self
            .realms
            .get_or_load(realm, self.opts.cache_ttl, || self.load_state(realm))
            .await?;
        if !state.view.settings.enabled {
            return Err(DirectoryError::NotFound(format!(
                "SCIM is not enabled for realm {realm}"
            )));
        }
        Ok(state)
    }

    async fn load_state(&self, realm: &str) -> Result<Option<RealmState>, DirectoryError> {
        let client = match self.kc.find_client(realm, SCIM_CLIENT_ID).await {
            Ok(Some(c)) => c,
            Ok(None) | Err(KcError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(DirectoryError::from_kc(e, "realm")),
        };
        let settings = RealmScimSettings::from_attributes(&client.attributes).map_err(|e| {
            DirectoryError::Backend(format!("unreadable SCIM settings of realm {realm}: {e}"))
        })?;
        let client_uuid = client.id.unwrap_or_default();
        let mappers = self
            .kc
            .protocol_mappers(realm, &client_uuid)
            .await
            .map_err(kc_err("mappers"))?;
        let mapping = UserMapping::new(&MapperTable::from_kc(&mappers));
        for (name, reason) in &mapping.skipped {
            tracing::warn!(realm, mapper = %name, %reason, "mapper not used for SCIM");
        }
        let base_url = format!(
            "{}/realms/{realm}/scim/v2",
            self.opts.public_url.trim_end_matches('/')
        );
        let group_parent = match &settings.group_parent {
            None => None,
            Some(path) => {
                let group = self
                    .kc
                    .group_by_path(realm, path)
                    .await
                    .map_err(kc_err("group parent"))?
                    .ok_or_else(|| {
                        DirectoryError::Backend(format!(
                            "the configured group parent {path} does not exist in realm {realm}"
                        ))
                    })?;
                let id = group.id.unwrap_or_default();
                let path = group.path.unwrap_or_else(|| path.clone());
                Some((id, path))
            }
        };
        Ok(Some(RealmState {
            view: Arc::new(RealmView {
                settings,
                user_schema: mapping.schema().clone(),
                user_input_schema: mapping.input_schema().clone(),
                group_schema: group_schema(),
                base_url,
            }),
            mapping,
            group_parent,
        }))
    }

    async fn protected(&self, realm: &str) -> Result<Arc<Protected>, DirectoryError> {
        self.protected
            .get_or_load(realm, self.opts.cache_ttl, || async {
                self.load_protected(realm).await.map(Some)
            })
            .await
    }

    async fn service_accounts(&self, realm: &str) -> Result<Arc<ServiceAccounts>, DirectoryError> {
        self.service_accounts
            .get_or_load(realm, self.opts.cache_ttl, || async {
                self.load_service_accounts(realm).await.map(Some)
            })
            .await
    }

    /// The service-account users of every client that has one.
    async fn load_service_accounts(&self, realm: &str) -> Result<ServiceAccounts, DirectoryError> {
        let kc = &self.kc;
        let err = kc_err("service accounts");
        let mut out = ServiceAccounts::default();
        let clients = kc
            .get_realm_value(realm, &["clients"], &[("max", "10000".to_owned())])
            .await
            .map_err(&err)?;
        for c in clients.as_array().into_iter().flatten() {
            let id = c.get("id").and_then(Value::as_str).unwrap_or_default();
            if c.get("clientId").and_then(Value::as_str) == Some("realm-management") {
                out.realm_management = Some(id.to_owned());
            }
            if c.get("serviceAccountsEnabled").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            match kc
                .get_realm_value(realm, &["clients", id, "service-account-user"], &[])
                .await
            {
                Ok(user) => {
                    if let Some(uid) = user.get("id").and_then(Value::as_str) {
                        out.ids.insert(uid.to_owned());
                    }
                }
                Err(KcError::NotFound(_)) => {}
                Err(e) => return Err(err(e)),
            }
        }
        Ok(out)
    }

    /// Service-account users, and users and groups holding any
    /// `realm-management` role directly, through a group, or through a realm
    /// role that includes one.
    async fn load_protected(&self, realm: &str) -> Result<Protected, DirectoryError> {
        let kc = &self.kc;
        let err = kc_err("protected accounts");
        let accounts = self.service_accounts(realm).await?;
        let mut out = Protected {
            users: accounts.ids.clone(),
            groups: HashSet::new(),
        };
        let rm = accounts.realm_management.clone();
        let Some(rm) = rm else { return Ok(out) };
        let paged = [("first", "0".to_owned()), ("max", "10000".to_owned())];
        let mut holders: Vec<Vec<String>> = Vec::new();
        let roles = kc
            .get_realm_value(realm, &["clients", &rm, "roles"], &[])
            .await
            .map_err(&err)?;
        for role in roles.as_array().into_iter().flatten() {
            if let Some(name) = role.get("name").and_then(Value::as_str) {
                holders.push(vec![
                    "clients".into(),
                    rm.clone(),
                    "roles".into(),
                    name.into(),
                ]);
            }
        }
        let realm_roles = kc
            .get_realm_value(
                realm,
                &["roles"],
                &[("briefRepresentation", "false".to_owned())],
            )
            .await
            .map_err(&err)?;
        for role in realm_roles.as_array().into_iter().flatten() {
            let composite = role.get("composite").and_then(Value::as_bool) == Some(true);
            let Some(name) = role.get("name").and_then(Value::as_str) else {
                continue;
            };
            if !composite {
                continue;
            }
            let included = kc
                .get_realm_value(realm, &["roles", name, "composites", "clients", &rm], &[])
                .await
                .map_err(&err)?;
            if included.as_array().is_some_and(|a| !a.is_empty()) {
                holders.push(vec!["roles".into(), name.into()]);
            }
        }
        for base in holders {
            let mut users_path: Vec<&str> = base.iter().map(String::as_str).collect();
            users_path.push("users");
            let users = kc
                .get_realm_value(realm, &users_path, &paged)
                .await
                .map_err(&err)?;
            for u in users.as_array().into_iter().flatten() {
                if let Some(id) = u.get("id").and_then(Value::as_str) {
                    out.users.insert(id.to_owned());
                }
            }
            users_path.pop();
            users_path.push("groups");
            let groups = kc
                .get_realm_value(realm, &users_path, &paged)
                .await
                .map_err(&err)?;
            for g in groups.as_array().into_iter().flatten() {
                if let Some(id) = g.get("id").and_then(Value::as_str) {
                    self.protect_group_tree(realm, id, &mut out, 0).await?;
                }
            }
        }
        Ok(out)
    }

    /// Marks a group, its members, and (members inherit roles) its subgroups.
    async fn protect_group_tree(
        &self,
        realm: &str,
        group: &str,
        out: &mut Protected,
        depth: usize,
    ) -> Result<(), DirectoryError> {
        if depth > 8 || !out.groups.insert(group.to_owned()) {
            return Ok(());
        }
        let err = kc_err("protected groups");
        let paged = [("first", "0".to_owned()), ("max", "10000".to_owned())];
        let members = self
            .kc
            .get_realm_value(realm, &["groups", group, "members"], &paged)
            .await
            .map_err(&err)?;
        for m in members.as_array().into_iter().flatten() {
            if let Some(id) = m.get("id").and_then(Value::as_str) {
                out.users.insert(id.to_owned());
            }
        }
        let children = self
            .kc
            .get_realm_value(realm, &["groups", group, "children"], &paged)
            .await
            .map_err(&err)?;
        for c in children.as_array().into_iter().flatten() {
            if let Some(id) = c.get("id").and_then(Value::as_str) {
                Box::pin(self.protect_group_tree(realm, id, out, depth + 1)).await?;
            }
        }
        Ok(())
    }

    async fn ensure_writable(&self, realm: &str, id: &str) -> Result<(), DirectoryError> {
        if self.protected(realm).await?.users.contains(id) {
            return Err(DirectoryError::Forbidden(format!(
                "User {id} holds Keycloak admin roles and is read-only to SCIM"
            )));
        }
        Ok(())
    }

    async fn fetch_user(&self, realm: &str, id: &str) -> Result<KcUser, DirectoryError> {
        let not_found = || DirectoryError::NotFound(format!("User {id} not found"));
        if id.is_empty() || id.len() > 64 {
            return Err(not_found());
        }
        let user = match self.kc.get_user(realm, id).await {
            Ok(Some(u)) => u,
            Ok(None) | Err(KcError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(DirectoryError::from_kc(e, "User")),
        };
        if self.service_accounts(realm).await?.ids.contains(id) {
            return Err(not_found());
        }
        Ok(user)
    }

    /// Writes `body` over `existing` and renders the result without a re-read.
    async fn write_user(
        &self,
        realm: &str,
        state: &RealmState,
        existing: &KcUser,
        body: &Value,
    ) -> Result<Value, DirectoryError> {
        let id = existing.id.clone().unwrap_or_default();
        let updated = state
            .mapping
            .kc_user_from_scim(body, Some(existing), &now_rfc3339())?;
        self.kc
            .update_user(realm, &id, &updated)
            .await
            .map_err(kc_err("User"))?;
        Ok(state
            .mapping
            .scim_user_from_kc(&updated, &state.view.base_url))
    }

    /// The read-check-write of a user update (PUT or PATCH), serialized per
    /// user: `next` computes the new SCIM resource from the current one
    /// (`None`: nothing changes, no write).
    async fn update_user(
        &self,
        realm: &str,
        id: &str,
        if_match: Option<&str>,
        next: impl FnOnce(&Value, &ResourceSchema) -> Result<Option<Value>, DirectoryError> + Send,
    ) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        let existing = self.fetch_user(realm, id).await?;
        self.ensure_writable(realm, id).await?;
        let current = state
            .mapping
            .scim_user_from_kc(&existing, &state.view.base_url);
        check_version(&current, if_match)?;
        let Some(updated) = next(&current, &state.view.user_input_schema)? else {
            return Ok(current);
        };
        if disables(&current, &updated) {
            self.guard_deprovision(realm, &state).await?;
        }
        self.write_user(realm, &state, &existing, &updated).await
    }

    async fn candidates(
        &self,
        realm: &str,
        state: &RealmState,
        filter: Option<&Filter>,
    ) -> Result<Vec<KcUser>, DirectoryError> {
        let lookup = filter.map_or(UserLookup::Scan, |f| plan_user_lookup(f, &state.mapping));
        let users = match lookup {
            UserLookup::ById(id) => match self.fetch_user(realm, &id).await {
                Ok(u) => vec![u],
                Err(DirectoryError::NotFound(_)) => Vec::new(),
                Err(e) => return Err(e),
            },
            UserLookup::Query(mut q) => {
                q.first = 0;
                q.max = self.opts.max_scan + 1;
                let found = self
                    .kc
                    .find_users(realm, &q)
                    .await
                    .map_err(kc_err("Users"))?;
                if found.len() > self.opts.max_scan {
                    return Err(too_many(self.opts.max_scan));
                }
                found
            }
            UserLookup::Scan => self.scan(realm).await?,
        };
        let hidden = self.service_accounts(realm).await?;
        Ok(users
            .into_iter()
            .filter(|u| u.id.as_ref().is_none_or(|id| !hidden.ids.contains(id)))
            .collect())
    }

    /// Every user of the realm, up to `max_scan` (else `tooMany`).
    async fn scan(&self, realm: &str) -> Result<Vec<KcUser>, DirectoryError> {
        // Pages keep each Admin API call well inside the call timeout.
        let mut users: Vec<KcUser> = Vec::new();
        loop {
            let q = UserQuery {
                first: users.len(),
                max: SCAN_PAGE,
                ..UserQuery::default()
            };
            let page = self
                .kc
                .find_users(realm, &q)
                .await
                .map_err(kc_err("Users"))?;
            let short = page.len() < SCAN_PAGE;
            users.extend(page);
            if users.len() > self.opts.max_scan {
                return Err(too_many(self.opts.max_scan));
            }
            if short {
                return Ok(users);
            }
        }
    }

    /// An unfiltered page straight from Keycloak, in Keycloak's order
    /// (username ascending): two calls, whatever the realm's size.
    async fn native_page(
        &self,
        realm: &str,
        state: &RealmState,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError> {
        let count_query = UserQuery::default();
        let total = self
            .kc
            .count_users(realm, &count_query)
            .await
            .map_err(kc_err("Users"))?;
        let offset = req.start_index.saturating_sub(1);
        if req.count == 0 || offset >= total {
            return Ok(ListPage {
                total,
                resources: Vec::new(),
            });
        }
        let (first, max) = if req.descending {
            let end = total - offset;
            let start = end.saturating_sub(req.count);
            (start, end - start)
        } else {
            (offset, req.count)
        };
        let q = UserQuery {
            first,
            max,
            ..UserQuery::default()
        };
        let mut users = self
            .kc
            .find_users(realm, &q)
            .await
            .map_err(kc_err("Users"))?;
        if req.descending {
            users.reverse();
        }
        // Keycloak leaves service accounts out of unfiltered lists and counts.
        let resources = users
            .iter()
            .map(|u| state.mapping.scim_user_from_kc(u, &state.view.base_url))
            .collect();
        Ok(ListPage { total, resources })
    }
}

/// Users are scanned this many per Admin API call.
const SCAN_PAGE: usize = 500;
/// Members are read and written this many at a time.
const MEMBER_PAGE: usize = 500;
/// Concurrent Keycloak calls for one membership change.
const MEMBER_CONCURRENCY: usize = 8;

/// Whether SCIM may see `group`: a direct child of the configured parent, or
/// a top-level group when none is configured.
fn in_placement(state: &RealmState, group: &KcGroup) -> bool {
    let expected = match &state.group_parent {
        Some((_, parent)) => format!("{}/{}", parent.trim_end_matches('/'), group.name),
        None => format!("/{}", group.name),
    };
    group.path.as_deref().is_none_or(|p| p == expected)
}

impl KcDirectory {
    fn parent_id(state: &RealmState) -> Option<&str> {
        state.group_parent.as_ref().map(|(id, _)| id.as_str())
    }

    async fn fetch_group(
        &self,
        realm: &str,
        state: &RealmState,
        id: &str,
    ) -> Result<KcGroup, DirectoryError> {
        let not_found = || DirectoryError::NotFound(format!("Group {id} not found"));
        if id.is_empty() || id.len() > 64 {
            return Err(not_found());
        }
        match self.kc.get_group(realm, id).await {
            Ok(Some(g)) if in_placement(state, &g) => Ok(g),
            Ok(_) | Err(KcError::NotFound(_)) => Err(not_found()),
            Err(e) => Err(DirectoryError::from_kc(e, "Group")),
        }
    }

    /// Every direct member of a group, page by page.
    async fn all_members(&self, realm: &str, group: &str) -> Result<Vec<KcUser>, DirectoryError> {
        let mut out = Vec::new();
        loop {
            let page = self
                .kc
                .group_members(realm, group, out.len(), MEMBER_PAGE)
                .await
                .map_err(kc_err("Group members"))?;
            let short = page.len() < MEMBER_PAGE;
            out.extend(page);
            if short {
                return Ok(out);
            }
        }
    }

    /// Every id must be a (non service-account) user of the realm; checked
    /// before anything is written, so an unknown member changes nothing.
    async fn check_members(&self, realm: &str, ids: &[String]) -> Result<(), DirectoryError> {
        let checks: Vec<_> = ids
            .iter()
            .cloned()
            .map(|id: String| async move {
                match self.fetch_user(realm, &id).await {
                    Ok(_) => Ok(()),
                    Err(DirectoryError::NotFound(_)) => Err(unknown_member(&id)),
                    Err(e) => Err(e),
                }
            })
            .collect();
        stream::iter(checks)
            .buffer_unordered(MEMBER_CONCURRENCY)
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ())
    }

    /// Adds and removes members; idempotent in Keycloak, so a retry of a
    /// request that failed midway completes it.
    async fn apply_members(
        &self,
        realm: &str,
        group: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), DirectoryError> {
        let total = add.len() + remove.len();
        let calls: Vec<_> = add
            .iter()
            .cloned()
            .map(|u| (true, u))
            .chain(remove.iter().cloned().map(|u| (false, u)))
            .map(|(adding, user): (bool, String)| async move {
                let result = if adding {
                    self.kc.add_group_member(realm, &user, group).await
                } else {
                    self.kc.remove_group_member(realm, &user, group).await
                };
                match result {
                    Ok(()) | Err(KcError::NotFound(_)) if !adding => Ok(()),
                    other => other,
                }
            })
            .collect();
        let done = stream::iter(calls)
            .buffer_unordered(MEMBER_CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let failed: Vec<KcError> = done.into_iter().filter_map(Result::err).collect();
        match failed.into_iter().next() {
            None => Ok(()),
            Some(first) => {
                let mapped = DirectoryError::from_kc(first, "Group membership");
                Err(match mapped {
                    DirectoryError::Unavailable { retry_after, .. } => {
                        DirectoryError::Unavailable {
                            detail: format!(
                                "Keycloak failed during a membership change of {total} members; \
                             the change is idempotent: retry the request"
                            ),
                            retry_after,
                        }
                    }
                    other => other,
                })
            }
        }
    }

    async fn ensure_group_writable(
        &self,
        realm: &str,
        id: &str,
        what: &str,
    ) -> Result<(), DirectoryError> {
        if self.protected(realm).await?.groups.contains(id) {
            return Err(DirectoryError::Forbidden(format!(
                "Group {id} grants Keycloak admin roles; SCIM may not {what}"
            )));
        }
        Ok(())
    }

    async fn group_candidates(
        &self,
        realm: &str,
        state: &RealmState,
        filter: Option<&Filter>,
    ) -> Result<Vec<KcGroup>, DirectoryError> {
        let mut query = GroupQuery {
            first: 0,
            max: self.opts.max_scan + 1,
            ..GroupQuery::default()
        };
        for term in filter.map(Filter::conjuncts).unwrap_or_default() {
            let Some((path, value)) = term.as_eq_string() else {
                continue;
            };
            if path.sub_attr.is_some() || value.is_empty() {
                continue;
            }
            if path.name.eq_ignore_ascii_case("id") {
                return match self.fetch_group(realm, state, value).await {
                    Ok(g) => Ok(vec![g]),
                    Err(DirectoryError::NotFound(_)) => Ok(Vec::new()),
                    Err(e) => Err(e),
                };
            }
            if path.name.eq_ignore_ascii_case("displayName") {
                query.name = Some(value.to_owned());
                break;
            }
            if path.name.eq_ignore_ascii_case("externalId")
                && !value.chars().any(|c| c.is_whitespace() || c == ':')
            {
                query.attribute = Some((
                    crate::mapping::EXTERNAL_ID_ATTRIBUTE.to_owned(),
                    value.to_owned(),
                ));
            }
        }
        let found = self
            .kc
            .find_groups(realm, Self::parent_id(state), &query)
            .await
            .map_err(kc_err("Groups"))?;
        if found.len() > self.opts.max_scan {
            return Err(DirectoryError::Scim(ScimError::too_many(format!(
                "more than {} groups to scan; filter by displayName, externalId or id",
                self.opts.max_scan
            ))));
        }
        Ok(found
            .into_iter()
            .filter(|g| in_placement(state, g))
            .collect())
    }

    async fn render_group(
        &self,
        realm: &str,
        state: &RealmState,
        group: &KcGroup,
        with_members: bool,
    ) -> Result<Value, DirectoryError> {
        let members = if with_members {
            Some(
                self.all_members(realm, group.id.as_deref().unwrap_or_default())
                    .await?,
            )
        } else {
            None
        };
        Ok(scim_group_from_kc(
            group,
            members.as_deref(),
            &state.view.base_url,
        ))
    }
}

fn unknown_member(id: &str) -> DirectoryError {
    DirectoryError::Scim(ScimError::invalid_value(format!(
        "member {id:?} is not a user of this realm; nothing was changed"
    )))
}

fn too_many(max: usize) -> DirectoryError {
    DirectoryError::Scim(ScimError::too_many(format!(
        "the filter cannot be answered by an index and would scan more than {max} users; \
         filter by userName, externalId, id or email"
    )))
}

fn is_user_name(path: &AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("userName") && path.sub_attr.is_none()
}

/// Sorts SCIM resources by `path` (strings case-insensitively), missing last.
fn sort_resources(resources: &mut [Value], path: &AttrPath, descending: bool) {
    let key = |r: &Value| -> Option<String> {
        let base = match &path.schema {
            Some(urn) => r.get(urn)?,
            None => r,
        };
        let v = base.get(&path.name)?;
        let v = match &path.sub_attr {
            Some(sub) => v.get(sub)?,
            None => v,
        };
        Some(match v {
            Value::String(s) => s.to_lowercase(),
            other => other.to_string(),
        })
    };
    resources.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        let ord = match (&ka, &kb) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        if descending && ka.is_some() && kb.is_some() {
            ord.reverse()
        } else {
            ord
        }
    });
}

#[async_trait]
impl Directory for KcDirectory {
    async fn realm(&self, realm: &str) -> Result<Arc<RealmView>, DirectoryError> {
        Ok(Arc::clone(&self.state(realm).await?.view))
    }

    async fn get_user(
        &self,
        realm: &str,
        id: &str,
        with_groups: bool,
    ) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let user = self.fetch_user(realm, id).await?;
        let mut resource = state.mapping.scim_user_from_kc(&user, &state.view.base_url);
        if with_groups {
            let groups = self
                .kc
                .user_groups(realm, id)
                .await
                .map_err(kc_err("User groups"))?;
            let base = state.view.base_url.trim_end_matches('/');
            let list: Vec<Value> = groups
                .iter()
                .filter(|g| in_placement(&state, g))
                .filter_map(|g| {
                    let gid = g.id.as_deref()?;
                    Some(json!({
                        "value": gid,
                        "$ref": format!("{base}/Groups/{gid}"),
                        "display": g.name,
                        "type": "direct",
                    }))
                })
                .collect();
            resource["groups"] = Value::Array(list);
        }
        Ok(resource)
    }

    async fn list_users(&self, realm: &str, req: &ListRequest) -> Result<ListPage, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let native_order = req.sort_by.as_ref().is_none_or(is_user_name);
        if req.filter.is_none() && native_order {
            return self.native_page(realm, &state, req).await;
        }
        let candidates = self.candidates(realm, &state, req.filter.as_ref()).await?;
        let schema = &state.view.user_input_schema;
        let mut matches: Vec<Value> = candidates
            .iter()
            .map(|u| state.mapping.scim_user_from_kc(u, &state.view.base_url))
            .filter(|r| req.filter.as_ref().is_none_or(|f| f.matches(r, schema)))
            .collect();
        if let Some(path) = &req.sort_by {
            sort_resources(&mut matches, path, req.descending);
        }
        let total = matches.len();
        let offset = req.start_index.saturating_sub(1);
        let resources = matches.into_iter().skip(offset).take(req.count).collect();
        Ok(ListPage { total, resources })
    }

    async fn create_user(&self, realm: &str, body: &Value) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let mut user = state
            .mapping
            .kc_user_from_scim(body, None, &now_rfc3339())?;
        user.enabled = Some(user.enabled.unwrap_or(true));
        let id = self
            .kc
            .create_user(realm, &user)
            .await
            .map_err(kc_err("User"))?;
        let created = self.fetch_user(realm, &id).await?;
        Ok(state
            .mapping
            .scim_user_from_kc(&created, &state.view.base_url))
    }

    async fn replace_user(
        &self,
        realm: &str,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        self.update_user(realm, id, if_match, |_, _| Ok(Some(body.clone())))
            .await
    }

    async fn patch_user(
        &self,
        realm: &str,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        self.update_user(realm, id, if_match, |current, schema| {
            let outcome = apply_patch(current, &patch.operations, schema)?;
            Ok(outcome.changed.then_some(outcome.resource))
        })
        .await
    }

    async fn delete_user(
        &self,
        realm: &str,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        if self.protected(realm).await?.users.contains(id) {
            return Err(DirectoryError::Forbidden(format!(
                "User {id} is a service account or holds Keycloak admin roles; SCIM may not delete it"
            )));
        }
        if if_match.is_some() {
            let existing = self.fetch_user(realm, id).await?;
            let current = state
                .mapping
                .scim_user_from_kc(&existing, &state.view.base_url);
            check_version(&current, if_match)?;
        }
        if id.is_empty() || id.len() > 64 {
            return Err(DirectoryError::NotFound(format!("User {id} not found")));
        }
        self.guard_deprovision(realm, &state).await?;
        self.kc.delete_user(realm, id).await.map_err(|e| match e {
            KcError::NotFound(_) => DirectoryError::NotFound(format!("User {id} not found")),
            other => DirectoryError::from_kc(other, "User"),
        })
    }

    async fn get_group(
        &self,
        realm: &str,
        id: &str,
        with_members: bool,
    ) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let group = self.fetch_group(realm, &state, id).await?;
        self.render_group(realm, &state, &group, with_members).await
    }

    async fn list_groups(
        &self,
        realm: &str,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let groups = self
            .group_candidates(realm, &state, req.filter.as_ref())
            .await?;
        let schema = &state.view.group_schema;
        // Filters on members need them loaded; others are decided without.
        let filter_needs_members = req
            .filter
            .as_ref()
            .is_some_and(|f| f.to_string().to_ascii_lowercase().contains("members"));
        let mut matches = Vec::new();
        for g in &groups {
            let shallow = self
                .render_group(realm, &state, g, filter_needs_members)
                .await?;
            if req
                .filter
                .as_ref()
                .is_none_or(|f| f.matches(&shallow, schema))
            {
                matches.push((g, shallow));
            }
        }
        if let Some(path) = &req.sort_by {
            let mut values: Vec<Value> = matches.iter().map(|(_, v)| v.clone()).collect();
            sort_resources(&mut values, path, req.descending);
            let order: Vec<String> = values
                .iter()
                .filter_map(|v| v["id"].as_str().map(str::to_owned))
                .collect();
            matches.sort_by_key(|(g, _)| {
                order
                    .iter()
                    .position(|id| Some(id.as_str()) == g.id.as_deref())
                    .unwrap_or(usize::MAX)
            });
        }
        let total = matches.len();
        let offset = req.start_index.saturating_sub(1);
        let mut resources = Vec::new();
        for (g, shallow) in matches.into_iter().skip(offset).take(req.count) {
            if req.skip_members || filter_needs_members {
                resources.push(shallow);
            } else {
                resources.push(self.render_group(realm, &state, g, true).await?);
            }
        }
        Ok(ListPage { total, resources })
    }

    async fn create_group(&self, realm: &str, body: &Value) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let group = kc_group_from_scim(body, None, &now_rfc3339())?;
        let members = member_ids(body)?;
        self.check_members(realm, &members).await?;
        let id = self
            .kc
            .create_group(realm, Self::parent_id(&state), &group)
            .await
            .map_err(kc_err("Group"))?;
        if let Err(e) = self.apply_members(realm, &id, &members, &[]).await {
            // No half-written group: take it back out.
            if let Err(undo) = self.kc.delete_group(realm, &id).await {
                tracing::error!(realm, group = %id, error = %undo, "could not roll back a group create");
            }
            return Err(e);
        }
        let created = KcGroup {
            id: Some(id),
            ..group
        };
        let member_users: Vec<KcUser> = members
            .iter()
            .map(|m| KcUser {
                id: Some(m.clone()),
                ..KcUser::default()
            })
            .collect();
        let with_members = !members.is_empty();
        let mut resource = scim_group_from_kc(
            &created,
            with_members.then_some(member_users.as_slice()),
            &state.view.base_url,
        );
        if !with_members {
            resource["members"] = json!([]);
        }
        Ok(resource)
    }

    async fn replace_group(
        &self,
        realm: &str,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        let existing = self.fetch_group(realm, &state, id).await?;
        check_group_version(&existing, if_match)?;
        self.ensure_group_writable(realm, id, "replace it").await?;
        let updated = kc_group_from_scim(body, Some(&existing), &now_rfc3339())?;
        let wanted = member_ids(body)?;
        let current = self.all_members(realm, id).await?;
        let current_ids: Vec<String> = current.iter().filter_map(|u| u.id.clone()).collect();
        let add: Vec<String> = wanted
            .iter()
            .filter(|w| !current_ids.contains(w))
            .cloned()
            .collect();
        let remove: Vec<String> = current_ids
            .iter()
            .filter(|c| !wanted.contains(c))
            .cloned()
            .collect();
        self.check_members(realm, &add).await?;
        self.kc
            .update_group(realm, id, &updated)
            .await
            .map_err(kc_err("Group"))?;
        self.apply_members(realm, id, &add, &remove).await?;
        let group = self.fetch_group(realm, &state, id).await?;
        self.render_group(realm, &state, &group, true).await
    }

    async fn patch_group(
        &self,
        realm: &str,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        let existing = self.fetch_group(realm, &state, id).await?;
        check_group_version(&existing, if_match)?;
        let (mut delta, rest) = split_member_ops(&patch.operations);
        let rest_touches_members = rest.iter().any(|op| {
            op.path.as_ref().map_or_else(
                || {
                    op.value
                        .as_ref()
                        .is_some_and(|v| v.get("members").is_some())
                },
                |p| p.attr.name.eq_ignore_ascii_case("members"),
            )
        });
        let needs_members = rest_touches_members || delta.replace.is_some() || delta.remove_all;
        let current_members = if needs_members {
            Some(self.all_members(realm, id).await?)
        } else {
            None
        };
        let shallow =
            scim_group_from_kc(&existing, current_members.as_deref(), &state.view.base_url);
        let outcome = apply_patch(&shallow, &rest, &state.view.group_schema)?;
        let current_ids: Vec<String> = current_members
            .iter()
            .flatten()
            .filter_map(|u| u.id.clone())
            .collect();
        if rest_touches_members {
            let after = member_ids(&outcome.resource)?;
            delta
                .add
                .extend(after.iter().filter(|a| !current_ids.contains(a)).cloned());
            delta
                .remove
                .extend(current_ids.iter().filter(|c| !after.contains(c)).cloned());
        }
        if let Some(replace) = delta.replace.take() {
            delta
                .add
                .extend(replace.iter().filter(|a| !current_ids.contains(a)).cloned());
            delta
                .remove
                .extend(current_ids.iter().filter(|c| !replace.contains(c)).cloned());
        }
        if delta.remove_all {
            delta.remove.extend(current_ids.iter().cloned());
        }
        delta.remove.retain(|r| !delta.add.contains(r));
        let renamed = outcome.resource.get("displayName") != shallow.get("displayName");
        if renamed {
            self.ensure_group_writable(realm, id, "rename it").await?;
        }
        if !delta.add.is_empty() {
            self.ensure_group_writable(realm, id, "add members to it")
                .await?;
        }
        let attributes_changed =
            outcome.changed && outcome.changed_attributes.iter().any(|a| a != "members");
        // Entra's most common group PATCH adds one member. Keycloak's own
        // 404 for an unknown user then leaves nothing applied, so the
        // up-front check (one read per member) is only needed when there is
        // more than one change to keep from half-applying.
        let single_add = delta.add.len() == 1 && delta.remove.is_empty() && !attributes_changed;
        if single_add {
            let hidden = self.service_accounts(realm).await?;
            if let Some(sa) = delta.add.iter().find(|u| hidden.ids.contains(*u)) {
                return Err(unknown_member(sa));
            }
        } else {
            self.check_members(realm, &delta.add).await?;
        }
        // Membership is not part of the group's version: only a change of
        // name or attributes writes the group (and its lastModified).
        if attributes_changed {
            let updated = kc_group_from_scim(&outcome.resource, Some(&existing), &now_rfc3339())?;
            self.kc
                .update_group(realm, id, &updated)
                .await
                .map_err(kc_err("Group"))?;
        }
        match self
            .apply_members(realm, id, &delta.add, &delta.remove)
            .await
        {
            Err(DirectoryError::NotFound(_)) if single_add => {
                Err(unknown_member(delta.add.first().map_or("", String::as_str)))
            }
            other => other,
        }
    }

    async fn delete_group(
        &self,
        realm: &str,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        let existing = self.fetch_group(realm, &state, id).await?;
        check_group_version(&existing, if_match)?;
        self.ensure_group_writable(realm, id, "delete it").await?;
        self.kc
            .delete_group(realm, id)
            .await
            .map_err(kc_err("Group"))
    }

    async fn ready(&self) -> Result<(), DirectoryError> {
        self.kc
            .check_token()
            .await
            .map_err(|e| DirectoryError::from_kc(e, "admin token"))
    }

    async fn refresh_realm(&self, realm: &str) {
        self.realms.forget(realm).await;
    }
}

/// Whether a write turns an active user inactive.
fn disables(current: &Value, next: &Value) -> bool {
    current.get("active").and_then(Value::as_bool) != Some(false)
        && next.get("active").and_then(Value::as_bool) == Some(false)
}

fn check_group_version(group: &KcGroup, if_match: Option<&str>) -> Result<(), DirectoryError> {
    let version = group_version(group);
    if if_match_admits(if_match, &version) {
        Ok(())
    } else {
        Err(DirectoryError::PreconditionFailed { current: version })
    }
}

fn check_version(current: &Value, if_match: Option<&str>) -> Result<(), DirectoryError> {
    let version = current
        .pointer("/meta/version")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if if_match_admits(if_match, version) {
        Ok(())
    } else {
        Err(DirectoryError::PreconditionFailed {
            current: version.to_owned(),
        })
    }
}
