//! The use cases — create, get, list, replace, patch, delete a user (and,
//! with groups, a group) — behind one narrow port, the [`Directory`] trait.
//! [`KcDirectory`] implements it on Keycloak's Admin API and does the
//! orchestration (read, patch, write; membership calls); [`MemoryDirectory`]
//! is an in-memory fake for fast handler tests.
//!
//! Invariant: resources cross this port as canonical SCIM JSON; nothing of
//! Keycloak's representations leaks out, and nothing here knows the HTTP
//! framework.

mod breaker;
mod error;
mod keycloak;
mod memory;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::Value;

use crate::mapping::RealmScimSettings;
use crate::realm::RealmName;
use crate::scim::schema::ResourceSchema;
use crate::scim::{AttrPath, Filter, PatchRequest};

pub use error::DirectoryError;
pub use keycloak::{onboarding, KcDirectory, KcDirectoryOptions, RealmRegistry, MAX_SERVED_REALMS};
pub use memory::MemoryDirectory;

/// What the HTTP layer needs to know about a realm before serving it.
#[derive(Debug, Clone)]
pub struct RealmView {
    /// The realm's SCIM settings (enabled, profile, tenant id, token hashes).
    pub settings: RealmScimSettings,
    /// The User schema the realm advertises (attributes that round-trip).
    pub user_schema: ResourceSchema,
    /// The User schema input is validated against (RFC 7643's whole User, so
    /// attributes Entra sends by default are accepted and dropped).
    pub user_input_schema: ResourceSchema,
    /// The Group schema.
    pub group_schema: ResourceSchema,
    /// The realm's SCIM base URL (`…/realms/{r}/scim/v2`).
    pub base_url: String,
    /// The id of the `scim-endpoint` client's service-account user: the
    /// only subject whose Keycloak tokens are accepted.
    pub scim_service_account: Option<String>,
}

/// A list request after parsing and validation.
#[derive(Debug, Clone, Default)]
pub struct ListRequest {
    /// The filter, if any.
    pub filter: Option<Filter>,
    /// 1-based index of the first result.
    pub start_index: usize,
    /// Page size (already capped).
    pub count: usize,
    /// Sort attribute.
    pub sort_by: Option<AttrPath>,
    /// Sort descending.
    pub descending: bool,
    /// Members are excluded from the response: do not load them.
    pub skip_members: bool,
}

/// One page of results.
#[derive(Debug, Clone, Default)]
pub struct ListPage {
    /// Matches in all pages.
    pub total: usize,
    /// This page.
    pub resources: Vec<Value>,
}

/// The port the HTTP layer talks to.
#[async_trait]
pub trait Directory: Send + Sync + 'static {
    /// Whether `realm` is served, answered from memory without a backend
    /// call (the HTTP layer asks before anything else; a realm not served
    /// gets the same answer as a bad credential). `Unavailable` when the
    /// served realms are not known yet.
    fn serves(&self, realm: &RealmName) -> Result<bool, DirectoryError>;
    /// The realm's view; `NotFound` when the realm or its SCIM set-up is absent.
    async fn realm(&self, realm: &RealmName) -> Result<Arc<RealmView>, DirectoryError>;
    /// A user by id; `with_groups` adds the read-only `groups` attribute
    /// (one more Keycloak call, so only when asked for).
    async fn get_user(
        &self,
        realm: &RealmName,
        id: &str,
        with_groups: bool,
    ) -> Result<Value, DirectoryError>;
    /// Users matching a list request.
    async fn list_users(
        &self,
        realm: &RealmName,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError>;
    /// Creates a user from a normalised SCIM body.
    async fn create_user(&self, realm: &RealmName, body: &Value) -> Result<Value, DirectoryError>;
    /// Replaces a user (PUT) with a normalised SCIM body.
    async fn replace_user(
        &self,
        realm: &RealmName,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError>;
    /// Applies a PATCH to a user.
    async fn patch_user(
        &self,
        realm: &RealmName,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError>;
    /// Deletes a user.
    async fn delete_user(
        &self,
        realm: &RealmName,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError>;
    /// A group by id; `with_members` loads its members (paged).
    async fn get_group(
        &self,
        realm: &RealmName,
        id: &str,
        with_members: bool,
    ) -> Result<Value, DirectoryError>;
    /// Groups matching a list request (members unless `skip_members`).
    async fn list_groups(
        &self,
        realm: &RealmName,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError>;
    /// Creates a group (and its initial members) from a normalised body.
    async fn create_group(&self, realm: &RealmName, body: &Value) -> Result<Value, DirectoryError>;
    /// Replaces a group (name, externalId and the whole member list).
    async fn replace_group(
        &self,
        realm: &RealmName,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError>;
    /// Applies a PATCH to a group without loading its members unless an
    /// operation needs them.
    async fn patch_group(
        &self,
        realm: &RealmName,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError>;
    /// Deletes a group.
    async fn delete_group(
        &self,
        realm: &RealmName,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError>;
    /// Whether the backend answers (for `/readyz`).
    async fn ready(&self) -> Result<(), DirectoryError>;
    /// Forgets the cached settings of `realm`, so the next call reads them
    /// afresh (e.g. a static token created a moment ago). Default: nothing
    /// is cached.
    async fn refresh_realm(&self, _realm: &RealmName) {}
}

/// Whether an `If-Match` header value admits the resource version `current`
/// (`*` matches anything; weak and strong forms compare equal).
#[must_use]
pub fn if_match_admits(if_match: Option<&str>, current: &str) -> bool {
    let Some(header) = if_match else { return true };
    let strip = |s: &str| {
        s.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    let current = strip(current);
    header
        .split(',')
        .any(|tag| tag.trim() == "*" || strip(tag) == current)
}

/// Makes a user that a PATCH left without `active` (a `remove` of it, or a
/// `replace` with `null`) inactive: RFC 7644 §3.5.2.2 makes the attribute
/// unassigned, RFC 7643 §4.1.1 leaves its meaning to the service provider,
/// and a Keycloak user is always enabled or disabled. Unassigned is taken
/// as "not asserted active", so the user is disabled — never left enabled,
/// never re-enabled. Only applies when `current` had `active`.
pub(crate) fn unassigned_active_is_inactive(current: &Value, patched: &mut Value) {
    if current.get("active").is_none() {
        return;
    }
    if let Some(obj) = patched.as_object_mut() {
        if obj.get("active").is_none_or(Value::is_null) {
            obj.insert("active".to_owned(), Value::Bool(false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{if_match_admits, unassigned_active_is_inactive};
    use serde_json::json;

    #[test]
    fn a_patch_that_leaves_active_unassigned_deactivates() {
        for (current, patched, expected) in [
            // remove active, from an enabled and from a disabled user
            (json!({"active": true}), json!({}), json!({"active": false})),
            (
                json!({"active": false}),
                json!({}),
                json!({"active": false}),
            ),
            // replace active with null
            (
                json!({"active": true}),
                json!({"active": null}),
                json!({"active": false}),
            ),
            // an assigned value is kept as patched
            (
                json!({"active": false}),
                json!({"active": true}),
                json!({"active": true}),
            ),
            (
                json!({"active": true}),
                json!({"active": false}),
                json!({"active": false}),
            ),
            // a resource that never had active gains none
            (
                json!({}),
                json!({"userName": "a"}),
                json!({"userName": "a"}),
            ),
        ] {
            let mut out = patched.clone();
            unassigned_active_is_inactive(&current, &mut out);
            assert_eq!(out, expected, "{current} patched to {patched}");
        }
    }

    #[test]
    fn if_match_compares_weak_and_strong_forms() {
        assert!(if_match_admits(None, "W/\"a\""));
        assert!(if_match_admits(Some("*"), "W/\"a\""));
        assert!(if_match_admits(Some("W/\"a\""), "W/\"a\""));
        assert!(if_match_admits(Some("\"a\""), "W/\"a\""));
        assert!(if_match_admits(Some("\"b\", W/\"a\""), "W/\"a\""));
        assert!(!if_match_admits(Some("W/\"b\""), "W/\"a\""));
    }
}
