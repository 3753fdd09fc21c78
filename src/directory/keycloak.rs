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
use serde_json::Value;
use tokio::sync::{Mutex, RwLock};

use super::{if_match_admits, Directory, DirectoryError, ListPage, ListRequest, RealmView};
use crate::keycloak::{KcAdmin, KcError, KcUser, UserQuery};
use crate::mapping::user::now_rfc3339;
use crate::mapping::{
    plan_user_lookup, MapperTable, RealmScimSettings, UserLookup, UserMapping, SCIM_CLIENT_ID,
};
use crate::scim::schema::ResourceSchema;
use crate::scim::{apply_patch, AttrPath, Filter, PatchRequest, ScimError};

/// Tuning of the Keycloak directory.
#[derive(Debug, Clone)]
pub struct KcDirectoryOptions {
    /// Keycloak's public base URL (for `meta.location`).
    pub public_url: String,
    /// How long realm state and protected sets are cached.
    pub cache_ttl: Duration,
    /// Most users a non-pushable filter may scan.
    pub max_scan: usize,
}

struct RealmState {
    view: Arc<RealmView>,
    mapping: UserMapping,
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
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            loading: Mutex::new(()),
        }
    }
}

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
        let _single_flight = self.loading.lock().await;
        if let Some(hit) = self.cached(key, ttl).await {
            return hit.map_err(DirectoryError::NotFound);
        }
        let loaded = match load().await? {
            Some(v) => Ok(Arc::new(v)),
            None => Err(format!("realm {key} has no SCIM endpoint")),
        };
        self.entries
            .write()
            .await
            .insert(key.to_owned(), (Instant::now(), loaded.clone()));
        loaded.map_err(DirectoryError::NotFound)
    }

    async fn forget(&self, key: &str) {
        self.entries.write().await.remove(key);
    }
}

/// The Keycloak-backed directory.
pub struct KcDirectory {
    kc: KcAdmin,
    opts: KcDirectoryOptions,
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

    /// Drops the cached state of `realm` (after settings changed).
    pub async fn invalidate(&self, realm: &str) {
        self.realms.forget(realm).await;
        self.service_accounts.forget(realm).await;
        self.protected.forget(realm).await;
    }

    async fn state(&self, realm: &str) -> Result<Arc<RealmState>, DirectoryError> {
        if crate::keycloak::validate_realm_name(realm).is_err() {
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
        Ok(Some(RealmState {
            view: Arc::new(RealmView {
                settings,
                user_schema: mapping.schema().clone(),
                user_input_schema: mapping.input_schema().clone(),
                group_schema: ResourceSchema::group(),
                base_url,
            }),
            mapping,
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
        let q = UserQuery {
            first: 0,
            max: self.opts.max_scan + 1,
            ..UserQuery::default()
        };
        let users = self
            .kc
            .find_users(realm, &q)
            .await
            .map_err(kc_err("Users"))?;
        if users.len() > self.opts.max_scan {
            return Err(too_many(self.opts.max_scan));
        }
        Ok(users)
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

    async fn get_user(&self, realm: &str, id: &str) -> Result<Value, DirectoryError> {
        let state = self.state(realm).await?;
        let user = self.fetch_user(realm, id).await?;
        Ok(state.mapping.scim_user_from_kc(&user, &state.view.base_url))
    }

    async fn list_users(&self, realm: &str, req: &ListRequest) -> Result<ListPage, DirectoryError> {
        let state = self.state(realm).await?;
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
        let state = self.state(realm).await?;
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
        let state = self.state(realm).await?;
        let existing = self.fetch_user(realm, id).await?;
        self.ensure_writable(realm, id).await?;
        let current = state
            .mapping
            .scim_user_from_kc(&existing, &state.view.base_url);
        check_version(&current, if_match)?;
        self.write_user(realm, &state, &existing, body).await
    }

    async fn patch_user(
        &self,
        realm: &str,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        let state = self.state(realm).await?;
        let existing = self.fetch_user(realm, id).await?;
        self.ensure_writable(realm, id).await?;
        let current = state
            .mapping
            .scim_user_from_kc(&existing, &state.view.base_url);
        check_version(&current, if_match)?;
        let outcome = apply_patch(&current, &patch.operations, &state.view.user_input_schema)?;
        if !outcome.changed {
            return Ok(current);
        }
        self.write_user(realm, &state, &existing, &outcome.resource)
            .await
    }

    async fn delete_user(
        &self,
        realm: &str,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let state = self.state(realm).await?;
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
        self.kc.delete_user(realm, id).await.map_err(|e| match e {
            KcError::NotFound(_) => DirectoryError::NotFound(format!("User {id} not found")),
            other => DirectoryError::from_kc(other, "User"),
        })
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
