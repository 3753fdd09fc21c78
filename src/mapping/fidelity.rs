//! Full fidelity: where the User attributes no mapper names are stored, and
//! the limits every value must keep to before anything is written.
//!
//! A single-valued attribute (`title`, `name.middleName`, enterprise
//! `department`, …) lives in one Keycloak attribute of its own, so Keycloak
//! can search it and an admin can expose it as a token claim with one
//! user-attribute mapper. A multi-valued attribute (`emails`,
//! `phoneNumbers`, `addresses`, `roles`) lives as one JSON array, exactly as
//! sent (order, `type`, `primary`, `display` kept), in one Keycloak
//! attribute; every email value is also kept, lowercased, in a multivalued
//! attribute that Keycloak's search can answer.
//!
//! Invariants: [`check_limits`] accepts only what Keycloak will store as
//! given (its attribute-length limits, canonical `type`s, one `primary`), so
//! a write that passes it is never half-applied by Keycloak; a mapper that
//! names one of these SCIM paths takes precedence over the default attribute
//! here.

use serde_json::{Map, Value};

use super::EMAIL_VALUES_ATTRIBUTE;
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, ENTERPRISE_USER_SCHEMA};
use crate::scim::ScimError;

/// Keycloak's length limit for a declared attribute without a length
/// validator (checked on 26.7.3: 2,048 characters).
pub const MAX_VALUE_CHARS: usize = 2048;
/// The length bootstrap declares for the JSON-valued attributes.
pub const MAX_JSON_CHARS: usize = 8192;
/// Keycloak's limit for `username`, `email`, `firstName` and `lastName`.
pub const MAX_BUILT_IN_CHARS: usize = 255;
/// Most values one multi-valued attribute may hold.
pub const MAX_VALUES: usize = 20;

/// A single-valued SCIM attribute stored in a Keycloak attribute of its own:
/// `(extension URN or None, attribute, sub-attribute, Keycloak attribute)`.
pub(crate) type SimpleSlot = (
    Option<&'static str>,
    &'static str,
    Option<&'static str>,
    &'static str,
);

/// The single-valued attributes kept when no mapper names them.
pub(crate) const SIMPLE: [SimpleSlot; 16] = [
    (None, "name", Some("formatted"), "scimNameFormatted"),
    (None, "name", Some("middleName"), "scimMiddleName"),
    (None, "name", Some("honorificPrefix"), "scimHonorificPrefix"),
    (None, "name", Some("honorificSuffix"), "scimHonorificSuffix"),
    (None, "nickName", None, "scimNickName"),
    (None, "profileUrl", None, "scimProfileUrl"),
    (None, "title", None, "scimTitle"),
    (None, "userType", None, "scimUserType"),
    (None, "preferredLanguage", None, "scimPreferredLanguage"),
    (None, "locale", None, "scimLocale"),
    (None, "timezone", None, "scimTimezone"),
    (
        Some(ENTERPRISE_USER_SCHEMA),
        "employeeNumber",
        None,
        "scimEmployeeNumber",
    ),
    (
        Some(ENTERPRISE_USER_SCHEMA),
        "costCenter",
        None,
        "scimCostCenter",
    ),
    (
        Some(ENTERPRISE_USER_SCHEMA),
        "organization",
        None,
        "scimOrganization",
    ),
    (
        Some(ENTERPRISE_USER_SCHEMA),
        "division",
        None,
        "scimDivision",
    ),
    (
        Some(ENTERPRISE_USER_SCHEMA),
        "department",
        None,
        "scimDepartment",
    ),
];

/// The multi-valued core attributes kept as one JSON array each:
/// `(attribute, Keycloak attribute)`.
pub(crate) const MULTI: [(&str, &str); 4] = [
    ("emails", "scimEmails"),
    ("phoneNumbers", "scimPhoneNumbers"),
    ("addresses", "scimAddresses"),
    ("roles", "scimRoles"),
];

/// The SCIM path stored in Keycloak attribute `attribute`, if it is one of
/// this module's (`scimTitle` → `title`).
#[must_use]
pub fn scim_path_of(attribute: &str) -> Option<String> {
    SIMPLE
        .iter()
        .find(|(_, _, _, a)| *a == attribute)
        .map(|(urn, name, sub, _)| match (urn, sub) {
            (Some(u), _) => format!("{u}:{name}"),
            (None, Some(s)) => format!("{name}.{s}"),
            (None, None) => (*name).to_owned(),
        })
        .or_else(|| {
            MULTI
                .iter()
                .find(|(_, a)| *a == attribute)
                .map(|(name, _)| (*name).to_owned())
        })
}

/// A user-profile attribute SCIM needs declared beyond the mapper table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Declared {
    /// Keycloak attribute name.
    pub name: &'static str,
    /// Whether Keycloak keeps several values.
    pub multivalued: bool,
    /// Length validator to declare, when Keycloak's default is too short.
    pub max_length: Option<usize>,
}

/// Every attribute of this module, in a stable order.
pub fn declared() -> impl Iterator<Item = Declared> {
    let simple = SIMPLE.iter().map(|(_, _, _, name)| Declared {
        name,
        multivalued: false,
        max_length: None,
    });
    let multi = MULTI.iter().map(|(_, name)| Declared {
        name,
        multivalued: false,
        max_length: Some(MAX_JSON_CHARS),
    });
    simple.chain(multi).chain(std::iter::once(Declared {
        name: EMAIL_VALUES_ATTRIBUTE,
        multivalued: true,
        max_length: None,
    }))
}

/// Keycloak counts a value's length in UTF-16 code units (Java strings).
fn kc_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// Checks a normalised SCIM User against what Keycloak stores as given:
/// value lengths, value counts, canonical `type`s and at most one `primary`
/// per multi-valued attribute. The error names the attribute.
pub fn check_limits(scim: &Value, schema: &ResourceSchema) -> Result<(), ScimError> {
    let Some(obj) = scim.as_object() else {
        return Ok(());
    };
    for (key, value) in obj {
        if key == "schemas" || key == "meta" {
            continue;
        }
        if let Some(ext) = schema.extension(key) {
            if let Some(inner) = value.as_object() {
                check_object(inner, &ext.attributes, &format!("{}:", ext.id))?;
            }
            continue;
        }
        if let Some(def) = schema.core.attribute(key) {
            check_value(value, def, key)?;
        }
    }
    Ok(())
}

fn check_object(
    obj: &Map<String, Value>,
    defs: &[AttributeDef],
    prefix: &str,
) -> Result<(), ScimError> {
    for (key, value) in obj {
        if let Some(def) = defs.iter().find(|d| d.name.eq_ignore_ascii_case(key)) {
            check_value(value, def, &format!("{prefix}{}", def.name))?;
        }
    }
    Ok(())
}

fn check_value(value: &Value, def: &AttributeDef, label: &str) -> Result<(), ScimError> {
    if def.multi_valued {
        let Some(items) = value.as_array() else {
            return Ok(());
        };
        if items.len() > MAX_VALUES {
            return Err(ScimError::invalid_value(format!(
                "'{label}' has {} values; at most {MAX_VALUES} are kept",
                items.len()
            )));
        }
        let primaries = items
            .iter()
            .filter(|i| i.get("primary").and_then(Value::as_bool) == Some(true))
            .count();
        if primaries > 1 {
            return Err(ScimError::invalid_value(format!(
                "'{label}' has {primaries} values with primary true; at most one may be (RFC 7643 §2.4)"
            )));
        }
        for (i, item) in items.iter().enumerate() {
            check_single(item, def, &format!("{label}[{i}]"))?;
        }
        if MULTI.iter().any(|(name, _)| *name == def.name) {
            let encoded = kc_len(&value.to_string());
            if encoded > MAX_JSON_CHARS {
                return Err(ScimError::invalid_value(format!(
                    "'{label}' is {encoded} characters as stored; at most {MAX_JSON_CHARS} are kept"
                )));
            }
        }
        return Ok(());
    }
    check_single(value, def, label)
}

fn check_single(value: &Value, def: &AttributeDef, label: &str) -> Result<(), ScimError> {
    match value {
        Value::String(s) => {
            let max = if BUILT_IN_LABELS.contains(&label) || label.starts_with("emails[") {
                MAX_BUILT_IN_CHARS
            } else {
                MAX_VALUE_CHARS
            };
            let line_breaks_allowed =
                label.starts_with("addresses[") && label.ends_with(".formatted");
            if s.chars().any(|c| {
                u32::from(c) < 0x20 && !(line_breaks_allowed && matches!(c, '\n' | '\r' | '\t'))
            }) {
                return Err(ScimError::invalid_value(format!(
                    "'{label}' contains a control character (U+0000 to U+001F)"
                )));
            }
            let len = kc_len(s);
            if len > max {
                return Err(ScimError::invalid_value(format!(
                    "'{label}' is {len} characters long; at most {max} are kept"
                )));
            }
            Ok(())
        }
        Value::Object(obj) if def.type_ == AttrType::Complex => {
            for (key, v) in obj {
                let Some(sub) = def.sub_attribute(key) else {
                    continue;
                };
                let sub_label = format!("{label}.{}", sub.name);
                if sub.name == "type" && !sub.canonical_values.is_empty() {
                    if let Some(t) = v.as_str() {
                        if !sub
                            .canonical_values
                            .iter()
                            .any(|c| c.eq_ignore_ascii_case(t))
                        {
                            return Err(ScimError::invalid_value(format!(
                                "'{sub_label}' is {t:?}; expected one of {}",
                                sub.canonical_values.join(", ")
                            )));
                        }
                    }
                }
                check_single(v, sub, &sub_label)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Paths whose value lands in a Keycloak built-in field.
const BUILT_IN_LABELS: [&str; 3] = ["userName", "name.givenName", "name.familyName"];

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn check(v: impl Into<Value>) -> Result<(), ScimError> {
        check_limits(&v.into(), &ResourceSchema::user())
    }

    fn detail(v: &Value) -> String {
        check(v.clone()).expect_err("refused").detail
    }

    #[test]
    fn what_entra_sends_by_default_passes() {
        let user = json!({
            "userName": "alice@contoso.com",
            "title": "Engineer",
            "emails": [
                {"value": "alice@contoso.com", "type": "work", "primary": true},
                {"value": "al@contoso.com", "type": "other"}
            ],
            "phoneNumbers": [
                {"value": "+1 555 0100", "type": "work"},
                {"value": "+1 555 0101", "type": "mobile"},
                {"value": "+1 555 0102", "type": "fax"}
            ],
            "addresses": [{"type": "work", "streetAddress": "1 Main St", "country": "US"}],
            ENTERPRISE_USER_SCHEMA: {"department": "R&D", "employeeNumber": "42"}
        });
        assert_eq!(check(user), Ok(()));
    }

    #[test]
    fn each_limit_names_the_attribute() {
        let long = "x".repeat(MAX_VALUE_CHARS + 1);
        let cases = [
            (json!({"title": long}), "'title' is 2049 characters"),
            (
                json!({"userName": "u".repeat(256)}),
                "'userName' is 256 characters",
            ),
            (
                json!({"emails": [{"value": "e".repeat(256)}]}),
                "'emails[0].value' is 256",
            ),
            (
                json!({"phoneNumbers": [{"value": "1", "type": "cell"}]}),
                "'phoneNumbers[0].type' is \"cell\"",
            ),
            (
                json!({"emails": [{"value": "a", "primary": true}, {"value": "b", "primary": true}]}),
                "'emails' has 2 values with primary true",
            ),
            (
                json!({"phoneNumbers": vec![json!({"value": "1"}); MAX_VALUES + 1]}),
                "'phoneNumbers' has 21 values",
            ),
            (
                json!({"addresses": (0..5).map(|_| json!({"formatted": "f".repeat(2000)})).collect::<Vec<_>>()}),
                "'addresses' is ",
            ),
            (
                json!({"title": "a\nb"}),
                "'title' contains a control character",
            ),
            (
                json!({ENTERPRISE_USER_SCHEMA: {"department": "d".repeat(3000)}}),
                "'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department' is 3000",
            ),
        ];
        for (input, expected) in cases {
            let got = detail(&input);
            assert!(got.contains(expected), "{input}: {got}");
        }
    }

    #[test]
    fn a_formatted_address_may_hold_line_breaks() {
        let address = json!({"addresses": [{"formatted": "1 Main St\r\nRedmond\tWA"}]});
        assert_eq!(check(address), Ok(()));
        let nul = json!({"addresses": [{"formatted": "1 Main St\u{0}"}]});
        assert!(check(nul).is_err());
    }

    #[test]
    fn length_is_counted_as_keycloak_counts_it() {
        // "😀" is one char but two UTF-16 code units.
        let at_limit = "😀".repeat(MAX_VALUE_CHARS / 2);
        assert_eq!(check(json!({"title": at_limit})), Ok(()));
        let over = format!("{}x", "😀".repeat(MAX_VALUE_CHARS / 2));
        assert!(check(json!({"title": over})).is_err());
    }

    #[test]
    fn type_is_matched_case_insensitively_and_roles_take_any_type() {
        assert_eq!(
            check(json!({"phoneNumbers": [{"value": "1", "type": "Mobile"}]})),
            Ok(())
        );
        assert_eq!(
            check(json!({"roles": [{"value": "admin", "type": "anything"}]})),
            Ok(())
        );
    }

    #[test]
    fn every_declared_name_is_unique() {
        let names: std::collections::BTreeSet<_> = declared().map(|d| d.name).collect();
        assert_eq!(names.len(), declared().count());
    }
}
