//! Protected users and groups: SCIM may read them but not write them —
//! service accounts, users who hold any `realm-management` role, and groups
//! that grant one to their members. "Hold" is Keycloak's own evaluation,
//! asked at the time of each write (nothing cached): composites of realm and
//! client roles expanded at any depth, a user's groups and their ancestors
//! at any depth. For a group, Keycloak's effective roles leave out what its
//! ancestors grant, so each ancestor is asked in turn.
//!
//! Invariant: every write to a user or group asks first, and when the
//! answer cannot be had the write is refused.

use super::{kc_err, KcDirectory};
use crate::directory::DirectoryError;
use crate::keycloak::{KcError, KcGroup, KcRole, RoleHolder};

/// Most ancestors walked above a group; a deeper group is refused.
const MAX_ANCESTORS: usize = 100;

/// The refusal when a realm has no `realm-management` client: who holds
/// admin roles cannot be known, so nothing is written.
fn undeterminable(realm: &str) -> DirectoryError {
    DirectoryError::Forbidden(format!(
        "realm {realm} has no realm-management client, so SCIM cannot tell who holds \
         Keycloak admin roles; writes are refused"
    ))
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
    /// it") when it is a service account or holds any `realm-management`
    /// role. One Admin API call.
    pub(super) async fn ensure_writable(
        &self,
        realm: &str,
        id: &str,
        what: &str,
    ) -> Result<(), DirectoryError> {
        let accounts = self.service_accounts(realm).await?;
        if accounts.ids.contains(&id.to_ascii_lowercase()) || accounts.ids.contains(id) {
            return Err(DirectoryError::Forbidden(format!(
                "User {id} is a service account; SCIM may not {what}"
            )));
        }
        let rm = accounts
            .realm_management
            .as_deref()
            .ok_or_else(|| undeterminable(realm))?;
        let roles = self
            .kc
            .effective_client_roles(realm, RoleHolder::User(id), rm)
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

    /// Refuses a write to `group` (its members or its attributes; `what`
    /// names it) when it or any of its ancestors grants a
    /// `realm-management` role. One Admin API call, plus two per ancestor.
    pub(super) async fn ensure_group_writable(
        &self,
        realm: &str,
        group: &KcGroup,
        what: &str,
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
            let roles = self
                .kc
                .effective_client_roles(realm, RoleHolder::Group(&holder), &rm)
                .await
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

#[cfg(test)]
mod tests {
    use super::{first_admin_role, undeterminable};
    use crate::directory::DirectoryError;
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
    fn a_realm_without_realm_management_refuses_writes() {
        match undeterminable("demo") {
            DirectoryError::Forbidden(detail) => assert!(detail.contains("realm demo"), "{detail}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
