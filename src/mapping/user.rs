//! SCIM User ⇄ Keycloak user. The core mapping is fixed (userName ⇄
//! username, name ⇄ first/last name, primary email ⇄ email, active ⇄
//! enabled, externalId / displayName / meta.lastModified in attributes); on top
//! of it every rule of the realm's mapper table maps one SCIM path to one user
//! attribute, storing the value as sent so the token claim equals it.
//!
//! Invariants: a PUT-style write replaces every SCIM-managed attribute and
//! keeps every other attribute of the Keycloak user; the SCIM schema a realm
//! advertises ([`UserMapping::schema`]) holds exactly the attributes that
//! round-trip through this mapping.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use super::fidelity::{self, check_limits};
use super::ownership::OWNER_ATTRIBUTE;
use super::version::weak_etag;
use super::{
    MapperTable, DISPLAY_NAME_ATTRIBUTE, EMAIL_VALUES_ATTRIBUTE, EXTERNAL_ID_ATTRIBUTE,
    LAST_MODIFIED_ATTRIBUTE,
};
use crate::keycloak::{is_service_account_name, KcUser, SERVICE_ACCOUNT_PREFIX};
use crate::scim::schema::{AttrType, AttributeDef, ResourceSchema, Returned, USER_SCHEMA};
use crate::scim::{parse_attr_path, AttrPath, ScimError};

/// Where a mapper rule's value lives in the SCIM resource.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A single-valued simple attribute (core or extension), or a
    /// sub-attribute such as `name.givenName`.
    Simple(AttrPath),
    /// The `value` of a single-valued complex attribute (enterprise `manager`).
    ComplexValue(AttrPath),
    /// The primary email's `value` (the claim `email`).
    PrimaryEmail,
}

#[derive(Debug, Clone)]
struct ResolvedRule {
    attribute: String,
    target: Target,
    boolean: bool,
}

/// The realm's user mapping, built from its mapper table.
#[derive(Debug, Clone)]
pub struct UserMapping {
    rules: Vec<ResolvedRule>,
    schema: ResourceSchema,
    input_schema: ResourceSchema,
    /// Rules that could not be mapped to a SCIM attribute, with the reason.
    pub skipped: Vec<(String, String)>,
}

/// Core attributes every realm stores (full paths as in `ResourceSchema::retain`).
const CORE_PATHS: [&str; 10] = [
    "userName",
    "name.givenName",
    "name.familyName",
    "displayName",
    "active",
    "emails.value",
    "emails.type",
    "emails.primary",
    "externalId",
    "groups",
];

const BUILT_INS: [&str; 4] = ["username", "email", "firstName", "lastName"];

impl UserMapping {
    /// Resolves every rule of `table` against the SCIM User schema. A rule
    /// naming an unknown extension URN adds that attribute to the schema.
    #[must_use]
    pub fn new(table: &MapperTable) -> Self {
        let mut schema = ResourceSchema::user();
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        let mut keep: BTreeSet<String> = CORE_PATHS.iter().map(|s| (*s).to_owned()).collect();
        for rule in &table.rules {
            let path_text = rule.scim_path();
            if path_text.eq_ignore_ascii_case("email") {
                rules.push(ResolvedRule {
                    attribute: rule.user_attribute.clone(),
                    target: Target::PrimaryEmail,
                    boolean: false,
                });
                continue;
            }
            let Ok(path) = parse_attr_path(&path_text) else {
                skipped.push((
                    rule.name.clone(),
                    format!("{path_text:?} is not a SCIM path"),
                ));
                continue;
            };
            if schema.resolve(&path).is_none() {
                if let (Some(urn), None) = (&path.schema, &path.sub_attr) {
                    let def = if rule.is_boolean() {
                        AttributeDef::boolean(path.name.clone())
                    } else {
                        AttributeDef::string(path.name.clone())
                    };
                    schema = schema.with_extension_attribute(urn, def);
                }
            }
            let Some(located) = schema.locate(&path) else {
                skipped.push((
                    rule.name.clone(),
                    format!("{path_text} is not a User attribute"),
                ));
                continue;
            };
            let def = located.target();
            if def.multi_valued || located.attr.multi_valued {
                // A mapper on the JSON attribute of a multi-valued SCIM
                // attribute only exposes it as a claim: storage is ours.
                let stored_here = fidelity::MULTI.iter().any(|(name, attribute)| {
                    located.is_core
                        && located.attr.name == *name
                        && rule.user_attribute == *attribute
                });
                if !stored_here {
                    skipped.push((rule.name.clone(), format!("{path_text} is multi-valued")));
                }
                continue;
            }
            let full = located.full_path();
            let canonical = AttrPath {
                schema: (!located.is_core).then(|| located.schema.id.clone()),
                name: located.attr.name.clone(),
                sub_attr: located.sub.map(|s| s.name.clone()),
            };
            let target = if def.type_ == AttrType::Complex {
                if def.sub_attribute("value").is_none() {
                    skipped.push((rule.name.clone(), format!("{path_text} has no value")));
                    continue;
                }
                keep.insert(format!("{full}.value"));
                Target::ComplexValue(canonical)
            } else {
                keep.insert(full);
                Target::Simple(canonical)
            };
            rules.push(ResolvedRule {
                attribute: rule.user_attribute.clone(),
                target,
                boolean: rule.is_boolean() || def.type_ == AttrType::Boolean,
            });
        }
        // Full fidelity for every single-valued attribute no mapper names.
        for (urn, name, sub, attribute) in fidelity::SIMPLE {
            let path = AttrPath {
                schema: urn.map(str::to_owned),
                name: name.to_owned(),
                sub_attr: sub.map(str::to_owned),
            };
            let mapped = rules.iter().any(|r| match &r.target {
                Target::Simple(p) => p.same_as(&path),
                _ => false,
            });
            if mapped {
                continue;
            }
            keep.extend(fidelity::scim_path_of(attribute));
            rules.push(ResolvedRule {
                attribute: attribute.to_owned(),
                target: Target::Simple(path),
                boolean: false,
            });
        }
        for (name, _) in fidelity::MULTI {
            keep.insert(name.to_owned());
        }
        // `groups` costs one more Keycloak call per user: returned on request.
        for attr in &mut schema.core.attributes {
            if attr.name == "groups" {
                attr.returned = Returned::Request;
            }
        }
        let input_schema = schema.clone();
        schema.retain(|p| keep.contains(p));
        Self {
            rules,
            schema,
            input_schema,
            skipped,
        }
    }

    /// The User schema this realm advertises and validates input against.
    #[must_use]
    pub fn schema(&self) -> &ResourceSchema {
        &self.schema
    }

    /// The User schema input is checked against: every attribute of RFC 7643
    /// (plus the realm's extension attributes), so that what Entra sends by
    /// default is accepted; what [`Self::schema`] lacks is not stored.
    #[must_use]
    pub fn input_schema(&self) -> &ResourceSchema {
        &self.input_schema
    }

    /// Keycloak attributes SCIM manages (replaced on every write).
    fn managed_attributes(&self) -> BTreeSet<&str> {
        let mut set: BTreeSet<&str> = [
            EXTERNAL_ID_ATTRIBUTE,
            DISPLAY_NAME_ATTRIBUTE,
            EMAIL_VALUES_ATTRIBUTE,
        ]
        .into_iter()
        .chain(fidelity::MULTI.iter().map(|(_, attribute)| *attribute))
        .collect();
        for rule in &self.rules {
            if !BUILT_INS.contains(&rule.attribute.as_str()) {
                set.insert(rule.attribute.as_str());
            }
        }
        set
    }

    /// The Keycloak attribute a SCIM path is stored in, if it is a plain
    /// attribute (not a built-in field): used to push `eq` filters down.
    #[must_use]
    pub fn attribute_for(&self, path: &AttrPath) -> Option<&str> {
        if path.schema.is_none() && path.sub_attr.is_none() {
            if path.name.eq_ignore_ascii_case("externalId") {
                return Some(EXTERNAL_ID_ATTRIBUTE);
            }
            if path.name.eq_ignore_ascii_case("displayName") {
                return Some(DISPLAY_NAME_ATTRIBUTE);
            }
        }
        let value_of_complex = path
            .sub_attr
            .as_deref()
            .is_some_and(|s| s.eq_ignore_ascii_case("value"))
            .then(|| AttrPath {
                sub_attr: None,
                ..path.clone()
            });
        self.rules.iter().find_map(|rule| {
            let hit = match &rule.target {
                Target::Simple(p) => p.same_as(path),
                Target::ComplexValue(p) => {
                    p.same_as(path) || value_of_complex.as_ref().is_some_and(|v| p.same_as(v))
                }
                Target::PrimaryEmail => false,
            };
            (hit && !BUILT_INS.contains(&rule.attribute.as_str()))
                .then_some(rule.attribute.as_str())
        })
    }

    /// The SCIM User for a Keycloak user. `base_url` is the realm's SCIM base.
    #[must_use]
    pub fn scim_user_from_kc(&self, kc: &KcUser, base_url: &str) -> Value {
        let id = kc.id.clone().unwrap_or_default();
        let mut out = Map::new();
        out.insert("id".to_owned(), Value::String(id.clone()));
        if let Some(username) = &kc.username {
            out.insert("userName".to_owned(), Value::String(username.clone()));
        }
        // Keycloak keeps a removed first or last name as "": no value, so
        // `remove name` leaves no `name` behind (RFC 7644 §3.5.2.2).
        let mut name = Map::new();
        if let Some(first) = kc.first_name.as_ref().filter(|f| !f.is_empty()) {
            name.insert("givenName".to_owned(), Value::String(first.clone()));
        }
        if let Some(last) = kc.last_name.as_ref().filter(|l| !l.is_empty()) {
            name.insert("familyName".to_owned(), Value::String(last.clone()));
        }
        if !name.is_empty() {
            out.insert("name".to_owned(), Value::Object(name));
        }
        out.insert("active".to_owned(), Value::Bool(kc.enabled.unwrap_or(true)));
        for (name, attribute) in fidelity::MULTI {
            let stored = kc.attribute(attribute).and_then(stored_array);
            let value = if name == "emails" {
                emails_for(kc.email.as_deref(), stored)
            } else {
                stored
            };
            if let Some(v) = value {
                out.insert(name.to_owned(), Value::Array(v));
            }
        }
        if let Some(v) = kc.attribute(EXTERNAL_ID_ATTRIBUTE) {
            out.insert("externalId".to_owned(), Value::String(v.to_owned()));
        }
        if let Some(v) = kc.attribute(DISPLAY_NAME_ATTRIBUTE) {
            out.insert("displayName".to_owned(), Value::String(v.to_owned()));
        }
        for rule in &self.rules {
            let Some(stored) = kc_value(kc, &rule.attribute) else {
                continue;
            };
            let value = if rule.boolean {
                match stored.to_ascii_lowercase().as_str() {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    _ => continue,
                }
            } else {
                Value::String(stored.to_owned())
            };
            match &rule.target {
                // `enabled` is authoritative for `active` (an admin may
                // disable a user in the console); the attribute mirrors it.
                Target::Simple(p) if p.schema.is_none() && p.name == "active" => {}
                Target::Simple(p) => set_path(&mut out, p, value),
                Target::ComplexValue(p) => set_path(&mut out, p, json!({ "value": value })),
                Target::PrimaryEmail => {}
            }
        }
        let mut schemas = vec![Value::String(USER_SCHEMA.to_owned())];
        for ext in &self.schema.extensions {
            if out.contains_key(&ext.id) {
                schemas.push(Value::String(ext.id.clone()));
            }
        }
        out.insert("schemas".to_owned(), Value::Array(schemas));
        let created = kc.created_timestamp.and_then(millis_to_rfc3339);
        // Keycloak stamps `createdTimestamp` a moment after we stamp the
        // attribute on create: never report a modification before creation.
        let last_modified = match (kc.attribute(LAST_MODIFIED_ATTRIBUTE), &created) {
            (Some(m), Some(c)) if m < c.as_str() => Some(c.clone()),
            (Some(m), _) => Some(m.to_owned()),
            (None, c) => c.clone(),
        };
        let mut meta = Map::new();
        meta.insert("resourceType".to_owned(), json!("User"));
        if let Some(c) = created {
            meta.insert("created".to_owned(), Value::String(c));
        }
        if let Some(m) = last_modified {
            meta.insert("lastModified".to_owned(), Value::String(m));
        }
        meta.insert(
            "location".to_owned(),
            Value::String(format!("{}/Users/{id}", base_url.trim_end_matches('/'))),
        );
        out.insert("meta".to_owned(), Value::Object(meta));
        let mut resource = Value::Object(out);
        let version = weak_etag(&resource);
        if let Some(meta) = resource.get_mut("meta").and_then(Value::as_object_mut) {
            meta.insert("version".to_owned(), Value::String(version));
        }
        resource
    }

    /// The Keycloak user for a normalised SCIM User (POST, PUT, or the result
    /// of a PATCH). `existing` is the stored user on an update: attributes SCIM
    /// does not manage are kept, managed ones are replaced. `now` is written
    /// as `meta.lastModified`.
    pub fn kc_user_from_scim(
        &self,
        scim: &Value,
        existing: Option<&KcUser>,
        now: &str,
    ) -> Result<KcUser, ScimError> {
        check_limits(scim, &self.input_schema)?;
        let user_name = scim
            .get("userName")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
        if is_service_account_name(user_name) {
            return Err(ScimError::invalid_value(format!(
                "userName may not begin with \"{SERVICE_ACCOUNT_PREFIX}\": Keycloak names the \
                 service accounts of clients so, and SCIM never shows or writes them"
            )));
        }
        let mut kc = existing.cloned().unwrap_or_default();
        // Keycloak stores usernames and emails lowercased; so do we, so that
        // what a write returns equals what the next read returns.
        kc.username = Some(user_name.to_lowercase());
        kc.first_name = Some(string_at(scim, &["name", "givenName"]).unwrap_or_default());
        kc.last_name = Some(string_at(scim, &["name", "familyName"]).unwrap_or_default());
        kc.email = Some(primary_email(scim).unwrap_or_default().to_lowercase());
        let active = scim
            .get("active")
            .and_then(Value::as_bool)
            .unwrap_or_else(|| existing.and_then(|e| e.enabled).unwrap_or(true));
        kc.enabled = Some(active);
        let mut attrs: BTreeMap<String, Vec<String>> = kc.attributes.take().unwrap_or_default();
        for managed in self.managed_attributes() {
            attrs.remove(managed);
        }
        let mut set = |key: &str, value: Option<String>| {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                attrs.insert(key.to_owned(), vec![v]);
            }
        };
        set(EXTERNAL_ID_ATTRIBUTE, string_at(scim, &["externalId"]));
        set(DISPLAY_NAME_ATTRIBUTE, string_at(scim, &["displayName"]));
        for (name, attribute) in fidelity::MULTI {
            if let Some(items) = scim.get(name).and_then(Value::as_array) {
                if !items.is_empty() {
                    set(attribute, Some(Value::Array(items.clone()).to_string()));
                }
            }
        }
        for rule in &self.rules {
            let value = match &rule.target {
                Target::PrimaryEmail => primary_email(scim).map(Value::String),
                Target::Simple(p) if p.schema.is_none() && p.name == "active" => {
                    Some(Value::Bool(active))
                }
                Target::Simple(p) => get_path(scim, p).cloned(),
                Target::ComplexValue(p) => get_path(scim, p).and_then(complex_value),
            };
            let text = value.and_then(|v| scalar_text(&v));
            match rule.attribute.as_str() {
                // Built-ins were set from the core mapping above; a rule that
                // names one only matters when the core value is empty.
                "email" => {
                    if kc.email.as_deref() == Some("") {
                        kc.email = text;
                    }
                }
                "username" | "firstName" | "lastName" => {}
                attribute => set(attribute, text),
            }
        }
        let email_values = email_values(scim);
        if !email_values.is_empty() {
            attrs.insert(EMAIL_VALUES_ATTRIBUTE.to_owned(), email_values);
        }
        attrs.insert(LAST_MODIFIED_ATTRIBUTE.to_owned(), vec![now.to_owned()]);
        // Every SCIM write is by an owner: a create, or an adoption.
        attrs.insert(OWNER_ATTRIBUTE.to_owned(), vec!["true".to_owned()]);
        kc.attributes = Some(attrs);
        Ok(kc)
    }
}

/// A Keycloak user's value for `attribute`, built-in fields included.
fn kc_value<'a>(kc: &'a KcUser, attribute: &str) -> Option<&'a str> {
    match attribute {
        "username" => kc.username.as_deref(),
        "email" => kc.email.as_deref(),
        "firstName" => kc.first_name.as_deref(),
        "lastName" => kc.last_name.as_deref(),
        other => kc.attribute(other),
    }
    .filter(|v| !v.is_empty())
}

fn string_at(v: &Value, keys: &[&str]) -> Option<String> {
    let mut cur = v;
    for k in keys {
        cur = cur.get(*k)?;
    }
    scalar_text(cur)
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn complex_value(v: &Value) -> Option<Value> {
    match v {
        Value::Object(m) => m.get("value").cloned(),
        Value::String(_) => Some(v.clone()),
        _ => None,
    }
}

/// The index of the email Keycloak's `email` holds: the primary one, else
/// the `work` one, else the first.
fn primary_email_index(emails: &[Value]) -> Option<usize> {
    emails
        .iter()
        .position(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| {
            emails.iter().position(|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| (!emails.is_empty()).then_some(0))
}

/// The primary email, else the `work` one, else the first.
fn primary_email(scim: &Value) -> Option<String> {
    let emails = scim.get("emails")?.as_array()?;
    let pick = emails.get(primary_email_index(emails)?)?;
    pick.get("value")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Every email value, lowercased, without repeats (for Keycloak's search).
fn email_values(scim: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let emails = scim.get("emails").and_then(Value::as_array);
    for email in emails.into_iter().flatten() {
        if let Some(v) = email.get("value").and_then(Value::as_str).map(str::trim) {
            let v = v.to_lowercase();
            if !v.is_empty() && !out.contains(&v) {
                out.push(v);
            }
        }
    }
    out
}

/// A JSON-array attribute as stored; `None` when it is not one.
fn stored_array(text: &str) -> Option<Vec<Value>> {
    match serde_json::from_str(text) {
        Ok(Value::Array(items)) if !items.is_empty() => Some(items),
        _ => None,
    }
}

/// The `emails` of a user: the array as sent, with the entry Keycloak's
/// `email` holds following that field (an admin may have changed or removed
/// it in the console); without a stored array, `email` as the one work
/// address.
fn emails_for(email: Option<&str>, stored: Option<Vec<Value>>) -> Option<Vec<Value>> {
    let email = email.filter(|e| !e.is_empty());
    let Some(mut items) = stored else {
        return email.map(|e| vec![json!({"value": e, "type": "work", "primary": true})]);
    };
    let idx = primary_email_index(&items)?;
    match (email, items.get_mut(idx).and_then(Value::as_object_mut)) {
        (Some(e), Some(held)) => {
            let same = held
                .get("value")
                .and_then(Value::as_str)
                .is_some_and(|v| v.to_lowercase() == e.to_lowercase());
            if !same {
                held.insert("value".to_owned(), Value::String(e.to_owned()));
            }
        }
        (None, _) => {
            items.remove(idx);
        }
        (Some(_), None) => {}
    }
    (!items.is_empty()).then_some(items)
}

fn set_path(out: &mut Map<String, Value>, path: &AttrPath, value: Value) {
    let target: &mut Map<String, Value> = match &path.schema {
        Some(urn) => {
            let entry = out
                .entry(urn.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            let Value::Object(m) = entry else { return };
            m
        }
        None => out,
    };
    match &path.sub_attr {
        None => {
            target.insert(path.name.clone(), value);
        }
        Some(sub) => {
            let parent = target
                .entry(path.name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = parent {
                m.insert(sub.clone(), value);
            }
        }
    }
}

fn get_path<'a>(scim: &'a Value, path: &AttrPath) -> Option<&'a Value> {
    let base = match &path.schema {
        Some(urn) => scim.get(urn)?,
        None => scim,
    };
    let v = base.get(&path.name)?;
    match &path.sub_attr {
        None => Some(v),
        Some(sub) => v.get(sub),
    }
}

/// Milliseconds since the epoch as RFC 3339 (UTC, millisecond precision).
#[must_use]
pub fn millis_to_rfc3339(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The current time as RFC 3339 (UTC, millisecond precision).
#[must_use]
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Case<'a> = (Option<&'a str>, Option<Vec<Value>>, Option<Value>);

    #[test]
    fn emails_follow_keycloaks_email_field() {
        let stored = vec![
            json!({"value": "A@x.org", "type": "work", "primary": true}),
            json!({"value": "b@x.org", "type": "other"}),
        ];
        let cases: [Case<'_>; 5] = [
            // As sent while Keycloak holds the same address (it lowercases).
            (Some("a@x.org"), Some(stored.clone()), Some(json!(stored))),
            // Changed in the console: the primary entry shows the new value.
            (
                Some("c@x.org"),
                Some(stored.clone()),
                Some(json!([
                    {"value": "c@x.org", "type": "work", "primary": true},
                    {"value": "b@x.org", "type": "other"}
                ])),
            ),
            // Removed in the console: that entry is gone.
            (
                None,
                Some(stored.clone()),
                Some(json!([{"value": "b@x.org", "type": "other"}])),
            ),
            // Never written by SCIM: the one work address.
            (
                Some("a@x.org"),
                None,
                Some(json!([{"value": "a@x.org", "type": "work", "primary": true}])),
            ),
            (None, None, None),
        ];
        for (email, stored, expected) in cases {
            assert_eq!(
                emails_for(email, stored.clone()).map(Value::Array),
                expected,
                "{email:?} {stored:?}"
            );
        }
    }

    #[test]
    fn a_user_name_keycloak_gives_service_accounts_is_refused() {
        let mapping = UserMapping::new(&MapperTable::defaults());
        for name in [
            "service-account-app",
            "Service-Account-App",
            " SERVICE-ACCOUNT-x ",
        ] {
            let err = mapping
                .kc_user_from_scim(&json!({"userName": name}), None, "now")
                .expect_err(name);
            assert_eq!(
                err.scim_type,
                Some(crate::scim::ScimType::InvalidValue),
                "{name}"
            );
        }
        for name in [
            "service-account",
            "my-service-account-app",
            "sérvice-account-x",
            "service-accoünt-x",
        ] {
            assert!(
                mapping
                    .kc_user_from_scim(&json!({"userName": name}), None, "now")
                    .is_ok(),
                "{name}"
            );
        }
    }

    #[test]
    fn every_stored_attribute_round_trips_and_others_are_kept() {
        let mapping = UserMapping::new(&MapperTable::defaults());
        let scim = json!({
            "userName": "Alice@Contoso.com",
            "title": "Engineer",
            "name": {"givenName": "Alice", "middleName": "M"},
            "phoneNumbers": [{"value": "+1", "type": "mobile"}],
            crate::scim::schema::ENTERPRISE_USER_SCHEMA: {"division": "Cloud"}
        });
        let existing = KcUser {
            attributes: Some(BTreeMap::from([(
                "notScim".to_owned(),
                vec!["kept".to_owned()],
            )])),
            ..KcUser::default()
        };
        let kc = mapping
            .kc_user_from_scim(&scim, Some(&existing), "2026-01-01T00:00:00.000Z")
            .expect("mapped");
        assert_eq!(kc.attribute("scimTitle"), Some("Engineer"));
        assert_eq!(kc.attribute("scimMiddleName"), Some("M"));
        assert_eq!(kc.attribute("scimDivision"), Some("Cloud"));
        assert_eq!(kc.attribute("notScim"), Some("kept"));
        let back = mapping.scim_user_from_kc(&kc, "https://x/scim/v2");
        assert_eq!(back["title"], "Engineer");
        assert_eq!(back["name"]["middleName"], "M");
        assert_eq!(back["phoneNumbers"], scim["phoneNumbers"]);
        assert_eq!(
            back[crate::scim::schema::ENTERPRISE_USER_SCHEMA]["division"],
            "Cloud"
        );
        // A later write without them clears them.
        let cleared = mapping
            .kc_user_from_scim(&json!({"userName": "alice@contoso.com"}), Some(&kc), "now")
            .expect("mapped");
        for gone in [
            "scimTitle",
            "scimMiddleName",
            "scimDivision",
            "scimPhoneNumbers",
        ] {
            assert_eq!(cleared.attribute(gone), None, "{gone}");
        }
        assert_eq!(cleared.attribute("notScim"), Some("kept"));
    }
}
