//! SCIM Group ⇄ Keycloak group: `displayName` ⇄ name, `externalId` ⇄ the
//! group attribute `externalId`, `members` ⇄ the group's direct user members,
//! `meta.lastModified` ⇄ the attribute written on every SCIM write,
//! `meta.created` ⇄ the attribute written when SCIM creates the group (a
//! group created in Keycloak itself has none, and answers without it).
//!
//! Invariants: only users are members (Keycloak nests groups as a hierarchy,
//! not as members); `displayName` is compared case-sensitively, as Keycloak
//! compares group names.

use std::collections::BTreeMap;

use super::version::weak_etag;
use serde_json::{json, Map, Value};

use super::{EXTERNAL_ID_ATTRIBUTE, GROUP_CREATED_ATTRIBUTE, LAST_MODIFIED_ATTRIBUTE};
use crate::keycloak::{KcGroup, KcUser};
use crate::scim::schema::{ResourceSchema, GROUP_SCHEMA};
use crate::scim::ScimError;

/// The Group schema the sidecar advertises and validates against:
/// displayName (case-sensitive, as Keycloak names are), externalId, members.
#[must_use]
pub fn group_schema() -> ResourceSchema {
    let mut schema = ResourceSchema::group();
    for attr in &mut schema.core.attributes {
        if attr.name == "displayName" {
            attr.case_exact = true;
        }
    }
    schema
}

/// The SCIM Group for a Keycloak group; `members` only when loaded.
#[must_use]
pub fn scim_group_from_kc(group: &KcGroup, members: Option<&[KcUser]>, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    let id = group.id.clone().unwrap_or_default();
    let mut out = Map::new();
    out.insert("schemas".to_owned(), json!([GROUP_SCHEMA]));
    out.insert("id".to_owned(), json!(id));
    out.insert("displayName".to_owned(), json!(group.name));
    let attr = |name: &str| {
        group
            .attributes
            .as_ref()
            .and_then(|a| a.get(name))
            .and_then(|v| v.first())
            .filter(|v| !v.is_empty())
            .cloned()
    };
    if let Some(external) = attr(EXTERNAL_ID_ATTRIBUTE) {
        out.insert("externalId".to_owned(), json!(external));
    }
    if let Some(members) = members {
        let list: Vec<Value> = members
            .iter()
            .filter_map(|u| {
                let uid = u.id.as_deref()?;
                Some(json!({
                    "value": uid,
                    "$ref": format!("{base}/Users/{uid}"),
                    "display": u.username.clone().unwrap_or_default(),
                    "type": "User",
                }))
            })
            .collect();
        out.insert("members".to_owned(), Value::Array(list));
    }
    let mut meta = Map::new();
    meta.insert("resourceType".to_owned(), json!("Group"));
    if let Some(c) = attr(GROUP_CREATED_ATTRIBUTE) {
        meta.insert("created".to_owned(), json!(c));
    }
    if let Some(m) = attr(LAST_MODIFIED_ATTRIBUTE) {
        meta.insert("lastModified".to_owned(), json!(m));
    }
    meta.insert("location".to_owned(), json!(format!("{base}/Groups/{id}")));
    meta.insert("version".to_owned(), json!(group_version(group)));
    out.insert("meta".to_owned(), Value::Object(meta));
    Value::Object(out)
}

/// `meta.version` of a group: over its id, name and attributes (membership
/// writes stamp `meta.lastModified`, so they change it too).
#[must_use]
pub fn group_version(group: &KcGroup) -> String {
    weak_etag(&(&group.id, &group.name, &group.attributes))
}

/// The Keycloak group for a normalised SCIM Group (members aside): name and
/// attributes; attributes SCIM does not manage are kept from `existing`.
pub fn kc_group_from_scim(
    scim: &Value,
    existing: Option<&KcGroup>,
    now: &str,
) -> Result<KcGroup, ScimError> {
    let name = scim
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ScimError::invalid_value("displayName is required"))?;
    if name.chars().count() > 255 {
        return Err(ScimError::invalid_value(
            "displayName is longer than Keycloak's 255 characters for a group name",
        ));
    }
    if name.contains('/') {
        return Err(ScimError::invalid_value(
            "displayName may not contain '/' (Keycloak uses it in group paths)",
        ));
    }
    let mut group = existing.cloned().unwrap_or_default();
    name.clone_into(&mut group.name);
    let mut attrs: BTreeMap<String, Vec<String>> = group.attributes.take().unwrap_or_default();
    attrs.remove(EXTERNAL_ID_ATTRIBUTE);
    if let Some(external) = scim
        .get("externalId")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    {
        attrs.insert(EXTERNAL_ID_ATTRIBUTE.to_owned(), vec![external.to_owned()]);
    }
    attrs.insert(LAST_MODIFIED_ATTRIBUTE.to_owned(), vec![now.to_owned()]);
    if existing.is_none() {
        attrs.insert(GROUP_CREATED_ATTRIBUTE.to_owned(), vec![now.to_owned()]);
    }
    group.attributes = Some(attrs);
    // A PUT of a group must not carry its sub-groups or access map back.
    for key in ["subGroups", "subGroupCount", "access"] {
        group.extra.remove(key);
    }
    Ok(group)
}

/// The member ids of a SCIM Group body; members must be users.
pub fn member_ids(scim: &Value) -> Result<Vec<String>, ScimError> {
    let Some(members) = scim.get("members") else {
        return Ok(Vec::new());
    };
    let Some(list) = members.as_array() else {
        return Err(ScimError::invalid_value("members must be an array"));
    };
    let mut ids = Vec::with_capacity(list.len());
    for m in list {
        if m.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("group"))
        {
            return Err(ScimError::invalid_value(
                "members of type Group are not supported: Keycloak groups nest as a hierarchy",
            ));
        }
        let id = m
            .get("value")
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ScimError::invalid_value("every member needs a value (a user id)"))?;
        if !ids.iter().any(|x| x == id) {
            ids.push(id.to_owned());
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kc_group() -> KcGroup {
        let mut attrs = BTreeMap::new();
        attrs.insert("externalId".to_owned(), vec!["ext-9".to_owned()]);
        KcGroup {
            id: Some("g1".to_owned()),
            name: "Sales".to_owned(),
            attributes: Some(attrs),
            ..KcGroup::default()
        }
    }

    #[test]
    fn group_without_loaded_members_has_no_members_key() {
        let g = scim_group_from_kc(&kc_group(), None, "http://x/realms/r/scim/v2");
        assert_eq!(g["displayName"], "Sales");
        assert_eq!(g["externalId"], "ext-9");
        assert!(g.get("members").is_none());
        assert_eq!(g["meta"]["location"], "http://x/realms/r/scim/v2/Groups/g1");
    }

    #[test]
    fn members_carry_value_ref_display_and_type() {
        let member = KcUser {
            id: Some("u1".to_owned()),
            username: Some("alice".to_owned()),
            ..KcUser::default()
        };
        let g = scim_group_from_kc(&kc_group(), Some(&[member]), "http://x/scim");
        assert_eq!(
            g["members"],
            json!([{"value": "u1", "$ref": "http://x/scim/Users/u1", "display": "alice", "type": "User"}])
        );
    }

    #[test]
    fn writing_keeps_foreign_attributes_and_replaces_external_id() {
        let mut existing = kc_group();
        existing
            .attributes
            .as_mut()
            .expect("attrs")
            .insert("owner".to_owned(), vec!["it".to_owned()]);
        let g = kc_group_from_scim(&json!({"displayName": "Sales EU"}), Some(&existing), "now")
            .expect("valid");
        let attrs = g.attributes.expect("attrs");
        assert_eq!(g.name, "Sales EU");
        assert_eq!(attrs.get("owner"), Some(&vec!["it".to_owned()]));
        assert_eq!(attrs.get("externalId"), None);
        assert_eq!(
            attrs.get(LAST_MODIFIED_ATTRIBUTE),
            Some(&vec!["now".to_owned()])
        );
    }

    #[test]
    fn created_is_stamped_once_and_rendered_with_last_modified() {
        let created =
            kc_group_from_scim(&json!({"displayName": "Sales"}), None, "t1").expect("valid");
        let attrs = created.attributes.clone().expect("attrs");
        assert_eq!(
            attrs.get(GROUP_CREATED_ATTRIBUTE),
            Some(&vec!["t1".to_owned()])
        );
        let renamed = kc_group_from_scim(&json!({"displayName": "Sales EU"}), Some(&created), "t2")
            .expect("valid");
        let mut renamed = renamed;
        renamed.id = Some("g1".to_owned());
        let g = scim_group_from_kc(&renamed, None, "http://x/scim");
        assert_eq!(g["meta"]["created"], "t1", "{g}");
        assert_eq!(g["meta"]["lastModified"], "t2", "{g}");
        // A group Keycloak created itself has no creation time to report.
        let foreign = scim_group_from_kc(&kc_group(), None, "http://x/scim");
        assert!(foreign["meta"].get("created").is_none(), "{foreign}");
    }

    #[test]
    fn display_name_is_required_and_case_exact() {
        assert!(kc_group_from_scim(&json!({}), None, "now").is_err());
        assert!(kc_group_from_scim(&json!({"displayName": "a/b"}), None, "now").is_err());
        let schema = group_schema();
        let f = crate::scim::parse_filter("displayName eq \"sales\"").expect("filter");
        assert!(!f.matches(&json!({"displayName": "Sales"}), &schema));
    }

    #[test]
    fn member_ids_refuse_groups_and_deduplicate() {
        assert_eq!(
            member_ids(&json!({"members": [{"value": "a"}, {"value": "a"}, {"value": "b"}]})),
            Ok(vec!["a".to_owned(), "b".to_owned()])
        );
        assert!(member_ids(&json!({"members": [{"value": "g", "type": "Group"}]})).is_err());
        assert!(member_ids(&json!({"members": [{"display": "x"}]})).is_err());
    }
}
