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

/// Realm names the sidecar accepts: they become URL path segments and
/// attribute names, so keep them to Keycloak's common, URL-safe subset.
pub fn validate_realm_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok && name != "." && name != ".." {
        Ok(())
    } else {
        Err(format!(
            "realm name {name:?} must be 1-64 characters of letters, digits, '-', '_' or '.'"
        ))
    }
}
