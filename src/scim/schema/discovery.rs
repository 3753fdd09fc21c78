//! The discovery documents (RFC 7643 §5–7): `/Schemas`, `/ResourceTypes`
//! and `/ServiceProviderConfig`, rendered from the schema model.
//!
//! Invariant: every document is built from the same [`AttributeDef`]s the
//! engine enforces, so what is advertised is what is accepted; locations
//! are the base URL joined with the RFC's endpoint names.

use serde_json::{json, Map, Value};

use super::{
    AttrType, AttributeDef, ResourceSchema, SchemaDef, RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA,
    SERVICE_PROVIDER_CONFIG_SCHEMA,
};

impl AttributeDef {
    /// The RFC 7643 §7 representation of this attribute.
    #[must_use]
    pub fn document(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("name".into(), Value::String(self.name.clone()));
        doc.insert("type".into(), Value::String(self.type_.as_str().into()));
        doc.insert("multiValued".into(), Value::Bool(self.multi_valued));
        doc.insert(
            "description".into(),
            Value::String(self.description.clone()),
        );
        doc.insert("required".into(), Value::Bool(self.required));
        if self.type_ != AttrType::Complex {
            doc.insert("caseExact".into(), Value::Bool(self.case_exact));
        }
        if !self.canonical_values.is_empty() {
            doc.insert("canonicalValues".into(), json!(self.canonical_values));
        }
        doc.insert(
            "mutability".into(),
            Value::String(self.mutability.as_str().into()),
        );
        doc.insert(
            "returned".into(),
            Value::String(self.returned.as_str().into()),
        );
        if self.type_ != AttrType::Complex {
            doc.insert(
                "uniqueness".into(),
                Value::String(self.uniqueness.as_str().into()),
            );
        }
        if self.type_ == AttrType::Reference {
            doc.insert("referenceTypes".into(), json!(self.reference_types));
        }
        if self.type_ == AttrType::Complex {
            let subs: Vec<Value> = self.sub_attributes.iter().map(Self::document).collect();
            doc.insert("subAttributes".into(), Value::Array(subs));
        }
        Value::Object(doc)
    }
}

fn join_url(base_url: &str, tail: &str) -> String {
    format!("{}/{tail}", base_url.trim_end_matches('/'))
}

/// Attributes the engine knows but `/Schemas` does not list: `meta` is a
/// common attribute whose sub-attributes RFC 7643 §3.1 defines for every
/// resource ("SHALL take precedence" over a schema's), and no schema of
/// §8.7.1 lists it. Listed, it made schema-driven clients build their own
/// `meta` type and then fail to fill a projected resource's `meta.version`
/// from its `ETag` (`attributes=` on a single GET returns no `meta`).
const UNLISTED_COMMON_ATTRIBUTES: &[&str] = &["meta"];

/// The `/Schemas/{id}` document of `schema` (RFC 7643 §7).
#[must_use]
pub fn schema_document(schema: &SchemaDef, base_url: &str) -> Value {
    let attributes: Vec<Value> = schema
        .attributes
        .iter()
        .filter(|a| !UNLISTED_COMMON_ATTRIBUTES.contains(&a.name.as_str()))
        .map(AttributeDef::document)
        .collect();
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": schema.id,
        "name": schema.name,
        "description": schema.description,
        "attributes": attributes,
        "meta": {
            "resourceType": "Schema",
            "location": join_url(base_url, &format!("Schemas/{}", schema.id)),
        }
    })
}

/// Every schema document of `resources`, each schema once, in order.
#[must_use]
pub fn schema_documents(resources: &[&ResourceSchema], base_url: &str) -> Vec<Value> {
    let mut seen: Vec<&str> = Vec::new();
    let mut docs = Vec::new();
    for schema in resources.iter().flat_map(|r| r.schemas()) {
        if seen.iter().any(|s| s.eq_ignore_ascii_case(&schema.id)) {
            continue;
        }
        seen.push(&schema.id);
        docs.push(schema_document(schema, base_url));
    }
    docs
}

/// The `/ResourceTypes/{name}` document (RFC 7643 §6).
#[must_use]
pub fn resource_type_document(
    name: &str,
    endpoint: &str,
    schema: &ResourceSchema,
    base_url: &str,
) -> Value {
    let extensions: Vec<Value> = schema
        .extensions
        .iter()
        .map(|e| json!({"schema": e.id, "required": false}))
        .collect();
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": name,
        "name": name,
        "endpoint": endpoint,
        "description": schema.core.description,
        "schema": schema.core.id,
        "schemaExtensions": extensions,
        "meta": {
            "resourceType": "ResourceType",
            "location": join_url(base_url, &format!("ResourceTypes/{name}")),
        }
    })
}

/// The `/ServiceProviderConfig` document (RFC 7643 §5): PATCH, filter (with
/// `maxResults`), sort and (optionally) `ETag`s supported; bulk and password
/// change unsupported; OAuth bearer token authentication.
#[must_use]
pub fn service_provider_config(
    base_url: &str,
    max_results: u32,
    max_payload: u64,
    etag_supported: bool,
) -> Value {
    json!({
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "documentationUri": "https://datatracker.ietf.org/doc/html/rfc7644",
        "patch": {"supported": true},
        "bulk": {"supported": false, "maxOperations": 0, "maxPayloadSize": max_payload},
        "filter": {"supported": true, "maxResults": max_results},
        "changePassword": {"supported": false},
        "sort": {"supported": true},
        "etag": {"supported": etag_supported},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "Authentication with an OAuth 2.0 bearer token (RFC 6750).",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": true
        }],
        "meta": {
            "resourceType": "ServiceProviderConfig",
            "location": join_url(base_url, "ServiceProviderConfig"),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::urn::{
        CUSTOM_EXTENSION_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA,
    };

    const BASE: &str = "https://sso.example.com/realms/acme/scim/v2/";

    fn find<'a>(attrs: &'a Value, name: &str) -> &'a Value {
        attrs
            .as_array()
            .and_then(|a| a.iter().find(|x| x["name"] == name))
            .unwrap_or(&Value::Null)
    }

    /// Every definition (recursively) appears in the document with its
    /// characteristics.
    fn assert_documented(defs: &[AttributeDef], doc_attrs: &Value, context: &str) {
        for def in defs {
            let doc = find(doc_attrs, &def.name);
            let at = format!("{context}{}", def.name);
            assert!(doc.is_object(), "{at} missing from the schema document");
            assert_eq!(doc["type"], def.type_.as_str(), "{at} type");
            assert_eq!(doc["multiValued"], def.multi_valued, "{at} multiValued");
            assert_eq!(doc["required"], def.required, "{at} required");
            assert_eq!(
                doc["mutability"],
                def.mutability.as_str(),
                "{at} mutability"
            );
            assert_eq!(doc["returned"], def.returned.as_str(), "{at} returned");
            if def.type_ == AttrType::Complex {
                assert_documented(
                    &def.sub_attributes,
                    &doc["subAttributes"],
                    &format!("{at}."),
                );
            } else {
                assert_eq!(doc["caseExact"], def.case_exact, "{at} caseExact");
                assert_eq!(
                    doc["uniqueness"],
                    def.uniqueness.as_str(),
                    "{at} uniqueness"
                );
            }
            assert!(
                !doc.as_object()
                    .is_some_and(|m| m.values().any(Value::is_null)),
                "{at} has nulls"
            );
        }
    }

    #[test]
    fn schemas_documents_describe_every_attribute_the_resources_use() {
        let user = ResourceSchema::user();
        let group = ResourceSchema::group();
        let docs = schema_documents(&[&user, &group], BASE);
        let ids: Vec<&str> = docs.iter().filter_map(|d| d["id"].as_str()).collect();
        assert_eq!(
            ids,
            [
                USER_SCHEMA,
                ENTERPRISE_USER_SCHEMA,
                CUSTOM_EXTENSION_SCHEMA,
                GROUP_SCHEMA
            ]
        );
        for (doc, schema) in docs.iter().zip(user.schemas().chain(group.schemas())) {
            assert_eq!(doc["schemas"], json!([SCHEMA_SCHEMA]));
            assert_eq!(
                doc["meta"]["location"],
                format!(
                    "https://sso.example.com/realms/acme/scim/v2/Schemas/{}",
                    schema.id
                )
            );
            let listed: Vec<AttributeDef> = schema
                .attributes
                .iter()
                .filter(|a| a.name != "meta")
                .cloned()
                .collect();
            assert_documented(&listed, &doc["attributes"], "");
            assert!(find(&doc["attributes"], "meta").is_null(), "{}", schema.id);
        }
    }

    #[test]
    fn required_user_and_group_attributes_are_defined_with_rfc_characteristics() {
        let user = ResourceSchema::user();
        let doc = schema_document(&user.core, BASE);
        let attrs = &doc["attributes"];
        let user_name = find(attrs, "userName");
        assert_eq!(user_name["caseExact"], false);
        assert_eq!(user_name["uniqueness"], "server");
        assert_eq!(user_name["required"], true);
        assert_eq!(find(attrs, "externalId")["caseExact"], true);
        assert_eq!(find(attrs, "active")["type"], "boolean");
        assert_eq!(find(attrs, "groups")["mutability"], "readOnly");
        assert_eq!(find(attrs, "id")["returned"], "always");
        assert_eq!(find(attrs, "password")["returned"], "never");
        for name in [
            "userName",
            "name",
            "displayName",
            "nickName",
            "title",
            "userType",
            "preferredLanguage",
            "locale",
            "timezone",
            "active",
            "emails",
            "phoneNumbers",
            "addresses",
            "roles",
            "groups",
            "externalId",
            "id",
        ] {
            assert!(find(attrs, name).is_object(), "{name}");
        }
        for (parent, subs) in [
            (
                "name",
                &[
                    "givenName",
                    "familyName",
                    "formatted",
                    "middleName",
                    "honorificPrefix",
                    "honorificSuffix",
                ][..],
            ),
            ("emails", &["value", "type", "primary", "display"][..]),
            (
                "addresses",
                &[
                    "type",
                    "streetAddress",
                    "locality",
                    "region",
                    "postalCode",
                    "country",
                    "formatted",
                    "primary",
                ][..],
            ),
        ] {
            for sub in subs {
                assert!(
                    find(&find(attrs, parent)["subAttributes"], sub).is_object(),
                    "{parent}.{sub}"
                );
            }
        }
        let ent = schema_document(
            user.extension(ENTERPRISE_USER_SCHEMA).expect("enterprise"),
            BASE,
        );
        for name in [
            "employeeNumber",
            "costCenter",
            "organization",
            "division",
            "department",
            "manager",
        ] {
            assert!(find(&ent["attributes"], name).is_object(), "{name}");
        }
        let manager = find(&ent["attributes"], "manager");
        for sub in ["value", "$ref", "displayName"] {
            assert!(
                find(&manager["subAttributes"], sub).is_object(),
                "manager.{sub}"
            );
        }
        assert_eq!(
            find(&manager["subAttributes"], "$ref")["referenceTypes"],
            json!(["User"])
        );
        let custom = schema_document(
            user.extension(CUSTOM_EXTENSION_SCHEMA).expect("custom"),
            BASE,
        );
        assert_eq!(find(&custom["attributes"], "tag")["type"], "string");

        let group = ResourceSchema::group();
        let gdoc = schema_document(&group.core, BASE);
        assert_eq!(find(&gdoc["attributes"], "displayName")["required"], true);
        let members = find(&gdoc["attributes"], "members");
        assert_eq!(members["mutability"], "readWrite");
        assert_eq!(members["multiValued"], true);
        for sub in ["value", "$ref", "display", "type"] {
            assert!(
                find(&members["subAttributes"], sub).is_object(),
                "members.{sub}"
            );
        }
        assert!(find(&gdoc["attributes"], "externalId").is_object());
    }

    #[test]
    fn resource_type_and_service_provider_config_documents() {
        let user = ResourceSchema::user();
        let rt = resource_type_document("User", "/Users", &user, BASE);
        assert_eq!(rt["schema"], USER_SCHEMA);
        assert_eq!(rt["endpoint"], "/Users");
        assert_eq!(
            rt["schemaExtensions"],
            json!([
                {"schema": ENTERPRISE_USER_SCHEMA, "required": false},
                {"schema": CUSTOM_EXTENSION_SCHEMA, "required": false}
            ])
        );
        assert_eq!(
            rt["meta"]["location"],
            "https://sso.example.com/realms/acme/scim/v2/ResourceTypes/User"
        );
        let spc = service_provider_config(BASE, 200, 1_048_576, true);
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["filter"], json!({"supported": true, "maxResults": 200}));
        assert_eq!(spc["sort"]["supported"], true);
        assert_eq!(spc["etag"]["supported"], true);
        assert_eq!(spc["bulk"]["supported"], false);
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
    }
}
