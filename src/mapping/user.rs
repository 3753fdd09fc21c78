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
use std::fmt::Write as _;

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::{MapperTable, DISPLAY_NAME_ATTRIBUTE, EXTERNAL_ID_ATTRIBUTE, LAST_MODIFIED_ATTRIBUTE};
use crate::keycloak::KcUser;
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
                skipped.push((rule.name.clone(), format!("{path_text} is multi-valued")));
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
        let mut set: BTreeSet<&str> = [EXTERNAL_ID_ATTRIBUTE, DISPLAY_NAME_ATTRIBUTE]
            .into_iter()
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
        if let Some(email) = kc.email.as_ref().filter(|e| !e.is_empty()) {
            out.insert(
                "emails".to_owned(),
                json!([{"value": email, "type": "work", "primary": true}]),
            );
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
        let version = version_of(&resource);
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
        let user_name = scim
            .get("userName")
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ScimError::invalid_value("userName is required"))?;
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
        attrs.insert(LAST_MODIFIED_ATTRIBUTE.to_owned(), vec![now.to_owned()]);
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

/// The primary email, else the `work` one, else the first.
fn primary_email(scim: &Value) -> Option<String> {
    let emails = scim.get("emails")?.as_array()?;
    let pick = emails
        .iter()
        .find(|e| e.get("primary").and_then(Value::as_bool) == Some(true))
        .or_else(|| {
            emails.iter().find(|e| {
                e.get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("work"))
            })
        })
        .or_else(|| emails.first())?;
    pick.get("value")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
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

/// `meta.version`: a weak `ETag` over the representation.
fn version_of(resource: &Value) -> String {
    let digest = Sha256::digest(resource.to_string().as_bytes());
    let hex = digest.iter().take(8).fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    });
    format!("W/\"{hex}\"")
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
