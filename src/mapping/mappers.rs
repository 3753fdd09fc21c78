//! The mapper table. Each `oidc-usermodel-attribute-mapper` on the
//! `scim-endpoint` client is a rule "SCIM path (`claim.name`) ⇄ Keycloak user
//! attribute (`user.attribute`), typed by `jsonType.label`". Bootstrap writes
//! the seven defaults of the product guide; an admin may edit or add mappers
//! and the sidecar follows them.

use std::collections::BTreeMap;

use crate::keycloak::KcProtocolMapper;

/// The client that carries the mappers and the per-realm SCIM settings.
pub const SCIM_CLIENT_ID: &str = "scim-endpoint";

/// Keycloak's mapper type for "User Attribute".
pub const USER_ATTRIBUTE_MAPPER: &str = "oidc-usermodel-attribute-mapper";

/// The four token options, all on.
pub const TOKEN_OPTIONS: [&str; 4] = [
    "id.token.claim",
    "access.token.claim",
    "userinfo.token.claim",
    "introspection.token.claim",
];

/// One row of the mapping table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapperRule {
    /// Mapper name (`status`, `loginName`, …).
    pub name: String,
    /// Keycloak user attribute (`user.attribute`).
    pub user_attribute: String,
    /// SCIM path as written in `claim.name` (dots of a URN escaped as `\.`).
    pub claim_name: String,
    /// `jsonType.label`: `String`, `boolean`, `long`, `int`, `JSON`.
    pub json_type: String,
}

impl MapperRule {
    /// The SCIM attribute path this rule maps: `claim.name` with Keycloak's
    /// escaped dots (`2\.0`) read as plain dots, so the escaped and the
    /// unescaped form name the same SCIM path.
    #[must_use]
    pub fn scim_path(&self) -> String {
        self.claim_name.replace("\\.", ".")
    }

    /// Whether the claim is typed boolean.
    #[must_use]
    pub fn is_boolean(&self) -> bool {
        self.json_type.eq_ignore_ascii_case("boolean")
    }

    /// The Keycloak representation bootstrap writes for this rule.
    #[must_use]
    pub fn to_kc(&self) -> KcProtocolMapper {
        let mut config = BTreeMap::new();
        config.insert("user.attribute".to_owned(), self.user_attribute.clone());
        config.insert("claim.name".to_owned(), self.claim_name.clone());
        config.insert("jsonType.label".to_owned(), self.json_type.clone());
        for option in TOKEN_OPTIONS {
            config.insert(option.to_owned(), "true".to_owned());
        }
        KcProtocolMapper {
            id: None,
            name: self.name.clone(),
            protocol: "openid-connect".to_owned(),
            protocol_mapper: USER_ATTRIBUTE_MAPPER.to_owned(),
            config,
        }
    }

    /// Reads a rule from a Keycloak mapper; `None` for mappers of other types
    /// or without the two essential keys.
    #[must_use]
    pub fn from_kc(mapper: &KcProtocolMapper) -> Option<Self> {
        if mapper.protocol_mapper != USER_ATTRIBUTE_MAPPER {
            return None;
        }
        let get = |k: &str| mapper.config.get(k).filter(|v| !v.is_empty()).cloned();
        Some(Self {
            name: mapper.name.clone(),
            user_attribute: get("user.attribute")?,
            claim_name: get("claim.name")?,
            json_type: get("jsonType.label").unwrap_or_else(|| "String".to_owned()),
        })
    }

    /// Whether `mapper` is exactly what bootstrap would write for this rule:
    /// same type and protocol, and every key bootstrap writes has the same
    /// value (keys Keycloak or the console add on their own are not compared).
    #[must_use]
    pub fn matches_kc(&self, mapper: &KcProtocolMapper) -> bool {
        let wanted = self.to_kc();
        mapper.protocol == wanted.protocol
            && mapper.protocol_mapper == wanted.protocol_mapper
            && wanted
                .config
                .iter()
                .all(|(k, v)| mapper.config.get(k) == Some(v))
    }
}

/// `(name, user.attribute, claim.name, jsonType.label)` of the product guide.
pub const DEFAULT_MAPPERS: [(&str, &str, &str, &str); 7] = [
    ("status", "isSoftDeleted", "active", "boolean"),
    ("loginName", "userPrincipalName", "userName", "String"),
    ("firstName", "givenName", "name.givenName", "String"),
    ("manager", "manager", "manager", "String"),
    ("lastName", "surName", "name.familyName", "String"),
    (
        "tag",
        "extensionAttribute1",
        "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2\\.0:User:tag",
        "String",
    ),
    ("email", "email", "email", "String"),
];

/// The realm's mapping table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapperTable {
    /// Rules in mapper order.
    pub rules: Vec<MapperRule>,
}

impl MapperTable {
    /// The product guide's seven rules.
    #[must_use]
    pub fn defaults() -> Self {
        Self {
            rules: DEFAULT_MAPPERS
                .iter()
                .map(|(name, attr, claim, ty)| MapperRule {
                    name: (*name).to_owned(),
                    user_attribute: (*attr).to_owned(),
                    claim_name: (*claim).to_owned(),
                    json_type: (*ty).to_owned(),
                })
                .collect(),
        }
    }

    /// The table of a client's mappers (user-attribute mappers only).
    #[must_use]
    pub fn from_kc(mappers: &[KcProtocolMapper]) -> Self {
        Self {
            rules: mappers.iter().filter_map(MapperRule::from_kc).collect(),
        }
    }

    /// Keycloak attributes the table stores values in, in table order.
    pub fn user_attributes(&self) -> impl Iterator<Item = &str> {
        self.rules.iter().map(|r| r.user_attribute.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_default_rules_with_the_guides_names() {
        let names: Vec<_> = MapperTable::defaults()
            .rules
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(
            names,
            [
                "status",
                "loginName",
                "firstName",
                "manager",
                "lastName",
                "tag",
                "email"
            ]
        );
    }

    #[test]
    fn tag_claim_is_escaped_for_keycloak_and_plain_for_scim() {
        let table = MapperTable::defaults();
        let tag = table.rules.iter().find(|r| r.name == "tag").expect("tag");
        assert!(tag.claim_name.contains("2\\.0"));
        assert_eq!(
            tag.scim_path(),
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag"
        );
    }

    #[test]
    fn kc_representation_has_all_four_token_options_as_strings() {
        let kc = MapperTable::defaults().rules[0].to_kc();
        assert_eq!(kc.protocol_mapper, "oidc-usermodel-attribute-mapper");
        for option in TOKEN_OPTIONS {
            assert_eq!(kc.config.get(option).map(String::as_str), Some("true"));
        }
        assert_eq!(kc.config.len(), 7);
    }

    #[test]
    fn a_rule_read_back_from_keycloak_equals_the_rule_written() {
        for rule in MapperTable::defaults().rules {
            let mut kc = rule.to_kc();
            kc.config
                .insert("lightweight.claim".to_owned(), "false".to_owned());
            assert_eq!(MapperRule::from_kc(&kc).as_ref(), Some(&rule));
            assert!(rule.matches_kc(&kc));
        }
    }

    #[test]
    fn an_edited_claim_name_no_longer_matches() {
        let rule = &MapperTable::defaults().rules[1];
        let mut kc = rule.to_kc();
        kc.config.insert("claim.name".to_owned(), "upn".to_owned());
        assert!(!rule.matches_kc(&kc));
    }

    #[test]
    fn other_mapper_types_are_not_rules() {
        let mut kc = MapperTable::defaults().rules[0].to_kc();
        kc.protocol_mapper = "oidc-hardcoded-claim-mapper".to_owned();
        assert_eq!(MapperRule::from_kc(&kc), None);
    }
}
