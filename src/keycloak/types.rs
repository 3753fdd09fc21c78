//! The Keycloak JSON representations the sidecar reads and writes. Each keeps
//! the fields it does not name in `extra`, so a read-modify-write never drops
//! what an admin or another tool set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `RealmRepresentation` (the parts we use).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KcRealm {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub realm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ClientRepresentation` (the parts we use).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KcClient {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub protocol: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_client: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_accounts_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standard_flow_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub implicit_flow_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direct_access_grants_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_authenticator_type: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `ProtocolMapperRepresentation`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KcProtocolMapper {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    pub protocol: String,
    pub protocol_mapper: String,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// `UserRepresentation` (the parts we use).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KcUser {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_timestamp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, Vec<String>>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What Keycloak's usernames of service accounts begin with: a client's
/// service-account user is `service-account-<clientId>`, and Keycloak's
/// user representation says nothing else about it (checked on 26.7.3: no
/// `serviceAccountClientId`, neither by id nor in a filtered search).
pub const SERVICE_ACCOUNT_PREFIX: &str = "service-account-";

/// Whether `username` begins with [`SERVICE_ACCOUNT_PREFIX`] (in any case).
#[must_use]
pub fn is_service_account_name(username: &str) -> bool {
    username
        .get(..SERVICE_ACCOUNT_PREFIX.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(SERVICE_ACCOUNT_PREFIX))
}

impl KcUser {
    /// Whether the username is one Keycloak gives service accounts.
    #[must_use]
    pub fn named_as_service_account(&self) -> bool {
        self.username
            .as_deref()
            .is_some_and(is_service_account_name)
    }

    /// First value of a user attribute.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .as_ref()?
            .get(name)?
            .first()
            .map(String::as_str)
    }
}

/// `GroupRepresentation` (the parts we use).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KcGroup {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BTreeMap<String, Vec<String>>>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `RoleRepresentation` (the parts we use).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KcRole {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default)]
    pub composite: bool,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_user_reads_named_fields_and_keeps_every_other_one() {
        let raw = json!({
            "id": "u1", "username": "alice", "email": "a@example.com",
            "firstName": "Alice", "lastName": "Liddell", "enabled": true,
            "emailVerified": false, "createdTimestamp": 1_700_000_000_000_i64,
            "attributes": {"externalId": ["x1"], "multi": ["a", "b"]},
            "federationLink": "ldap-1", "requiredActions": ["VERIFY_EMAIL"],
            "access": {"manage": true}, "totp": false, "notBefore": 0
        });
        let user: KcUser = serde_json::from_value(raw.clone()).expect("user");
        assert_eq!(user.id.as_deref(), Some("u1"));
        assert_eq!(user.last_name.as_deref(), Some("Liddell"));
        assert_eq!(user.email_verified, Some(false));
        assert_eq!(user.created_timestamp, Some(1_700_000_000_000));
        assert_eq!(user.attribute("externalId"), Some("x1"));
        assert_eq!(user.extra["federationLink"], "ldap-1");
        assert_eq!(user.extra.len(), 5);
        // What is written back is what was read.
        assert_eq!(serde_json::to_value(&user).expect("json"), raw);
        // The same from bytes.
        let from_bytes: KcUser =
            serde_json::from_slice(raw.to_string().as_bytes()).expect("user from bytes");
        assert_eq!(from_bytes, user);
    }

    #[test]
    fn null_named_fields_are_absent_and_wrong_types_are_errors() {
        let user: KcUser =
            serde_json::from_value(json!({"id": "u", "email": null, "attributes": null}))
                .expect("user");
        assert_eq!(user.email, None);
        assert_eq!(user.attributes, None);
        assert!(user.extra.is_empty());
        for bad in [
            json!({"enabled": "yes"}),
            json!({"attributes": {"a": "not a list"}}),
            json!(["not", "an", "object"]),
            json!("user"),
        ] {
            assert!(
                serde_json::from_value::<KcUser>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
