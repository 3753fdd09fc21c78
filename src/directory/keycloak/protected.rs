//! Protected users and groups: SCIM may read them but not write them —
//! service accounts, users who hold any `realm-management` role, and groups
//! that grant one to their members. "Hold" is Keycloak's own evaluation,
//! asked at the time of each write (nothing cached): composites of realm and
//! client roles expanded at any depth, a user's groups and their ancestors
//! at any depth. For a group, Keycloak's effective roles leave out what its
//! ancestors grant, so each ancestor is asked in turn. A delete takes the
//! group's subgroups with it, so it asks of each of them too.
//!
//! Invariant: every write to a user or group asks first, and when the
//! answer cannot be had the write is refused.

use super::{kc_err, may_be_an_id, KcDirectory};
use crate::directory::DirectoryError;
use crate::keycloak::{GroupQuery, KcError, KcGroup, KcRole, RoleHolder};

/// Most ancestors walked above a group; a deeper group is refused.
const MAX_ANCESTORS: usize = 100;
/// Most subgroups checked below a group being deleted; more are refused.
const MAX_DESCENDANTS: usize = 1_000;
/// Subgroups are listed this many at a time.
const CHILDREN_PAGE: usize = 100;

/// Whether Keycloak says `group` has subgroups (when it does not say, the
/// children are listed to find out).
fn may_have_subgroups(group: &KcGroup) -> bool {
    group
        .extra
        .get("subGroupCount")
        .and_then(serde_json::Value::as_u64)
        .is_none_or(|n| n > 0)
}

/// The refusal when a realm has no `realm-management` client: who holds
/// admin roles cannot be known, so nothing is written.
fn undeterminable(realm: &str) -> DirectoryError {
    DirectoryError::Forbidden(format!(
        "realm {realm} has no realm-management client, so SCIM cannot tell who holds \
         Keycloak admin roles; writes are refused"
    ))
}

/// A group's own effective `realm-management` roles, asked beside its read
/// ([`KcDirectory::fetch_group_for_write`]) so that the read and the first
/// step of [`KcDirectory::ensure_group_writable`] cost one round trip.
pub(super) struct RolesAhead {
    group: String,
    answer: Result<Vec<KcRole>, KcError>,
}

/// The first admin role of an effective-roles answer, if any.
fn first_admin_role(roles: &[KcRole]) -> Option<&str> {
    roles.first().map(|r| r.name.as_str())
}

impl KcDirectory {
    /// The id of the realm's `realm-management` client.
    async fn management_client(&self, realm: &str) -> Result<String, DirectoryError> {
        self.service_accounts(realm)
            .await?
            .realm_management
            .clone()
            .ok_or_else(|| undeterminable(realm))
    }

    /// Refuses a write to user `id` (`what` names it: "change it", "delete
    /// it") when it holds any `realm-management` role. One Admin API call.
    /// Service accounts are refused by the read this runs beside
    /// ([`KcDirectory::fetch_user`], whose answer counts first): unknown.
    pub(super) async fn ensure_writable(
        &self,
        realm: &str,
        id: &str,
        what: &str,
    ) -> Result<(), DirectoryError> {
        let rm = self.management_client(realm).await?;
        let roles = self
            .kc
            .effective_client_roles(realm, RoleHolder::User(id), &rm)
            .await
            .map_err(|e| match e {
                KcError::NotFound(_) => DirectoryError::NotFound(format!("User {id} not found")),
                other => DirectoryError::from_kc(other, "admin roles of the user"),
            })?;
        match first_admin_role(&roles) {
            None => Ok(()),
            Some(role) => Err(DirectoryError::Forbidden(format!(
                "User {id} holds the Keycloak admin role {role} and is read-only to SCIM; \
                 SCIM may not {what}"
            ))),
        }
    }

    /// Group `id` read for a write that will be checked, with its own
    /// effective admin roles asked at the same time (`None` when they could
    /// not be asked: the check then asks itself). The group's read answers
    /// first: an unknown group is 404 whatever the roles call says.
    pub(super) async fn fetch_group_for_write(
        &self,
        realm: &str,
        state: &super::realm_state::RealmState,
        id: &str,
    ) -> Result<(KcGroup, Option<RolesAhead>), DirectoryError> {
        let ask = async {
            // The ids `fetch_group` refuses without a call get none here.
            if !may_be_an_id(id) {
                return None;
            }
            let rm = self.management_client(realm).await.ok()?;
            let answer = self
                .kc
                .effective_client_roles(realm, RoleHolder::Group(id), &rm)
                .await;
            Some(RolesAhead {
                group: id.to_owned(),
                answer,
            })
        };
        let (group, ahead) = futures::join!(self.fetch_group(realm, state, id), ask);
        Ok((group?, ahead))
    }

    /// Refuses a write to `group` (its members or its attributes; `what`
    /// names it) when it or any of its ancestors grants a
    /// `realm-management` role. One Admin API call, plus two per ancestor;
    /// the first is saved when `ahead` holds the group's own answer.
    pub(super) async fn ensure_group_writable(
        &self,
        realm: &str,
        group: &KcGroup,
        what: &str,
        mut ahead: Option<RolesAhead>,
    ) -> Result<(), DirectoryError> {
        let rm = self.management_client(realm).await?;
        let id = group.id.as_deref().unwrap_or_default();
        let refused = |role: &str, from: &str| {
            let via = if from == id {
                String::new()
            } else {
                format!(" through its ancestor group {from}")
            };
            DirectoryError::Forbidden(format!(
                "Group {id} grants the Keycloak admin role {role}{via}; SCIM may not {what}"
            ))
        };
        let err = kc_err("admin roles of the group");
        let mut holder = id.to_owned();
        let mut parent = group.parent_id.clone();
        for _ in 0..=MAX_ANCESTORS {
            let asked = ahead.take().filter(|a| a.group == holder);
            let roles = match asked {
                Some(a) => a.answer,
                None => {
                    self.kc
                        .effective_client_roles(realm, RoleHolder::Group(&holder), &rm)
                        .await
                }
            }
            .map_err(&err)?;
            if let Some(role) = first_admin_role(&roles) {
                return Err(refused(role, &holder));
            }
            let Some(up) = parent.take() else {
                return Ok(());
            };
            // A parent deleted meanwhile took this group with it.
            let above = self
                .kc
                .get_group(realm, &up)
                .await
                .map_err(&err)?
                .ok_or_else(|| DirectoryError::NotFound(format!("Group {id} not found")))?;
            parent = above.parent_id;
            holder = up;
        }
        Err(DirectoryError::Forbidden(format!(
            "Group {id} lies more than {MAX_ANCESTORS} levels deep; SCIM cannot tell whether it \
             grants Keycloak admin roles and may not {what}"
        )))
    }
}

impl KcDirectory {
    /// Refuses the delete of `group` when any of its subgroups, at any
    /// depth, grants a `realm-management` role itself (what the group and
    /// its ancestors grant is [`Self::ensure_group_writable`]'s). No call
    /// when Keycloak reports no subgroups; else one per subgroup plus one
    /// per page of children.
    pub(super) async fn ensure_subgroups_deletable(
        &self,
        realm: &str,
        group: &KcGroup,
    ) -> Result<(), DirectoryError> {
        if !may_have_subgroups(group) {
            return Ok(());
        }
        let rm = self.management_client(realm).await?;
        let id = group.id.as_deref().unwrap_or_default();
        let err = kc_err("subgroups of the group");
        let mut pending = vec![id.to_owned()];
        let mut seen = 0usize;
        while let Some(parent) = pending.pop() {
            let mut first = 0;
            loop {
                let query = GroupQuery {
                    first,
                    max: CHILDREN_PAGE,
                    ..GroupQuery::default()
                };
                let children = self
                    .kc
                    .find_groups(realm, Some(&parent), &query)
                    .await
                    .map_err(&err)?;
                let short = children.len() < CHILDREN_PAGE;
                first += children.len();
                for child in children {
                    seen += 1;
                    if seen > MAX_DESCENDANTS {
                        return Err(DirectoryError::Forbidden(format!(
                            "Group {id} has more than {MAX_DESCENDANTS} subgroups; SCIM cannot \
                             tell whether deleting them removes Keycloak admin roles and may \
                             not delete it"
                        )));
                    }
                    let Some(child_id) = child.id.clone() else {
                        continue;
                    };
                    let roles = self
                        .kc
                        .effective_client_roles(realm, RoleHolder::Group(&child_id), &rm)
                        .await
                        .map_err(&err)?;
                    if let Some(role) = first_admin_role(&roles) {
                        return Err(DirectoryError::Forbidden(format!(
                            "Group {id} has a subgroup {child_id} that grants the Keycloak admin \
                             role {role}; SCIM may not delete it"
                        )));
                    }
                    if may_have_subgroups(&child) {
                        pending.push(child_id);
                    }
                }
                if short {
                    break;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{first_admin_role, may_have_subgroups, undeterminable};
    use crate::directory::DirectoryError;
    use crate::keycloak::KcGroup;
    use crate::keycloak::KcRole;

    #[test]
    fn any_realm_management_role_counts_as_admin() {
        assert_eq!(first_admin_role(&[]), None);
        let roles = [KcRole {
            name: "view-users".to_owned(),
            ..KcRole::default()
        }];
        assert_eq!(first_admin_role(&roles), Some("view-users"));
    }

    #[test]
    fn only_a_reported_zero_skips_the_subgroup_walk() {
        let with = |count: serde_json::Value| {
            let mut g = KcGroup::default();
            g.extra.insert("subGroupCount".to_owned(), count);
            g
        };
        assert!(!may_have_subgroups(&with(serde_json::json!(0))));
        assert!(may_have_subgroups(&with(serde_json::json!(2))));
        assert!(may_have_subgroups(&KcGroup::default()));
        assert!(may_have_subgroups(&with(serde_json::json!("?"))));
    }

    #[test]
    fn a_realm_without_realm_management_refuses_writes() {
        match undeterminable("demo") {
            DirectoryError::Forbidden(detail) => assert!(detail.contains("realm demo"), "{detail}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
