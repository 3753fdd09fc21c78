//! Keycloak Admin REST client: URLs, the JSON representations we use (`Kc*`,
//! only the fields we read or write, everything else carried through
//! untouched), the admin token (cached until shortly before expiry, refreshed
//! single-flight), and Keycloak's error bodies as typed errors.
//!
//! Invariant: this module knows nothing of SCIM; it speaks Keycloak only.

mod client;
mod error;
mod token;
mod types;

pub use client::{outbound_client, CallStats, GroupQuery, KcAdmin, UserQuery};
pub use error::{KcError, KcFieldError};
pub use types::{KcClient, KcGroup, KcProtocolMapper, KcRealm, KcUser};

/// Realm names the sidecar accepts (see `crate::realm::RealmName`).
pub fn validate_realm_name(name: &str) -> Result<(), String> {
    crate::realm::RealmName::parse(name)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
