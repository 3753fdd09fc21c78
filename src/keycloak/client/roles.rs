//! Roles of a realm or of one client: listing, and the roles of one client
//! a user or group holds effectively.
//!
//! Invariant: every path here is built by [`roles_path`] or
//! [`role_mappings_path`].

use super::{realm_path, KcAdmin};
use crate::keycloak::{KcError, KcRole};

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

/// Whose role mappings: a user's or a group's (by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleHolder<'a> {
    /// `…/users/{id}`.
    User(&'a str),
    /// `…/groups/{id}`.
    Group(&'a str),
}

/// `admin/realms/{realm}/{users|groups}/{id}/role-mappings/clients/{client}/composite`.
fn role_mappings_path<'a>(realm: &'a str, holder: RoleHolder<'a>, client: &'a str) -> Vec<&'a str> {
    let (kind, id) = match holder {
        RoleHolder::User(id) => ("users", id),
        RoleHolder::Group(id) => ("groups", id),
    };
    realm_path(
        realm,
        &[kind, id, "role-mappings", "clients", client, "composite"],
    )
}

impl KcAdmin {
    /// One realm role by name; `None` when the realm has no such role.
    pub async fn realm_role(&self, realm: &str, name: &str) -> Result<Option<KcRole>, KcError> {
        self.get_optional(&roles_path(realm, RoleScope::Realm, &[name]))
            .await
    }

    /// Creates a realm role (name and description).
    pub async fn create_realm_role(&self, realm: &str, role: &KcRole) -> Result<(), KcError> {
        self.write(
            reqwest::Method::POST,
            &roles_path(realm, RoleScope::Realm, &[]),
            Some(role),
        )
        .await
    }

    /// The roles realm role `name` includes directly (its composites).
    pub async fn realm_role_composites(
        &self,
        realm: &str,
        name: &str,
    ) -> Result<Vec<KcRole>, KcError> {
        self.get_json(
            &roles_path(realm, RoleScope::Realm, &[name, "composites"]),
            &[],
        )
        .await
    }

    /// Makes realm role `name` include `roles` too (a composite).
    pub async fn add_realm_role_composites(
        &self,
        realm: &str,
        name: &str,
        roles: &[KcRole],
    ) -> Result<(), KcError> {
        self.write(
            reqwest::Method::POST,
            &roles_path(realm, RoleScope::Realm, &[name, "composites"]),
            Some(&roles),
        )
        .await
    }

    /// The realm roles user `user` has as Keycloak evaluates them: direct
    /// mappings, composites expanded, and the mappings of the user's groups
    /// and their ancestors (`…/role-mappings/realm/composite`).
    pub async fn effective_realm_roles(
        &self,
        realm: &str,
        user: &str,
    ) -> Result<Vec<KcRole>, KcError> {
        self.get_json(
            &realm_path(
                realm,
                &["users", user, "role-mappings", "realm", "composite"],
            ),
            &[("briefRepresentation", "true".to_owned())],
        )
        .await
    }

    /// The roles of the realm or of a client (full representations).
    pub async fn roles(&self, realm: &str, scope: RoleScope<'_>) -> Result<Vec<KcRole>, KcError> {
        self.get_json(
            &roles_path(realm, scope, &[]),
            &[("briefRepresentation", "false".to_owned())],
        )
        .await
    }

    /// The roles of `client` that `holder` has as Keycloak evaluates them:
    /// its own mappings with their composites expanded and, for a user, the
    /// mappings of its groups and of their ancestors. For a group Keycloak
    /// leaves out the roles of its ancestors (pinned by
    /// `tests/protection.rs`).
    pub async fn effective_client_roles(
        &self,
        realm: &str,
        holder: RoleHolder<'_>,
        client: &str,
    ) -> Result<Vec<KcRole>, KcError> {
        self.get_json(
            &role_mappings_path(realm, holder, client),
            &[("briefRepresentation", "true".to_owned())],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::{role_mappings_path, roles_path, RoleHolder, RoleScope};

    #[test]
    fn role_mappings_path_of_a_user_and_of_a_group() {
        assert_eq!(
            role_mappings_path("demo", RoleHolder::User("u1"), "c1"),
            [
                "admin",
                "realms",
                "demo",
                "users",
                "u1",
                "role-mappings",
                "clients",
                "c1",
                "composite"
            ]
        );
        assert_eq!(
            role_mappings_path("demo", RoleHolder::Group("g1"), "c1"),
            [
                "admin",
                "realms",
                "demo",
                "groups",
                "g1",
                "role-mappings",
                "clients",
                "c1",
                "composite"
            ]
        );
    }

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
