//! An in-memory directory for fast handler tests: resources kept as SCIM JSON
//! per realm, with the same schema, filter, PATCH and version semantics the
//! Keycloak directory has, and none of Keycloak.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::{json, Value};

use super::{
    if_match_admits, unassigned_active_is_inactive, Directory, DirectoryError, ListPage,
    ListRequest, RealmView,
};
use crate::mapping::group::group_schema;
use crate::mapping::{MapperTable, RealmScimSettings, UserMapping};
use crate::realm::RealmName;
use crate::scim::{apply_patch, PatchRequest};

/// The fake directory.
pub struct MemoryDirectory {
    realms: Mutex<BTreeMap<String, Realm>>,
}

struct Realm {
    view: Arc<RealmView>,
    users: BTreeMap<String, Value>,
    groups: BTreeMap<String, Value>,
    next_id: u64,
}

impl MemoryDirectory {
    /// A directory holding the given realms (all enabled, with `settings`).
    #[must_use]
    pub fn new(realms: &[&str], settings: &RealmScimSettings) -> Self {
        let mapping = UserMapping::new(&MapperTable::defaults());
        let map = realms
            .iter()
            .map(|name| {
                let view = Arc::new(RealmView {
                    settings: settings.clone(),
                    user_schema: mapping.schema().clone(),
                    user_input_schema: mapping.input_schema().clone(),
                    group_schema: group_schema(),
                    base_url: format!("http://scim.test/realms/{name}/scim/v2"),
                    scim_service_account: None,
                });
                (
                    (*name).to_owned(),
                    Realm {
                        view,
                        users: BTreeMap::new(),
                        groups: BTreeMap::new(),
                        next_id: 1,
                    },
                )
            })
            .collect();
        Self {
            realms: Mutex::new(map),
        }
    }

    fn with_realm<T>(
        &self,
        realm: &str,
        f: impl FnOnce(&mut Realm) -> Result<T, DirectoryError>,
    ) -> Result<T, DirectoryError> {
        let mut realms = self
            .realms
            .lock()
            .map_err(|_| DirectoryError::Backend("poisoned".to_owned()))?;
        let r = realms
            .get_mut(realm)
            .filter(|r| r.view.settings.enabled)
            .ok_or_else(|| {
                DirectoryError::NotFound(format!("no SCIM endpoint for realm {realm}"))
            })?;
        f(r)
    }
}

fn stamp(resource: &mut Value, id: &str, base_url: &str, version: u64) {
    stamp_as(resource, "User", id, base_url, version);
    if resource.get("active").is_none() {
        resource["active"] = json!(true);
    }
}

fn stamp_as(resource: &mut Value, kind: &str, id: &str, base_url: &str, version: u64) {
    resource["id"] = json!(id);
    resource["meta"] = json!({
        "resourceType": kind,
        "created": "2026-01-01T00:00:00.000Z",
        "lastModified": "2026-01-01T00:00:00.000Z",
        "location": format!("{base_url}/{kind}s/{id}"),
        "version": format!("W/\"{version}\""),
    });
}

fn group<'a>(r: &'a Realm, id: &str) -> Result<&'a Value, DirectoryError> {
    r.groups
        .get(id)
        .ok_or_else(|| DirectoryError::NotFound(format!("Group {id} not found")))
}

fn without_members(mut g: Value) -> Value {
    if let Some(m) = g.as_object_mut() {
        m.remove("members");
    }
    g
}

fn user<'a>(r: &'a Realm, id: &str) -> Result<&'a Value, DirectoryError> {
    r.users
        .get(id)
        .ok_or_else(|| DirectoryError::NotFound(format!("User {id} not found")))
}

fn check(current: &Value, if_match: Option<&str>) -> Result<(), DirectoryError> {
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

fn same_user_name(a: &Value, b: &Value) -> bool {
    let name = |v: &Value| {
        v.get("userName")
            .and_then(Value::as_str)
            .map(str::to_lowercase)
    };
    name(a).is_some() && name(a) == name(b)
}

#[async_trait]
impl Directory for MemoryDirectory {
    fn serves(&self, realm: &RealmName) -> Result<bool, DirectoryError> {
        let realms = self
            .realms
            .lock()
            .map_err(|_| DirectoryError::Backend("poisoned".to_owned()))?;
        Ok(realms
            .get(realm.as_str())
            .is_some_and(|r| r.view.settings.enabled))
    }

    async fn realm(&self, realm: &RealmName) -> Result<Arc<RealmView>, DirectoryError> {
        self.with_realm(realm, |r| Ok(Arc::clone(&r.view)))
    }

    async fn get_user(
        &self,
        realm: &RealmName,
        id: &str,
        _with_groups: bool,
    ) -> Result<Value, DirectoryError> {
        self.with_realm(realm, |r| user(r, id).cloned())
    }

    async fn list_users(
        &self,
        realm: &RealmName,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError> {
        self.with_realm(realm, |r| {
            let matches: Vec<&Value> = r
                .users
                .values()
                .filter(|u| {
                    req.filter
                        .as_ref()
                        .is_none_or(|f| f.matches(u, &r.view.user_input_schema))
                })
                .collect();
            Ok(ListPage {
                total: matches.len(),
                resources: matches
                    .into_iter()
                    .skip(req.start_index.saturating_sub(1))
                    .take(req.count)
                    .cloned()
                    .collect(),
            })
        })
    }

    async fn create_user(&self, realm: &RealmName, body: &Value) -> Result<Value, DirectoryError> {
        self.with_realm(realm, |r| {
            if r.users.values().any(|u| same_user_name(u, body)) {
                return Err(DirectoryError::Conflict(
                    "a user with the same userName already exists".to_owned(),
                ));
            }
            let id = format!("u{}", r.next_id);
            r.next_id += 1;
            let mut resource = body.clone();
            stamp(&mut resource, &id, &r.view.base_url, 1);
            r.users.insert(id, resource.clone());
            Ok(resource)
        })
    }

    async fn replace_user(
        &self,
        realm: &RealmName,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        self.with_realm(realm, |r| {
            check(user(r, id)?, if_match)?;
            let version = r.next_id;
            r.next_id += 1;
            let mut resource = body.clone();
            stamp(&mut resource, id, &r.view.base_url, version);
            r.users.insert(id.to_owned(), resource.clone());
            Ok(resource)
        })
    }

    async fn patch_user(
        &self,
        realm: &RealmName,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        self.with_realm(realm, |r| {
            let current = user(r, id)?.clone();
            check(&current, if_match)?;
            let outcome = apply_patch(&current, &patch.operations, &r.view.user_input_schema)?;
            let version = r.next_id;
            r.next_id += 1;
            let mut resource = outcome.resource;
            unassigned_active_is_inactive(&current, &mut resource);
            stamp(&mut resource, id, &r.view.base_url, version);
            r.users.insert(id.to_owned(), resource.clone());
            Ok(resource)
        })
    }

    async fn delete_user(
        &self,
        realm: &RealmName,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        self.with_realm(realm, |r| {
            check(user(r, id)?, if_match)?;
            r.users.remove(id);
            Ok(())
        })
    }

    async fn get_group(
        &self,
        realm: &RealmName,
        id: &str,
        with_members: bool,
    ) -> Result<Value, DirectoryError> {
        self.with_realm(realm, |r| {
            let g = group(r, id)?.clone();
            Ok(if with_members { g } else { without_members(g) })
        })
    }

    async fn list_groups(
        &self,
        realm: &RealmName,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError> {
        self.with_realm(realm, |r| {
            let matches: Vec<&Value> = r
                .groups
                .values()
                .filter(|g| {
                    req.filter
                        .as_ref()
                        .is_none_or(|f| f.matches(g, &r.view.group_schema))
                })
                .collect();
            Ok(ListPage {
                total: matches.len(),
                resources: matches
                    .into_iter()
                    .skip(req.start_index.saturating_sub(1))
                    .take(req.count)
                    .map(|g| {
                        if req.skip_members {
                            without_members(g.clone())
                        } else {
                            g.clone()
                        }
                    })
                    .collect(),
            })
        })
    }

    async fn create_group(&self, realm: &RealmName, body: &Value) -> Result<Value, DirectoryError> {
        self.with_realm(realm, |r| {
            let name = body.get("displayName");
            if r.groups.values().any(|g| g.get("displayName") == name) {
                return Err(DirectoryError::Conflict(
                    "a group with the same displayName already exists".to_owned(),
                ));
            }
            let id = format!("g{}", r.next_id);
            r.next_id += 1;
            let mut resource = body.clone();
            stamp_as(&mut resource, "Group", &id, &r.view.base_url, 1);
            r.groups.insert(id, resource.clone());
            Ok(resource)
        })
    }

    async fn replace_group(
        &self,
        realm: &RealmName,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
    ) -> Result<Value, DirectoryError> {
        self.with_realm(realm, |r| {
            check(group(r, id)?, if_match)?;
            let version = r.next_id;
            r.next_id += 1;
            let mut resource = body.clone();
            stamp_as(&mut resource, "Group", id, &r.view.base_url, version);
            r.groups.insert(id.to_owned(), resource.clone());
            Ok(resource)
        })
    }

    async fn patch_group(
        &self,
        realm: &RealmName,
        id: &str,
        patch: &PatchRequest,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        self.with_realm(realm, |r| {
            let current = group(r, id)?.clone();
            check(&current, if_match)?;
            let outcome = apply_patch(&current, &patch.operations, &r.view.group_schema)?;
            let version = r.next_id;
            r.next_id += 1;
            let mut resource = outcome.resource;
            stamp_as(&mut resource, "Group", id, &r.view.base_url, version);
            r.groups.insert(id.to_owned(), resource);
            Ok(())
        })
    }

    async fn delete_group(
        &self,
        realm: &RealmName,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        self.with_realm(realm, |r| {
            check(group(r, id)?, if_match)?;
            r.groups.remove(id);
            Ok(())
        })
    }

    async fn ready(&self) -> Result<(), DirectoryError> {
        Ok(())
    }
}
