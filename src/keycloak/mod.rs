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

pub use client::{
    outbound_client, CallStats, GroupQuery, KcAdmin, KcAdminOptions, RoleHolder, RoleScope,
    UserQuery,
};
pub use error::{KcError, KcFieldError};
pub use token::AdminGrant;
pub use types::{
    is_service_account_name, KcClient, KcGroup, KcProtocolMapper, KcRealm, KcRole, KcUser,
    SERVICE_ACCOUNT_PREFIX,
};
