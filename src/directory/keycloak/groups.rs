//! Groups on Keycloak: fetch (only groups in SCIM's placement), members
//! read page by page, membership changes checked before and applied
//! concurrently, the candidates a filter pushes down (`plan_group_lookup`),
//! rendering, and the writes of create, PUT and PATCH.
//!
//! Invariant: SCIM sees only direct children of the configured parent (or
//! top-level groups); an unknown or hidden member changes nothing; member
//! changes are idempotent, so a retry of a half-applied change completes it.

use futures::{stream, StreamExt, TryStreamExt};
use serde_json::{json, Value};

use super::protected::RolesAhead;
use super::realm_state::RealmState;
use super::users::sort_resources;
use super::{kc_err, may_be_an_id, KcDirectory};
use crate::directory::{if_match_admits, DirectoryError, ListPage, ListRequest};
use crate::keycloak::{GroupQuery, KcError, KcGroup, KcUser};
use crate::mapping::group::{group_version, kc_group_from_scim, member_ids, scim_group_from_kc};
use crate::mapping::user::now_rfc3339;
use crate::mapping::{plan_group_lookup, GroupLookup};
use crate::scim::{apply_patch, split_member_ops, Filter, MemberChange, PatchRequest, ScimError};

/// Members are read and written this many at a time.
pub(super) const MEMBER_PAGE: usize = 500;
/// Most concurrent Keycloak calls for one membership change (fewer when the
/// realm's in-flight budget spares fewer slots: `spare_slots`).
pub(super) const MEMBER_CONCURRENCY: usize = 8;

/// Whether SCIM may see `group`: a direct child of the configured parent, or
/// a top-level group when none is configured.
pub(super) fn in_placement(state: &RealmState, group: &KcGroup) -> bool {
    let expected = match &state.group_parent {
        Some((_, parent)) => format!("{}/{}", parent.trim_end_matches('/'), group.name),
        None => format!("/{}", group.name),
    };
    group.path.as_deref().is_none_or(|p| p == expected)
}

impl KcDirectory {
    pub(super) async fn fetch_group(
        &self,
        realm: &str,
        state: &RealmState,
        id: &str,
    ) -> Result<KcGroup, DirectoryError> {
        let not_found = || DirectoryError::NotFound(format!("Group {id} not found"));
        if !may_be_an_id(id) {
            return Err(not_found());
        }
        match self.kc.get_group(realm, id).await {
            // Only the exact id names the group (see `fetch_user`).
            Ok(Some(g)) if g.id.as_deref() == Some(id) && in_placement(state, &g) => Ok(g),
            Ok(_) | Err(KcError::NotFound(_)) => Err(not_found()),
            Err(e) => Err(DirectoryError::from_kc(e, "Group")),
        }
    }

    /// Every direct member of a group SCIM may see, page by page. Service
    /// accounts are left out: never shown, so never removed either — a
    /// replace of the members leaves them in the group.
    pub(super) async fn all_members(
        &self,
        realm: &str,
        group: &str,
    ) -> Result<Vec<KcUser>, DirectoryError> {
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
                break;
            }
        }
        let hidden = self.service_accounts(realm).await?;
        out.retain(|u| !hidden.hides(u));
        Ok(out)
    }

    /// Every id must be a (non service-account) user of the realm; checked
    /// before anything is written, so an unknown member changes nothing.
    pub(super) async fn check_members(
        &self,
        realm: &str,
        ids: &[String],
    ) -> Result<(), DirectoryError> {
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
        let spare = self.spare_slots(realm, MEMBER_CONCURRENCY - 1);
        let checked = stream::iter(checks)
            .buffer_unordered(1 + spare.len())
            .try_collect::<Vec<()>>()
            .await
            .map(|_| ());
        drop(spare);
        checked
    }

    /// Adds and removes members; idempotent in Keycloak, so a retry of a
    /// request that failed midway completes it.
    pub(super) async fn apply_members(
        &self,
        realm: &str,
        group: &str,
        add: &[String],
        remove: &[String],
    ) -> Result<(), DirectoryError> {
        // Removing a service account is removing a non-member: nothing.
        let remove: Vec<&String> = if remove.is_empty() {
            Vec::new()
        } else {
            let hidden = self.service_accounts(realm).await?;
            remove.iter().filter(|u| !hidden.has_id(u)).collect()
        };
        let total = add.len() + remove.len();
        let calls: Vec<_> = add
            .iter()
            .cloned()
            .map(|u| (true, u))
            .chain(remove.into_iter().cloned().map(|u| (false, u)))
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
        let spare = self.spare_slots(realm, MEMBER_CONCURRENCY - 1);
        let done = stream::iter(calls)
            .buffer_unordered(1 + spare.len())
            .collect::<Vec<_>>()
            .await;
        drop(spare);
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

    pub(super) async fn group_candidates(
        &self,
        realm: &str,
        state: &RealmState,
        filter: Option<&Filter>,
    ) -> Result<Vec<KcGroup>, DirectoryError> {
        let lookup = filter.map_or(GroupLookup::Scan, plan_group_lookup);
        let mut query = match lookup {
            GroupLookup::ById(id) => {
                return match self.fetch_group(realm, state, &id).await {
                    Ok(g) => Ok(vec![g]),
                    Err(DirectoryError::NotFound(_)) => Ok(Vec::new()),
                    Err(e) => Err(e),
                };
            }
            GroupLookup::Query(query) => query,
            GroupLookup::Scan => GroupQuery::default(),
        };
        query.first = 0;
        query.max = self.opts.max_scan + 1;
        let found = self
            .kc
            .find_groups(realm, state.parent_id(), &query)
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

    pub(super) async fn render_group(
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

    /// A page of groups: the filter's candidates, members loaded only when
    /// the filter or the response needs them.
    pub(super) async fn list_group_page(
        &self,
        realm: &str,
        state: &RealmState,
        req: &ListRequest,
    ) -> Result<ListPage, DirectoryError> {
        let groups = self
            .group_candidates(realm, state, req.filter.as_ref())
            .await?;
        let schema = &state.view.group_schema;
        // Filters on members need them loaded; others are decided without.
        let filter_needs_members = req.filter.as_ref().is_some_and(|f| f.mentions("members"));
        let mut matches = Vec::new();
        for g in &groups {
            let shallow = self
                .render_group(realm, state, g, filter_needs_members)
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
                resources.push(self.render_group(realm, state, g, true).await?);
            }
        }
        Ok(ListPage { total, resources })
    }

    /// Creates a group with its members, or nothing: the members are checked
    /// first and the group is deleted again if adding them fails.
    pub(super) async fn create_group_with_members(
        &self,
        realm: &str,
        state: &RealmState,
        body: &Value,
    ) -> Result<Value, DirectoryError> {
        let group = kc_group_from_scim(body, None, &now_rfc3339())?;
        let members = member_ids(body)?;
        self.check_members(realm, &members).await?;
        let id = self
            .kc
            .create_group(realm, state.parent_id(), &group)
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

    /// The write of a group PUT after its version check: attributes, then
    /// the member difference, then a re-read.
    pub(super) async fn replace_group_and_members(
        &self,
        realm: &str,
        state: &RealmState,
        id: &str,
        existing: &KcGroup,
        body: &Value,
        ahead: Option<RolesAhead>,
    ) -> Result<Value, DirectoryError> {
        self.ensure_group_writable(realm, existing, "replace it", ahead)
            .await?;
        let updated = kc_group_from_scim(body, Some(existing), &now_rfc3339())?;
        let wanted = member_ids(body)?;
        let current = self.all_members(realm, id).await?;
        let current_ids: Vec<String> = current.iter().filter_map(|u| u.id.clone()).collect();
        let MemberChange { add, remove } = MemberChange::between(&current_ids, &wanted);
        self.check_members(realm, &add).await?;
        self.kc
            .update_group(realm, id, &updated)
            .await
            .map_err(kc_err("Group"))?;
        self.apply_members(realm, id, &add, &remove).await?;
        let group = self.fetch_group(realm, state, id).await?;
        self.render_group(realm, state, &group, true).await
    }

    /// The write of a group PATCH after its version check: member operations
    /// become one add / remove delta, other operations one group write (only
    /// when a name or attribute changes).
    pub(super) async fn apply_group_patch(
        &self,
        realm: &str,
        state: &RealmState,
        id: &str,
        existing: &KcGroup,
        patch: &PatchRequest,
        ahead: Option<RolesAhead>,
    ) -> Result<(), DirectoryError> {
        let (delta, rest) = split_member_ops(&patch.operations);
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
            scim_group_from_kc(existing, current_members.as_deref(), &state.view.base_url);
        let outcome = apply_patch(&shallow, &rest, &state.view.group_schema)?;
        let current_ids: Vec<String> = current_members
            .iter()
            .flatten()
            .filter_map(|u| u.id.clone())
            .collect();
        let after = if rest_touches_members {
            Some(member_ids(&outcome.resource)?)
        } else {
            None
        };
        let delta = delta.resolve(&current_ids, after.as_deref());
        let attributes_changed =
            outcome.changed && outcome.changed_attributes.iter().any(|a| a != "members");
        // Any write (a member added or removed, a name or attribute changed)
        // is refused for a group that grants admin roles; a PATCH that
        // changes nothing writes nothing and needs no check.
        let what = match (delta.add.is_empty(), delta.remove.is_empty()) {
            (false, _) => Some("add members to it"),
            (true, false) => Some("remove members from it"),
            (true, true) if attributes_changed => Some("change its attributes"),
            (true, true) => None,
        };
        if let Some(what) = what {
            self.ensure_group_writable(realm, existing, what, ahead)
                .await?;
        }
        // Entra's most common group PATCH adds one member. Keycloak's own
        // 404 for an unknown user then leaves nothing applied, so the
        // up-front check (one read per member) is only needed when there is
        // more than one change to keep from half-applying.
        let single_add = delta.add.len() == 1 && delta.remove.is_empty() && !attributes_changed;
        if single_add {
            let hidden = self.service_accounts(realm).await?;
            if let Some(sa) = delta.add.iter().find(|u| hidden.has_id(u)) {
                return Err(unknown_member(sa));
            }
        } else {
            self.check_members(realm, &delta.add).await?;
        }
        // Membership is not part of the group's version: only a change of
        // name or attributes writes the group (and its lastModified).
        if attributes_changed {
            let updated = kc_group_from_scim(&outcome.resource, Some(existing), &now_rfc3339())?;
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
}

pub(super) fn unknown_member(id: &str) -> DirectoryError {
    DirectoryError::Scim(ScimError::invalid_value(format!(
        "member {id:?} is not a user of this realm; nothing was changed"
    )))
}

pub(super) fn check_group_version(
    group: &KcGroup,
    if_match: Option<&str>,
) -> Result<(), DirectoryError> {
    let version = group_version(group);
    if if_match_admits(if_match, &version) {
        Ok(())
    } else {
        Err(DirectoryError::PreconditionFailed { current: version })
    }
}
