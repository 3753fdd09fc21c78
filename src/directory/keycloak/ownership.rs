//! The ownership check of user writes: SCIM writes users it created, and
//! adopts local users when the realm allows it (see
//! [`crate::mapping::ownership`]).
//!
//! Invariant: a user without SCIM's marker costs one more Admin API call
//! (its identity-provider links) before its first SCIM write; an owned user
//! costs nothing more; a failure to tell refuses the write.

use super::{kc_err, KcDirectory};
use crate::directory::DirectoryError;
use crate::keycloak::KcUser;
use crate::mapping::ownership::{is_federated, is_owned, ownership, Ownership};
use crate::mapping::RealmScimSettings;

impl KcDirectory {
    /// Refuses a write to `user` that SCIM does not own and may not adopt.
    pub(super) async fn ensure_owned(
        &self,
        realm: &str,
        settings: &RealmScimSettings,
        user: &KcUser,
    ) -> Result<(), DirectoryError> {
        let id = user.id.as_deref().unwrap_or_default();
        let idp_linked = if is_owned(user) || is_federated(user) {
            false
        } else {
            self.kc
                .has_identity_provider_links(realm, id)
                .await
                .map_err(kc_err("User"))?
        };
        match ownership(user, settings.adopt, idp_linked) {
            Ownership::Owned => Ok(()),
            Ownership::Adopted => {
                tracing::info!(realm, user = id, "adopting a user SCIM did not create");
                Ok(())
            }
            Ownership::Foreign(reason) => Err(DirectoryError::Forbidden(format!(
                "User {id} {reason}; SCIM does not write it"
            ))),
        }
    }
}
