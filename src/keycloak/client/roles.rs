//! Roles of a realm or of one client: listing, the users and groups that
//! hold a role directly, and the client roles a realm role includes.
//!
//! Invariant: every path here is built by [`roles_path`].

use super::{realm_path, KcAdmin};
use crate::keycloak::{KcError, KcGroup, KcRole, KcUser};

/// Whose roles: the realm's, or those of one client (by internal id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleScope<'a> {
    /// `…/roles`.
    Realm,
    /// `…/clients/{id}/roles`.
    Client(&'a str),
}

/// `admin/realms/{realm}/roles/{tail…}` or
/// `admin/realms/{realm}/clients/{client}/roles/{tail…}`.
fn roles_path<'a>(realm: &'a str, scope: RoleScope<'a>, tail: &[&'a str]) -> Vec<&'a str> {
    let mut segments = match scope {
        RoleScope::Realm => realm_path(realm, &["roles"]),
        RoleScope::Client(client) => realm_path(realm, &["clients", client, "roles"]),
    };
    segments.extend_from_slice(tail);
    segments
}

fn page(first: usize, max: usize) -> [(&'static str, String); 2] {
    [("first", first.to_string()), ("max", max.to_string())]
}

impl KcAdmin {
    /// The roles of the realm or of a client (full representations).
    pub async fn roles(&self, realm: &str, scope: RoleScope<'_>) -> Result<Vec<KcRole>, KcError> {
        self.get_json(
            &roles_path(realm, scope, &[]),
            &[("briefRepresentation", "false".to_owned())],
        )
        .await
    }

    /// The roles of `client` that the realm role `role` includes.
    pub async fn role_client_composites(
        &self,
        realm: &str,
        role: &str,
        client: &str,
    ) -> Result<Vec<KcRole>, KcError> {
        self.get_json(
            &roles_path(
                realm,
                RoleScope::Realm,
                &[role, "composites", "clients", client],
            ),
            &[],
        )
        .await
    }

    /// A page of the users holding `role` directly.
    pub async fn role_users(
        &self,
        realm: &str,
        scope: RoleScope<'_>,
        role: &str,
        first: usize,
        max: usize,
    ) -> Result<Vec<KcUser>, KcError> {
        self.get_json(
            &roles_path(realm, scope, &[role, "users"]),
            &page(first, max),
        )
        .await
    }

    /// A page of the groups holding `role` directly.
    pub async fn role_groups(
        &self,
        realm: &str,
        scope: RoleScope<'_>,
        role: &str,
        first: usize,
        max: usize,
    ) -> Result<Vec<KcGroup>, KcError> {
        self.get_json(
            &roles_path(realm, scope, &[role, "groups"]),
            &page(first, max),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::{roles_path, RoleScope};

    #[test]
    fn roles_path_of_the_realm_and_of_a_client() {
        assert_eq!(
            roles_path("demo", RoleScope::Realm, &["admin", "users"]),
            ["admin", "realms", "demo", "roles", "admin", "users"]
        );
        assert_eq!(
            roles_path("demo", RoleScope::Client("c1"), &["manage-users", "groups"]),
            [
                "admin",
                "realms",
                "demo",
                "clients",
                "c1",
                "roles",
                "manage-users",
                "groups"
            ]
        );
    }
}
