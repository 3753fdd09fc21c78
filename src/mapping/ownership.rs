//! Which Keycloak users SCIM may write: those it created (they carry the
//! [`OWNER_ATTRIBUTE`] marker) and, when the realm allows adoption, local
//! users on their first SCIM write. Users from a user-storage provider
//! (LDAP, Kerberos) or linked to an identity provider are never written.
//! And what a SCIM write does to `emailVerified`.
//!
//! Invariant: pure; the decision needs the user and whether it has
//! identity-provider links, nothing else.

use crate::keycloak::KcUser;

/// User attribute marking a user SCIM created or adopted (`"true"`).
pub const OWNER_ATTRIBUTE: &str = "scimProvisioned";

/// Whether SCIM may write a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// SCIM created or adopted it.
    Owned,
    /// A local user SCIM did not create: adopted by the write.
    Adopted,
    /// Not SCIM's to write; the reason, for the 403.
    Foreign(&'static str),
}

/// Whether the user carries SCIM's marker.
#[must_use]
pub fn is_owned(user: &KcUser) -> bool {
    user.attribute(OWNER_ATTRIBUTE) == Some("true")
}

/// Whether the user comes from a user-storage provider (LDAP, Kerberos).
#[must_use]
pub fn is_federated(user: &KcUser) -> bool {
    user.extra
        .get("federationLink")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|l| !l.is_empty())
}

/// The ownership of `user`; `idp_linked` says whether it has links to an
/// identity provider (asked of Keycloak only for users without the marker).
#[must_use]
pub fn ownership(user: &KcUser, adopt: bool, idp_linked: bool) -> Ownership {
    if is_federated(user) {
        // Even with the marker: the provider owns the attributes.
        return Ownership::Foreign("comes from a user-storage provider (LDAP or Kerberos)");
    }
    if is_owned(user) {
        return Ownership::Owned;
    }
    if idp_linked {
        return Ownership::Foreign("is linked to an identity provider");
    }
    if !adopt {
        return Ownership::Foreign(
            "was not created by SCIM and the realm does not adopt existing users",
        );
    }
    Ownership::Adopted
}

/// `emailVerified` after a SCIM write: kept when the email did not change
/// (ignoring case, as Keycloak does), else what the realm trusts. A new user
/// starts verified only when the realm trusts the source's emails.
#[must_use]
pub fn email_verified_after(existing: Option<&KcUser>, updated: &KcUser, trust: bool) -> bool {
    let email = |u: &KcUser| u.email.as_deref().unwrap_or_default().to_lowercase();
    match existing {
        Some(before) if email(before) == email(updated) => before.email_verified.unwrap_or(false),
        _ => trust && !email(updated).is_empty(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn user(attrs: &[(&str, &str)], link: Option<&str>) -> KcUser {
        let mut u = KcUser {
            attributes: Some(
                attrs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), vec![(*v).to_owned()]))
                    .collect(),
            ),
            ..KcUser::default()
        };
        if let Some(l) = link {
            u.extra.insert("federationLink".to_owned(), json!(l));
        }
        u
    }

    #[test]
    fn who_scim_may_write() {
        let owned = user(&[(OWNER_ATTRIBUTE, "true")], None);
        let local = user(&[], None);
        let ldap = user(&[(OWNER_ATTRIBUTE, "true")], Some("ldap-1"));
        let cases = [
            (&owned, true, false, Ownership::Owned),
            (&owned, false, true, Ownership::Owned),
            (&local, true, false, Ownership::Adopted),
            (
                &local,
                false,
                false,
                Ownership::Foreign(
                    "was not created by SCIM and the realm does not adopt existing users",
                ),
            ),
            (
                &local,
                true,
                true,
                Ownership::Foreign("is linked to an identity provider"),
            ),
            (
                &ldap,
                true,
                false,
                Ownership::Foreign("comes from a user-storage provider (LDAP or Kerberos)"),
            ),
        ];
        for (u, adopt, idp, expected) in cases {
            assert_eq!(ownership(u, adopt, idp), expected, "{u:?} {adopt} {idp}");
        }
    }

    #[test]
    fn a_changed_email_is_unverified_unless_trusted() {
        let mail = |e: &str, v: Option<bool>| KcUser {
            email: Some(e.to_owned()),
            email_verified: v,
            ..KcUser::default()
        };
        let verified = mail("a@x.org", Some(true));
        let cases = [
            (Some(&verified), mail("A@X.org", None), false, true),
            (Some(&verified), mail("b@x.org", None), false, false),
            (Some(&verified), mail("b@x.org", None), true, true),
            (None, mail("b@x.org", None), false, false),
            (None, mail("b@x.org", None), true, true),
            (None, mail("", None), true, false),
        ];
        for (before, after, trust, expected) in cases {
            assert_eq!(
                email_verified_after(before, &after, trust),
                expected,
                "{before:?} {after:?} {trust}"
            );
        }
    }
}
