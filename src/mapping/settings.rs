//! Per-realm SCIM settings (the product guide's "Integrations → SCIM" screen),
//! stored as attributes of the realm's `scim-endpoint` client so that the
//! sidecar keeps no state of its own: enabled, profile, Azure tenant id and
//! the hashes of static bearer tokens.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Client attribute: `"true"` / `"false"`.
pub const ATTR_ENABLED: &str = "kcscim.enabled";
/// Client attribute: `generic` or `azure`.
pub const ATTR_PROFILE: &str = "kcscim.profile";
/// Client attribute: the Entra tenant id (profile `azure`).
pub const ATTR_TENANT_ID: &str = "kcscim.tenantId";
/// Client attribute: path of the group SCIM groups are created under.
pub const ATTR_GROUP_PARENT: &str = "kcscim.groupParent";
/// Client attribute: when the mass-deprovision breaker tripped (RFC 3339).
pub const ATTR_BREAKER_TRIPPED: &str = "kcscim.deprovisionBreakerTrippedAt";
/// Client attribute: `allow` / `deny` adoption of users SCIM did not create.
pub const ATTR_ADOPT: &str = "kcscim.adopt";
/// Client attribute: `"true"` when the provisioning source's emails count
/// as verified.
pub const ATTR_TRUST_EMAILS: &str = "kcscim.trustEmails";
/// Client attribute: `email` / `none`, whether SCIM-created users are
/// emailed a link to register a passkey.
pub const ATTR_ONBOARDING: &str = "kcscim.onboarding";
/// Client attribute: JSON array of [`StoredToken`].
pub const ATTR_TOKENS: &str = "kcscim.tokens";

/// Keycloak's administration realm: never set up for SCIM nor served.
pub const MASTER_REALM: &str = "master";

/// The public OIDC client the admin page ("Integrations → SCIM")
/// signs admins in with: authorization code with PKCE, no secret.
pub const CONSOLE_CLIENT_ID: &str = "scim-admin-console";

/// The realm role that lets a user manage the realm's SCIM on the admin
/// page (as does `realm-management/manage-realm`).
pub const SCIM_ADMIN_ROLE: &str = "scim-admin";

/// The admin page of `realm` below a public base URL: `/realms/{realm}/scim/admin/`.
#[must_use]
pub fn admin_page_path(realm: &str) -> String {
    format!("/realms/{realm}/scim/admin/")
}
/// Why `realm` may never carry SCIM (bootstrap, `realm set`) nor be served:
/// it is `master`, where no `realm-management` client guards the Keycloak
/// superuser, or `admin_realm`, where the sidecar's own admin account lives.
/// `None` for every other realm. Compared without regard to ASCII case, in
/// case the database Keycloak runs on compares names that way.
#[must_use]
pub fn reserved_realm(realm: &str, admin_realm: &str) -> Option<String> {
    if realm.eq_ignore_ascii_case(MASTER_REALM) {
        Some(format!(
            "realm {realm:?} is Keycloak's master realm: kc-scim never sets it up or serves it \
             (its users include the Keycloak superuser); use a realm of its own for SCIM"
        ))
    } else if realm.eq_ignore_ascii_case(admin_realm) {
        Some(format!(
            "realm {realm:?} holds kc-scim's own admin credentials (keycloak.admin_realm): \
             kc-scim never sets it up or serves it; use another realm for SCIM"
        ))
    } else {
        None
    }
}

/// Which caller the realm expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Any SCIM client; static tokens and Keycloak client-credentials tokens.
    #[default]
    Generic,
    /// Microsoft Entra ID; additionally Entra-issued JWTs of the tenant.
    Azure,
}

impl Profile {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Azure => "azure",
        }
    }

    /// Parses a stored or typed spelling (case-insensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "generic" => Some(Self::Generic),
            "azure" | "entra" => Some(Self::Azure),
            _ => None,
        }
    }
}

/// What happens when SCIM creates (or re-enables) a user who cannot sign in yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Onboarding {
    /// Nothing: an admin hands out sign-in some other way.
    #[default]
    None,
    /// Keycloak emails the user a link that registers a passkey.
    Email,
}

impl Onboarding {
    /// The stored spelling.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Email => "email",
        }
    }

    /// Parses a stored or typed spelling (case-insensitive).
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "none" => Some(Self::None),
            "email" => Some(Self::Email),
            _ => None,
        }
    }
}

/// A static bearer token as stored: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredToken {
    /// Public id, used to list and revoke.
    pub id: String,
    /// SHA-256 of the secret, hex.
    pub sha256: String,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Expiry, RFC 3339, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl StoredToken {
    /// Whether the token may still be used at `now`: it has no expiry, or an
    /// expiry after `now`. An expiry that does not parse as RFC 3339 counts
    /// as passed (a token nobody can date is not honoured).
    #[must_use]
    pub fn is_active(&self, now: chrono::DateTime<chrono::Utc>) -> bool {
        self.expires.as_deref().is_none_or(|e| {
            chrono::DateTime::parse_from_rfc3339(e)
                .is_ok_and(|t| t.with_timezone(&chrono::Utc) > now)
        })
    }
}

/// The settings of one realm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RealmScimSettings {
    /// The realm is served. Read from `kcscim.enabled`: only `"true"` turns
    /// it on, a missing attribute means off (a `scim-endpoint` client that
    /// kc-scim did not set up is never served).
    pub enabled: bool,
    /// Caller profile.
    pub profile: Profile,
    /// Entra tenant id, for profile `azure`.
    pub tenant_id: Option<String>,
    /// Active static tokens.
    pub tokens: Vec<StoredToken>,
    /// Path of the group SCIM groups live under (`None`: top level).
    pub group_parent: Option<String>,
    /// When the mass-deprovision breaker tripped; disables and deletes are
    /// refused while this is set.
    pub breaker_tripped_at: Option<String>,
    /// Whether a local user SCIM did not create is taken over on its first
    /// SCIM write (`true`, the default) or refused with 403.
    pub adopt: bool,
    /// Whether an email set by SCIM counts as verified (default: no, a
    /// changed email is unverified until the user proves it).
    pub trust_emails: bool,
    /// Whether new and re-enabled users get the passkey onboarding email.
    pub onboarding: Onboarding,
}

/// The settings bootstrap writes for a new realm (enabled, generic).
impl Default for RealmScimSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            profile: Profile::Generic,
            tenant_id: None,
            tokens: Vec::new(),
            group_parent: None,
            breaker_tripped_at: None,
            adopt: true,
            trust_emails: false,
            onboarding: Onboarding::None,
        }
    }
}

impl RealmScimSettings {
    /// Reads the settings from client attributes; absent keys take defaults
    /// except `kcscim.enabled`, whose absence means off; unreadable values
    /// are reported.
    pub fn from_attributes(attrs: &BTreeMap<String, String>) -> Result<Self, String> {
        let defaults = Self::default();
        let enabled = match attrs.get(ATTR_ENABLED).map(String::as_str) {
            // Absent: a client kc-scim did not set up is not served.
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => return Err(format!("{ATTR_ENABLED} = {other:?}")),
        };
        let profile = match attrs.get(ATTR_PROFILE) {
            None => defaults.profile,
            Some(p) => Profile::parse(p).ok_or_else(|| format!("{ATTR_PROFILE} = {p:?}"))?,
        };
        let tenant_id = attrs.get(ATTR_TENANT_ID).filter(|t| !t.is_empty()).cloned();
        let tokens = match attrs.get(ATTR_TOKENS) {
            None => Vec::new(),
            Some(json) if json.is_empty() => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|e| format!("{ATTR_TOKENS}: {e}"))?,
        };
        let group_parent = attrs
            .get(ATTR_GROUP_PARENT)
            .map(|p| p.trim().trim_end_matches('/').to_owned())
            .filter(|p| !p.is_empty());
        let breaker_tripped_at = attrs
            .get(ATTR_BREAKER_TRIPPED)
            .filter(|t| !t.is_empty())
            .cloned();
        let adopt = match attrs.get(ATTR_ADOPT).map(String::as_str) {
            None | Some("" | "allow") => true,
            Some("deny") => false,
            Some(other) => return Err(format!("{ATTR_ADOPT} = {other:?}")),
        };
        let trust_emails = match attrs.get(ATTR_TRUST_EMAILS).map(String::as_str) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(other) => return Err(format!("{ATTR_TRUST_EMAILS} = {other:?}")),
        };
        let onboarding = match attrs.get(ATTR_ONBOARDING) {
            None => Onboarding::None,
            Some(v) => Onboarding::parse(v).ok_or_else(|| format!("{ATTR_ONBOARDING} = {v:?}"))?,
        };
        Ok(Self {
            enabled,
            profile,
            tenant_id,
            tokens,
            group_parent,
            breaker_tripped_at,
            adopt,
            trust_emails,
            onboarding,
        })
    }

    /// Writes the settings into client attributes (other attributes kept).
    /// An unset value is written as `""`: Keycloak's client update keeps
    /// attributes the representation leaves out, so absence cannot clear one.
    pub fn write_attributes(&self, attrs: &mut BTreeMap<String, String>) {
        attrs.insert(ATTR_ENABLED.to_owned(), self.enabled.to_string());
        attrs.insert(ATTR_PROFILE.to_owned(), self.profile.as_str().to_owned());
        match &self.tenant_id {
            Some(t) => attrs.insert(ATTR_TENANT_ID.to_owned(), t.clone()),
            None => attrs.insert(ATTR_TENANT_ID.to_owned(), String::new()),
        };
        match &self.breaker_tripped_at {
            Some(t) => attrs.insert(ATTR_BREAKER_TRIPPED.to_owned(), t.clone()),
            None => attrs.insert(ATTR_BREAKER_TRIPPED.to_owned(), String::new()),
        };
        match &self.group_parent {
            Some(p) => attrs.insert(ATTR_GROUP_PARENT.to_owned(), p.clone()),
            None => attrs.insert(ATTR_GROUP_PARENT.to_owned(), String::new()),
        };
        let adopt = if self.adopt { "allow" } else { "deny" };
        attrs.insert(ATTR_ADOPT.to_owned(), adopt.to_owned());
        attrs.insert(ATTR_TRUST_EMAILS.to_owned(), self.trust_emails.to_string());
        attrs.insert(
            ATTR_ONBOARDING.to_owned(),
            self.onboarding.as_str().to_owned(),
        );
        let tokens = serde_json::to_string(&self.tokens).unwrap_or_else(|_| "[]".to_owned());
        attrs.insert(ATTR_TOKENS.to_owned(), tokens);
    }

    /// Whether every settings key is present in `attrs`.
    #[must_use]
    pub fn all_keys_present(attrs: &BTreeMap<String, String>) -> bool {
        [ATTR_ENABLED, ATTR_PROFILE, ATTR_TOKENS]
            .iter()
            .all(|k| attrs.contains_key(*k))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token_expiring(expires: Option<&str>) -> StoredToken {
        StoredToken {
            id: "t".to_owned(),
            sha256: "00".repeat(32),
            created: "2026-01-01T00:00:00Z".to_owned(),
            expires: expires.map(str::to_owned),
        }
    }

    #[test]
    fn a_token_is_active_until_its_expiry_and_never_with_an_unreadable_one() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00Z")
            .expect("valid time")
            .with_timezone(&chrono::Utc);
        let rows: [(Option<&str>, bool); 7] = [
            (None, true),
            (Some("2026-06-01T12:00:01Z"), true),
            (Some("2026-06-01T14:00:00+02:00"), false),
            (Some("2026-06-01T12:00:00Z"), false),
            (Some("2000-01-01T00:00:00Z"), false),
            (Some("next tuesday"), false),
            (Some(""), false),
        ];
        for (expires, active) in rows {
            assert_eq!(
                token_expiring(expires).is_active(now),
                active,
                "{expires:?}"
            );
        }
    }

    #[test]
    fn absent_attributes_give_disabled_generic() {
        let s = RealmScimSettings::from_attributes(&BTreeMap::new()).expect("defaults");
        assert_eq!(
            s,
            RealmScimSettings {
                enabled: false,
                ..RealmScimSettings::default()
            }
        );
        let mut attrs = BTreeMap::new();
        attrs.insert(ATTR_ENABLED.to_owned(), "true".to_owned());
        let on = RealmScimSettings::from_attributes(&attrs).expect("enabled");
        assert!(on.enabled);
    }

    #[test]
    fn master_and_the_admin_realm_are_reserved_and_nothing_else() {
        for (realm, admin, reserved) in [
            ("master", "master", true),
            ("master", "ops", true),
            ("ops", "ops", true),
            ("acme", "master", false),
            ("acme", "ops", false),
            ("Master", "master", true),
            ("OPS", "ops", true),
            ("master-2", "master", false),
        ] {
            assert_eq!(
                reserved_realm(realm, admin).is_some(),
                reserved,
                "{realm} with admin realm {admin}"
            );
        }
        let why = reserved_realm("ops", "ops").unwrap_or_default();
        assert!(why.contains("keycloak.admin_realm"), "{why}");
    }

    #[test]
    fn settings_round_trip_through_attributes() {
        let s = RealmScimSettings {
            enabled: false,
            profile: Profile::Azure,
            tenant_id: Some("4a5c3b2e-0000-4000-8000-000000000000".to_owned()),
            tokens: vec![StoredToken {
                id: "t1".to_owned(),
                sha256: "ab".repeat(32),
                created: "2026-01-01T00:00:00Z".to_owned(),
                expires: None,
            }],
            group_parent: Some("/scim".to_owned()),
            breaker_tripped_at: Some("2026-01-02T03:04:05Z".to_owned()),
            adopt: false,
            trust_emails: true,
            onboarding: Onboarding::Email,
        };
        let mut attrs = BTreeMap::new();
        attrs.insert("other".to_owned(), "kept".to_owned());
        s.write_attributes(&mut attrs);
        assert_eq!(attrs.get("other").map(String::as_str), Some("kept"));
        assert_eq!(RealmScimSettings::from_attributes(&attrs), Ok(s));
    }

    #[test]
    fn an_unreadable_value_is_reported_not_defaulted() {
        let mut attrs = BTreeMap::new();
        attrs.insert(ATTR_ENABLED.to_owned(), "yes".to_owned());
        assert!(RealmScimSettings::from_attributes(&attrs).is_err());
        let mut attrs = BTreeMap::new();
        attrs.insert(ATTR_ONBOARDING.to_owned(), "sms".to_owned());
        assert!(RealmScimSettings::from_attributes(&attrs).is_err());
    }
}
