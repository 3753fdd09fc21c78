//! Users on Keycloak: fetch (service accounts hidden), the serialized
//! read-check-write of PUT and PATCH, creation, deletion, and list pages —
//! the candidates a filter pushes down (`plan_user_lookup`: one search or
//! the union of several), a bounded scan, or Keycloak's own page when no
//! filter or sort needs more.
//!
//! Invariant: one write is one `PUT` of the full merged representation, made
//! only after the admin-role check, the ownership check, the version check
//! and, for a disable, the breaker; no list holds more than `max_scan`
//! candidates, and no search behind it reads more than `max_scan + 1` users.

use serde_json::{json, Value};

use super::groups::in_placement;
use super::realm_state::RealmState;
use super::{kc_err, may_be_an_id, KcDirectory};
use crate::directory::{if_match_admits, DirectoryError, ListPage, ListRequest};
use crate::keycloak::{KcError, KcUser, UserQuery};
use crate::mapping::ownership::email_verified_after;
use crate::mapping::user::now_rfc3339;
use crate::mapping::{plan_user_lookup, UserLookup};
use crate::realm::RealmName;
use crate::scim::schema::ResourceSchema;
use crate::scim::{AttrPath, Filter, ScimError};

/// Users are scanned this many per Admin API call.
pub(super) const SCAN_PAGE: usize = 500;

impl KcDirectory {
    pub(super) async fn fetch_user(&self, realm: &str, id: &str) -> Result<KcUser, DirectoryError> {
        let not_found = || DirectoryError::NotFound(format!("User {id} not found"));
        if !may_be_an_id(id) {
            return Err(not_found());
        }
        let user = match self.kc.get_user(realm, id).await {
            // Only the id exactly as Keycloak spells it names the user: a
            // database that matches ids case-insensitively must not give
            // one user two names (two write locks, a missed service account).
            Ok(Some(u)) if u.id.as_deref() == Some(id) => u,
            Ok(_) | Err(KcError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(DirectoryError::from_kc(e, "User")),
        };
        if self.service_accounts(realm).await?.hides(&user) {
            return Err(not_found());
        }
        Ok(user)
    }

    /// `body` mapped over `existing`: what [`Self::write_user`] writes.
    /// Every bad value of the body is refused here, before anything counts
    /// or is written.
    fn prepare_user(
        state: &RealmState,
        existing: &KcUser,
        body: &Value,
    ) -> Result<KcUser, DirectoryError> {
        let mut updated = state
            .mapping
            .kc_user_from_scim(body, Some(existing), &now_rfc3339())?;
        updated.email_verified = Some(email_verified_after(
            Some(existing),
            &updated,
            state.view.settings.trust_emails,
        ));
        Ok(updated)
    }

    /// Writes `updated` to user `id` and renders it without a re-read.
    async fn write_user(
        &self,
        realm: &str,
        state: &RealmState,
        id: &str,
        updated: &KcUser,
    ) -> Result<Value, DirectoryError> {
        self.kc
            .update_user(realm, id, updated)
            .await
            .map_err(kc_err("User"))?;
        Ok(state
            .mapping
            .scim_user_from_kc(updated, &state.view.base_url))
    }

    /// The read-check-write of a user update (PUT or PATCH), serialized per
    /// user: `next` computes the new SCIM resource from the current one
    /// (`None`: nothing changes, no write).
    pub(super) async fn update_user(
        &self,
        realm: &RealmName,
        id: &str,
        if_match: Option<&str>,
        next: impl FnOnce(&Value, &ResourceSchema) -> Result<Option<Value>, DirectoryError> + Send,
    ) -> Result<Value, DirectoryError> {
        let (state, _permit) = self.enter(realm).await?;
        let _serial = self.write_lock(realm, id).await?;
        // The read and the admin-role check do not depend on each other:
        // both at once cost one round trip of latency, not two. Their
        // errors count in this order (an unknown id is 404 first).
        let (existing, writable) = futures::join!(
            self.fetch_user(realm, id),
            self.ensure_writable(realm, id, "change it")
        );
        let existing = existing?;
        writable?;
        self.ensure_owned(realm, &state.view.settings, &existing)
            .await?;
        let current = state
            .mapping
            .scim_user_from_kc(&existing, &state.view.base_url);
        check_version(&current, if_match)?;
        let Some(updated) = next(&current, &state.view.user_input_schema)? else {
            return Ok(current);
        };
        let prepared = Self::prepare_user(&state, &existing, &updated)?;
        let disabling = disables(&current, &updated);
        let admitted = if disabling {
            self.guard_deprovision(realm, &state).await?
        } else {
            None
        };
        let written = match self.write_user(realm, &state, id, &prepared).await {
            Ok(written) => written,
            Err(e) => {
                if e.wrote_nothing() {
                    self.release_deprovision(realm, admitted);
                }
                return Err(e);
            }
        };
        if disabling {
            // Keycloak refuses a disabled user's sessions already; the
            // logout removes them, so re-enabling does not revive them.
            let _ = self.end_sessions(realm, id).await;
        } else if enables(&current, &updated) {
            self.onboard_reenabled(realm, &state, id, &written).await;
        }
        Ok(written)
    }

    pub(super) async fn candidates(
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
            UserLookup::Query(q) => self.collect(realm, q, Bound::Pushed).await?,
            UserLookup::Union(queries) => self.collect_union(realm, queries).await?,
            UserLookup::Scan => {
                self.collect(realm, UserQuery::default(), Bound::Scan)
                    .await?
            }
        };
        let hidden = self.service_accounts(realm).await?;
        Ok(users.into_iter().filter(|u| !hidden.hides(u)).collect())
    }

    /// Every user `query` finds, paged through with `first` / `max`, up to
    /// `max_scan` (else `tooMany`, after reading at most `max_scan + 1`).
    /// When the first page is full, Keycloak's count of the same search
    /// decides first: over `max_scan` is `tooMany` without reading on.
    async fn collect(
        &self,
        realm: &str,
        query: UserQuery,
        bound: Bound,
    ) -> Result<Vec<KcUser>, DirectoryError> {
        // Pages keep each Admin API call well inside the call timeout.
        let limit = self.opts.max_scan + 1;
        let mut users: Vec<KcUser> = Vec::new();
        loop {
            let max = SCAN_PAGE.min(limit - users.len());
            let q = UserQuery {
                first: users.len(),
                max,
                ..query.clone()
            };
            let page = self
                .kc
                .find_users(realm, &q)
                .await
                .map_err(kc_err("Users"))?;
            let short = page.len() < max;
            let first_page = users.is_empty();
            users.extend(page);
            if users.len() > self.opts.max_scan {
                return Err(too_many(self.opts.max_scan, bound));
            }
            if short {
                return Ok(users);
            }
            if first_page {
                let total = self
                    .kc
                    .count_users(realm, &query)
                    .await
                    .map_err(kc_err("Users"))?;
                if total > self.opts.max_scan {
                    return Err(too_many(self.opts.max_scan, bound));
                }
            }
        }
    }

    /// The users any of `queries` finds, each once, up to `max_scan` in all.
    async fn collect_union(
        &self,
        realm: &str,
        queries: Vec<UserQuery>,
    ) -> Result<Vec<KcUser>, DirectoryError> {
        let mut seen = std::collections::HashSet::new();
        let mut users = Vec::new();
        for q in queries {
            for user in self.collect(realm, q, Bound::Pushed).await? {
                if user.id.as_ref().is_none_or(|id| seen.insert(id.clone())) {
                    users.push(user);
                }
            }
            if users.len() > self.opts.max_scan {
                return Err(too_many(self.opts.max_scan, Bound::Pushed));
            }
        }
        Ok(users)
    }

    /// An unfiltered page straight from Keycloak, in Keycloak's order
    /// (username ascending): two calls, whatever the realm's size.
    pub(super) async fn native_page(
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
        // Keycloak leaves service accounts out of unfiltered lists and counts;
        // a user merely named like one is left out here (and still counted).
        let resources = users
            .iter()
            .filter(|u| !u.named_as_service_account())
            .map(|u| state.mapping.scim_user_from_kc(u, &state.view.base_url))
            .collect();
        Ok(ListPage { total, resources })
    }

    /// The user's direct groups as SCIM `groups` values (placement-checked).
    pub(super) async fn user_group_refs(
        &self,
        realm: &str,
        state: &RealmState,
        id: &str,
    ) -> Result<Value, DirectoryError> {
        let groups = self
            .kc
            .user_groups(realm, id)
            .await
            .map_err(kc_err("User groups"))?;
        let base = state.view.base_url.trim_end_matches('/');
        let list: Vec<Value> = groups
            .iter()
            .filter(|g| in_placement(state, g))
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
        Ok(Value::Array(list))
    }

    /// A page of users: straight from Keycloak when unfiltered in its order,
    /// else the candidates of the filter, checked, sorted and paged here.
    pub(super) async fn list_user_page(
        &self,
        realm: &str,
        state: &RealmState,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError> {
        let native_order = req.sort_by.as_ref().is_none_or(is_user_name);
        if req.filter.is_none() && native_order {
            return self.native_page(realm, state, req).await;
        }
        let candidates = self.candidates(realm, state, req.filter.as_ref()).await?;
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

    /// A delete: refused for protected users, version-checked when asked,
    /// admitted by the breaker.
    pub(super) async fn remove_user(
        &self,
        realm: &str,
        state: &RealmState,
        id: &str,
        if_match: Option<&str>,
    ) -> Result<(), DirectoryError> {
        if !may_be_an_id(id) {
            return Err(DirectoryError::NotFound(format!("User {id} not found")));
        }
        // The ownership check needs the user: one read per delete, made at
        // the same time as the admin-role check.
        let (writable, existing) = futures::join!(
            self.ensure_writable(realm, id, "delete it"),
            self.fetch_user(realm, id)
        );
        // The read's answer first, as for an update: a hidden service
        // account is unknown (404), not named as one.
        let existing = existing?;
        writable?;
        self.ensure_owned(realm, &state.view.settings, &existing)
            .await?;
        if if_match.is_some() {
            let current = state
                .mapping
                .scim_user_from_kc(&existing, &state.view.base_url);
            check_version(&current, if_match)?;
        }
        let admitted = self.guard_deprovision(realm, state).await?;
        // Sessions first: a failed logout leaves the user in place for the
        // client's retry rather than sessions without a user record.
        let deleted = match self.end_sessions(realm, id).await {
            Ok(()) => self.kc.delete_user(realm, id).await.map_err(|e| match e {
                KcError::NotFound(_) => DirectoryError::NotFound(format!("User {id} not found")),
                other => DirectoryError::from_kc(other, "User"),
            }),
            // No delete was sent: the user is still there.
            Err(e) => {
                self.release_deprovision(realm, admitted);
                return Err(kc_err("User sessions")(e));
            }
        };
        if deleted.as_ref().is_err_and(DirectoryError::wrote_nothing) {
            self.release_deprovision(realm, admitted);
        }
        deleted
    }
}

/// Which bound a list ran into.
#[derive(Debug, Clone, Copy)]
pub(super) enum Bound {
    /// No term of the filter could be searched in Keycloak: every user read.
    Scan,
    /// Keycloak's search for a term of the filter found too many candidates.
    Pushed,
}

pub(super) fn too_many(max: usize, bound: Bound) -> DirectoryError {
    DirectoryError::Scim(ScimError::too_many(match bound {
        Bound::Scan => format!(
            "the filter cannot be answered by an index and would scan more than {max} users; \
             filter by userName, externalId, id or email"
        ),
        Bound::Pushed => format!(
            "more than {max} users match the searchable part of the filter; \
             narrow the userName or emails term, or filter by externalId or id"
        ),
    }))
}

pub(super) fn is_user_name(path: &AttrPath) -> bool {
    path.name.eq_ignore_ascii_case("userName") && path.sub_attr.is_none()
}

/// Sorts SCIM resources by `path` (strings case-insensitively), missing last.
pub(super) fn sort_resources(resources: &mut [Value], path: &AttrPath, descending: bool) {
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

/// Whether a write turns an active user inactive.
pub(super) fn disables(current: &Value, next: &Value) -> bool {
    current.get("active").and_then(Value::as_bool) != Some(false)
        && next.get("active").and_then(Value::as_bool) == Some(false)
}

/// Whether a write turns an inactive user active.
pub(super) fn enables(current: &Value, next: &Value) -> bool {
    current.get("active").and_then(Value::as_bool) == Some(false)
        && next.get("active").and_then(Value::as_bool) == Some(true)
}

pub(super) fn check_version(current: &Value, if_match: Option<&str>) -> Result<(), DirectoryError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_from_active_to_inactive_disables() {
        let rows = [
            (json!({"active": true}), json!({"active": false}), true),
            (json!({}), json!({"active": false}), true),
            (json!({"active": false}), json!({"active": false}), false),
            (json!({"active": true}), json!({"active": true}), false),
            (json!({"active": true}), json!({}), false),
            (json!({"active": false}), json!({"active": true}), false),
        ];
        for (current, next, expected) in rows {
            assert_eq!(disables(&current, &next), expected, "{current} -> {next}");
        }
    }

    #[test]
    fn only_a_change_from_inactive_to_active_enables() {
        let rows = [
            (json!({"active": false}), json!({"active": true}), true),
            (json!({"active": true}), json!({"active": true}), false),
            (json!({}), json!({"active": true}), false),
            (json!({"active": false}), json!({"active": false}), false),
            (json!({"active": false}), json!({}), false),
        ];
        for (current, next, expected) in rows {
            assert_eq!(enables(&current, &next), expected, "{current} -> {next}");
        }
    }

    #[test]
    fn check_version_admits_a_missing_or_matching_if_match_only() {
        let current = json!({"meta": {"version": "W/\"3\""}});
        assert!(check_version(&current, None).is_ok());
        assert!(check_version(&current, Some("W/\"3\"")).is_ok());
        assert!(check_version(&current, Some("*")).is_ok());
        match check_version(&current, Some("W/\"2\"")) {
            Err(DirectoryError::PreconditionFailed { current }) => assert_eq!(current, "W/\"3\""),
            other => panic!("expected a failed precondition, got {other:?}"),
        }
    }

    fn path(name: &str, sub: Option<&str>) -> AttrPath {
        AttrPath {
            schema: None,
            name: name.to_owned(),
            sub_attr: sub.map(str::to_owned),
        }
    }

    fn names(resources: &[Value]) -> Vec<&str> {
        resources
            .iter()
            .map(|r| r["id"].as_str().unwrap_or_default())
            .collect()
    }

    #[test]
    fn sorting_ignores_case_and_puts_missing_values_last_both_ways() {
        let mut rs = vec![
            json!({"id": "none"}),
            json!({"id": "b", "userName": "Bob"}),
            json!({"id": "a", "userName": "alice"}),
            json!({"id": "c", "userName": "carol"}),
        ];
        sort_resources(&mut rs, &path("userName", None), false);
        assert_eq!(names(&rs), ["a", "b", "c", "none"]);
        sort_resources(&mut rs, &path("userName", None), true);
        assert_eq!(names(&rs), ["c", "b", "a", "none"]);
    }

    #[test]
    fn sorting_follows_sub_attributes() {
        let mut rs = vec![
            json!({"id": "z", "name": {"familyName": "Zed"}}),
            json!({"id": "y", "name": {}}),
            json!({"id": "a", "name": {"familyName": "Abe"}}),
        ];
        sort_resources(&mut rs, &path("name", Some("familyName")), false);
        assert_eq!(names(&rs), ["a", "z", "y"]);
    }

    #[test]
    fn only_an_unsubscripted_user_name_is_keycloaks_own_order() {
        assert!(is_user_name(&path("USERNAME", None)));
        assert!(!is_user_name(&path("userName", Some("x"))));
        assert!(!is_user_name(&path("displayName", None)));
    }
}
