//! The directory on Keycloak's Admin API. Per realm it caches, for a short
//! TTL, the SCIM settings and mapper table (two calls to load) and the
//! service-account users. Whether a user or group is protected (holds
//! `realm-management` roles) is asked of Keycloak on each write, never
//! cached. Request paths make only the calls their operation needs: get 1,
//! lookup 1, create 2, user patch / replace 3, user delete 2, group writes
//! one more than their own calls (plus two per ancestor group and, for a
//! delete, one per subgroup). A user write's read and its admin-role check
//! go out together: two calls, one round trip of latency.
//!
//! This file is the orchestration: the options, the struct, and the
//! `Directory` impl, each method admission → fetch → check → delegate. The
//! jobs live beside it: `cache` (per-realm single-flight cache),
//! `admission` (in-flight budget, write stripes, breaker guard),
//! `realm_state` (settings, mappers, service accounts), `protected` (the
//! admin-role check), `users` and `groups`.
//!
//! Invariant: every operation first enters the realm (state, then an
//! in-flight slot) and every write that reads what it writes back holds its
//! resource's stripe (member adds and removes of a group read nothing back
//! and commute, so they hold none); the Keycloak calls of an operation are
//! made in the same order whatever file holds them.

mod admission;
mod cache;
mod groups;
pub mod onboarding;
mod ownership;
mod protected;
mod realm_state;
mod registry;
mod users;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;
use tokio::sync::{Mutex, Semaphore};

use self::cache::Cache;
use self::groups::check_group_version;
use self::realm_state::{RealmState, ServiceAccounts};
pub use self::registry::{RealmRegistry, MAX_SERVED_REALMS};
use super::breaker::Window;
use super::{
    unassigned_active_is_inactive, Directory, DirectoryError, ListPage, ListRequest, RealmView,
};
use crate::config::DeprovisionSettings;
use crate::keycloak::{KcAdmin, KcError};
use crate::mapping::ownership::email_verified_after;
use crate::mapping::user::now_rfc3339;
use crate::realm::RealmName;
use crate::scim::{apply_patch, split_member_ops, PatchRequest};

/// Tuning of the Keycloak directory.
#[derive(Debug, Clone)]
pub struct KcDirectoryOptions {
    /// Keycloak's public base URL (for `meta.location`).
    pub public_url: String,
    /// How long realm state and service accounts are cached.
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
    /// How long the link of a passkey onboarding email stays valid.
    pub onboarding_lifespan: Duration,
}

/// The Keycloak-backed directory.
pub struct KcDirectory {
    kc: KcAdmin,
    opts: KcDirectoryOptions,
    registry: Arc<RealmRegistry>,
    write_locks: Vec<Mutex<()>>,
    in_flight: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    breakers: std::sync::Mutex<HashMap<String, Window>>,
    realms: Cache<RealmState>,
    service_accounts: Cache<ServiceAccounts>,
}

/// Whether a group PATCH must hold the group's write lock: anything but
/// adding and removing named members reads state it then writes (the member
/// list, the name, the version). Member adds and removes are single
/// Keycloak calls that commute, so concurrent ones (Entra syncing a large
/// group) run side by side.
fn serializes(patch: &PatchRequest, if_match: Option<&str>) -> bool {
    let (delta, rest) = split_member_ops(&patch.operations);
    if_match.is_some() || !rest.is_empty() || !delta.is_commutative()
}

/// Whether `id` could be a Keycloak id at all (non-empty, at most 64
/// bytes); any other id is unknown without asking Keycloak.
fn may_be_an_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64
}

fn kc_err(what: &str) -> impl Fn(KcError) -> DirectoryError + '_ {
    move |e| DirectoryError::from_kc(e, what)
}

impl KcDirectory {
    /// A directory on `kc` serving the realms of `registry`.
    #[must_use]
    pub fn new(kc: KcAdmin, opts: KcDirectoryOptions, registry: Arc<RealmRegistry>) -> Self {
        Self {
            kc,
            opts,
            registry,
            write_locks: admission::write_stripes(),
            in_flight: std::sync::Mutex::new(HashMap::new()),
            breakers: std::sync::Mutex::new(HashMap::new()),
            realms: Cache::default(),
            service_accounts: Cache::default(),
        }
    }

    /// The admin client (for its call counters).
    #[must_use]
    pub fn admin(&self) -> &KcAdmin {
        &self.kc
    }

    /// The served-realm registry.
    #[must_use]
    pub fn registry(&self) -> &Arc<RealmRegistry> {
        &self.registry
    }

    /// Drops the cached state of `realm` (after settings changed).
    pub async fn invalidate(&self, realm: &str) {
        self.realms.forget(realm).await;
        self.service_accounts.forget(realm).await;
    }
}

#[async_trait]
impl Directory for KcDirectory {
    fn serves(&self, realm: &RealmName) -> Result<bool, DirectoryError> {
        self.registry.serves(realm)
    }

    async fn realm(&self, realm: &RealmName) -> Result<Arc<RealmView>, DirectoryError> {
        Ok(Arc::clone(&self.state(realm).await?.view))
    }

    async fn get_user(
        &self,
        realm: &RealmName,
        id: &str,
        with_groups: bool,
    ) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let user = self.fetch_user(realm, id).await?;
        let mut resource = state.mapping.scim_user_from_kc(&user, &state.view.base_url);
        if with_groups {
            resource["groups"] = self.user_group_refs(realm, &state, id).await?;
        }
        Ok(resource)
    }

    async fn list_users(
        &self,
        realm: &RealmName,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        self.list_user_page(realm, &state, req).await
    }

    async fn create_user(&self, realm: &RealmName, body: &Value) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let mut user = state
            .mapping
            .kc_user_from_scim(body, None, &now_rfc3339())?;
        user.enabled = Some(user.enabled.unwrap_or(true));
        user.email_verified = Some(email_verified_after(
            None,
            &user,
            state.view.settings.trust_emails,
        ));
        let id = self
            .kc
            .create_user(realm, &user)
            .await
            .map_err(kc_err("User"))?;
        let created = self.fetch_user(realm, &id).await?;
        self.onboard_created(realm, &state, &created, &id).await;
        Ok(state
            .mapping
            .scim_user_from_kc(&created, &state.view.base_url))
    }

    async fn replace_user(
        &self,
        realm: &RealmName,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        self.update_user(realm, id, if_match, |_, _| Ok(Some(body.clone())))
            .await
    }

    async fn patch_user(
        &self,
        realm: &RealmName,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        self.update_user(realm, id, if_match, |current, schema| {
            let mut outcome = apply_patch(current, &patch.operations, schema)?;
            unassigned_active_is_inactive(current, &mut outcome.resource);
            Ok(outcome.changed.then_some(outcome.resource))
        })
        .await
    }

    async fn delete_user(
        &self,
        realm: &RealmName,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        self.remove_user(realm, &state, id, if_match).await
    }

    async fn get_group(
        &self,
        realm: &RealmName,
        id: &str,
        with_members: bool,
    ) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let group = self.fetch_group(realm, &state, id).await?;
        self.render_group(realm, &state, &group, with_members).await
    }

    async fn list_groups(
        &self,
        realm: &RealmName,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        self.list_group_page(realm, &state, req).await
    }

    async fn create_group(&self, realm: &RealmName, body: &Value) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        self.create_group_with_members(realm, &state, body).await
    }

    async fn replace_group(
        &self,
        realm: &RealmName,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        let (existing, ahead) = self.fetch_group_for_write(realm, &state, id).await?;
        check_group_version(&existing, if_match)?;
        self.replace_group_and_members(realm, &state, id, &existing, body, ahead)
            .await
    }

    async fn patch_group(
        &self,
        realm: &RealmName,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let serial = if serializes(patch, if_match) {
            Some(self.write_lock(realm, id).await?)
        } else {
            None
        };
        // Adds and removes of named members always write, so their check's
        // first call goes out beside the read; any other PATCH may change
        // nothing and need no check.
        let (existing, ahead) = if serial.is_none() {
            self.fetch_group_for_write(realm, &state, id).await?
        } else {
            (self.fetch_group(realm, &state, id).await?, None)
        };
        check_group_version(&existing, if_match)?;
        self.apply_group_patch(realm, &state, id, &existing, patch, ahead)
            .await
    }

    async fn delete_group(
        &self,
        realm: &RealmName,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        let (existing, ahead) = self.fetch_group_for_write(realm, &state, id).await?;
        check_group_version(&existing, if_match)?;
        self.ensure_group_writable(realm, &existing, "delete it", ahead)
            .await?;
        self.ensure_subgroups_deletable(realm, &existing).await?;
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

    async fn refresh_realm(&self, realm: &RealmName) {
        self.realms.forget(realm).await;
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::serializes;
    use crate::scim::parse_patch_request;

    #[test]
    fn only_adds_and_removes_of_named_members_skip_the_group_write_lock() {
        let uid = "6f1c2a9e-5b7d-4c1e-9a3f-0e2d6b8c7a10";
        let table = [
            (
                json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]),
                None,
                false,
            ),
            (
                json!([{"op": "Remove", "path": format!("members[value eq \"{uid}\"]")}]),
                None,
                false,
            ),
            (
                json!([{"op": "Remove", "path": "members", "value": [{"value": uid}]}]),
                None,
                false,
            ),
            (
                json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]),
                Some("W/\"1\""),
                true,
            ),
            (json!([{"op": "Remove", "path": "members"}]), None, true),
            (
                json!([{"op": "Replace", "path": "members", "value": [{"value": uid}]}]),
                None,
                true,
            ),
            (
                json!([{"op": "Replace", "path": "displayName", "value": "x"}]),
                None,
                true,
            ),
            (
                json!([
                    {"op": "Add", "path": "members", "value": [{"value": uid}]},
                    {"op": "Replace", "path": "displayName", "value": "x"}
                ]),
                None,
                true,
            ),
        ];
        for (ops, if_match, want) in table {
            let body = json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": ops
            });
            let patch = parse_patch_request(&body).expect("a valid PATCH");
            assert_eq!(
                serializes(&patch, if_match),
                want,
                "{body} if-match {if_match:?}"
            );
        }
    }
}
