//! SCIM ⇄ Keycloak translation: the attribute-mapping table (read from the
//! `scim-endpoint` client's user-attribute mappers) and the pure functions that
//! turn one side's representation into the other's.
//!
//! Invariant: pure. No HTTP, no async; everything here is table-tested.

pub mod fidelity;
pub mod group;
pub mod mappers;
pub mod ownership;
pub mod pushdown;
pub mod user;
pub mod settings;
pub mod version;

pub use mappers::{MapperRule, MapperTable, DEFAULT_MAPPERS, SCIM_CLIENT_ID};
pub use pushdown::{plan_group_lookup, plan_user_lookup, GroupLookup, UserLookup};
pub use settings::{
    admin_page_path, reserved_realm, Onboarding, Profile, RealmScimSettings, StoredToken,
    CONSOLE_CLIENT_ID, SCIM_ADMIN_ROLE,
};
pub use user::UserMapping;

/// Keycloak attribute holding the SCIM `externalId`.
pub const EXTERNAL_ID_ATTRIBUTE: &str = "externalId";
/// Keycloak attribute holding the SCIM `displayName`.
pub const DISPLAY_NAME_ATTRIBUTE: &str = "displayName";
/// Keycloak attribute holding `meta.lastModified`, written on every SCIM write.
pub const LAST_MODIFIED_ATTRIBUTE: &str = "scimLastModified";
/// Group attribute holding `meta.created`, written when SCIM creates the
/// group (Keycloak keeps no creation time for groups).
pub const GROUP_CREATED_ATTRIBUTE: &str = "scimCreated";
/// Multivalued attribute holding every SCIM email value, lowercased, so that
/// Keycloak's search finds a user by a secondary email too.
pub const EMAIL_VALUES_ATTRIBUTE: &str = "scimEmailValues";
/// Attributes Keycloak's user profile always has; never declared by us.
pub const BUILT_IN_ATTRIBUTES: [&str; 4] = ["username", "email", "firstName", "lastName"];

/// The user-profile attributes SCIM needs declared for `table`: every mapped
/// attribute, the core ones kept in attributes and those of full fidelity
/// ([`fidelity::declared`]), built-ins excluded, in a stable order without
/// repeats.
#[must_use]
pub fn declared_attributes(table: &MapperTable) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let core = [
        EXTERNAL_ID_ATTRIBUTE,
        DISPLAY_NAME_ATTRIBUTE,
        LAST_MODIFIED_ATTRIBUTE,
        ownership::OWNER_ATTRIBUTE,
    ];
    let stored = fidelity::declared().map(|d| d.name);
    for name in table.user_attributes().chain(core).chain(stored) {
        if !BUILT_IN_ATTRIBUTES.contains(&name) && !out.iter().any(|n| n == name) {
            out.push(name.to_owned());
        }
    }
    out
}
