//! SCIM schemas (RFC 7643 §2, §4, §7) and the discovery documents built from them.
//!
//! [`AttributeDef`] carries every attribute characteristic the protocol core
//! acts on (type, multiValued, mutability, returned, caseExact, uniqueness);
//! [`ResourceSchema`] bundles a core schema with its extensions. The filter
//! evaluator, the PATCH engine, input normalisation, projection and the
//! `/Schemas`, `/ResourceTypes` and `/ServiceProviderConfig` documents all read
//! the same definitions, so what the server advertises and what it enforces
//! cannot disagree. Invariant: attribute and schema names are matched
//! case-insensitively and written back in their canonical spelling.

use serde_json::{json, Map, Value};

use super::path::AttrPath;

pub use super::urn::{
    CUSTOM_EXTENSION_SCHEMA, ENTERPRISE_USER_SCHEMA, ERROR, GROUP_SCHEMA, LIST_RESPONSE, PATCH_OP,
    RESOURCE_TYPE_SCHEMA, SCHEMA_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA, USER_SCHEMA,
};

/// An attribute's data type (RFC 7643 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttrType {
    /// `string`
    String,
    /// `boolean`
    Boolean,
    /// `decimal`
    Decimal,
    /// `integer`
    Integer,
    /// `dateTime` (xsd:dateTime, compared as instants)
    DateTime,
    /// `reference`
    Reference,
    /// `complex`
    Complex,
    /// `binary`
    Binary,
}

impl AttrType {
    /// The type name used in schema documents.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
            AttrType::Binary => "binary",
        }
    }
}

/// When an attribute may be changed (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mutability {
    /// Set by the service provider only.
    ReadOnly,
    /// Freely written.
    ReadWrite,
    /// Written once, never changed afterwards.
    Immutable,
    /// Written, never returned.
    WriteOnly,
}

impl Mutability {
    /// The keyword used in schema documents.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mutability::ReadOnly => "readOnly",
            Mutability::ReadWrite => "readWrite",
            Mutability::Immutable => "immutable",
            Mutability::WriteOnly => "writeOnly",
        }
    }
}

/// When an attribute is returned (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Returned {
    /// Always, whatever `attributes`/`excludedAttributes` say.
    Always,
    /// Never.
    Never,
    /// Unless excluded.
    Default,
    /// Only when named in `attributes`.
    Request,
}

impl Returned {
    /// The keyword used in schema documents.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Returned::Always => "always",
            Returned::Never => "never",
            Returned::Default => "default",
            Returned::Request => "request",
        }
    }
}

/// How unique a value must be (RFC 7643 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Uniqueness {
    /// No constraint.
    None,
    /// Unique within the service provider.
    Server,
    /// Globally unique.
    Global,
}

impl Uniqueness {
    /// The keyword used in schema documents.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Uniqueness::None => "none",
            Uniqueness::Server => "server",
            Uniqueness::Global => "global",
        }
    }
}

/// One attribute definition with its characteristics (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    /// Canonical name.
    pub name: String,
    /// Data type.
    pub type_: AttrType,
    /// Whether the attribute holds an array.
    pub multi_valued: bool,
    /// Whether a value is required.
    pub required: bool,
    /// Whether string comparison is case-sensitive.
    pub case_exact: bool,
    /// When the attribute may be written.
    pub mutability: Mutability,
    /// When the attribute is returned.
    pub returned: Returned,
    /// Uniqueness constraint.
    pub uniqueness: Uniqueness,
    /// Sub-attributes of a complex attribute.
    pub sub_attributes: Vec<AttributeDef>,
    /// Suggested values (e.g. `work`, `home`).
    pub canonical_values: Vec<String>,
    /// Resource types a reference may point to.
    pub reference_types: Vec<String>,
    /// Human-readable description.
    pub description: String,
}

impl AttributeDef {
    /// A single-valued, optional, readWrite attribute of `type_`.
    pub fn new(name: impl Into<String>, type_: AttrType) -> Self {
        Self {
            name: name.into(),
            type_,
            multi_valued: false,
            required: false,
            case_exact: false,
            mutability: Mutability::ReadWrite,
            returned: Returned::Default,
            uniqueness: Uniqueness::None,
            sub_attributes: Vec::new(),
            canonical_values: Vec::new(),
            reference_types: Vec::new(),
            description: String::new(),
        }
    }
    /// A `string` attribute.
    pub fn string(name: impl Into<String>) -> Self {
        Self::new(name, AttrType::String)
    }
    /// A `boolean` attribute.
    pub fn boolean(name: impl Into<String>) -> Self {
        Self::new(name, AttrType::Boolean)
    }
    /// A `dateTime` attribute.
    pub fn date_time(name: impl Into<String>) -> Self {
        Self::new(name, AttrType::DateTime)
    }
    /// A `reference` attribute to `types` (e.g. `User`, `external`, `uri`).
    pub fn reference(name: impl Into<String>, types: &[&str]) -> Self {
        let mut def = Self::new(name, AttrType::Reference);
        def.case_exact = true;
        def.reference_types = types.iter().map(|t| (*t).to_owned()).collect();
        def
    }
    /// A `complex` attribute with `subs`.
    pub fn complex(name: impl Into<String>, subs: Vec<AttributeDef>) -> Self {
        let mut def = Self::new(name, AttrType::Complex);
        def.sub_attributes = subs;
        def
    }
    /// Marks the attribute multi-valued.
    #[must_use]
    pub fn multi(mut self) -> Self {
        self.multi_valued = true;
        self
    }
    /// Marks the attribute required.
    #[must_use]
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Marks string comparison case-sensitive.
    #[must_use]
    pub fn case_exact(mut self) -> Self {
        self.case_exact = true;
        self
    }
    /// Sets the mutability.
    #[must_use]
    pub fn mutability(mut self, m: Mutability) -> Self {
        self.mutability = m;
        self
    }
    /// Sets when the attribute is returned.
    #[must_use]
    pub fn returned(mut self, r: Returned) -> Self {
        self.returned = r;
        self
    }
    /// Sets the uniqueness.
    #[must_use]
    pub fn uniqueness(mut self, u: Uniqueness) -> Self {
        self.uniqueness = u;
        self
    }
    /// Sets the canonical values.
    #[must_use]
    pub fn canonical(mut self, values: &[&str]) -> Self {
        self.canonical_values = values.iter().map(|v| (*v).to_owned()).collect();
        self
    }
    /// Sets the description.
    #[must_use]
    pub fn describe(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// The sub-attribute called `name` (case-insensitive).
    #[must_use]
    pub fn sub_attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.sub_attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }

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

/// A schema: URN id, name, description and attributes (RFC 7643 §7).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaDef {
    /// Schema URN.
    pub id: String,
    /// Short name (`User`, `EnterpriseUser`).
    pub name: String,
    /// Human-readable description.
    pub description: String,
    /// Top-level attributes.
    pub attributes: Vec<AttributeDef>,
}

impl SchemaDef {
    /// The attribute called `name` (case-insensitive).
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&AttributeDef> {
        self.attributes
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
    }
}

/// Where a path points inside a resource, resolved against its schemas.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    /// The schema holding the attribute.
    pub schema: &'a SchemaDef,
    /// Whether that schema is the core schema (attribute at top level) or an
    /// extension (attribute nested under the schema URN key).
    pub is_core: bool,
    /// The top-level attribute.
    pub attr: &'a AttributeDef,
    /// The sub-attribute, when the path names one.
    pub sub: Option<&'a AttributeDef>,
}

impl Located<'_> {
    /// The innermost definition the path names.
    #[must_use]
    pub fn target(&self) -> &AttributeDef {
        self.sub.unwrap_or(self.attr)
    }

    /// The canonical full path: `name`, `name.sub`, `urn:…:name[.sub]`.
    #[must_use]
    pub fn full_path(&self) -> String {
        let mut path = if self.is_core {
            self.attr.name.clone()
        } else {
            format!("{}:{}", self.schema.id, self.attr.name)
        };
        if let Some(sub) = self.sub {
            path.push('.');
            path.push_str(&sub.name);
        }
        path
    }
}

/// A resource type's schemas: one core schema plus extensions.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSchema {
    /// The core schema (attributes at the top level of the resource).
    pub core: SchemaDef,
    /// Extension schemas (attributes nested under the extension URN).
    pub extensions: Vec<SchemaDef>,
}

fn common_attributes() -> Vec<AttributeDef> {
    vec![
        AttributeDef::string("id")
            .case_exact()
            .mutability(Mutability::ReadOnly)
            .returned(Returned::Always)
            .uniqueness(Uniqueness::Server)
            .describe("Unique identifier for the resource, assigned by the service provider."),
        AttributeDef::string("externalId")
            .case_exact()
            .describe("Identifier of the resource as defined by the provisioning client."),
        AttributeDef::complex(
            "meta",
            vec![
                AttributeDef::string("resourceType")
                    .case_exact()
                    .mutability(Mutability::ReadOnly)
                    .describe("Name of the resource type."),
                AttributeDef::date_time("created")
                    .mutability(Mutability::ReadOnly)
                    .describe("When the resource was added to the service provider."),
                AttributeDef::date_time("lastModified")
                    .mutability(Mutability::ReadOnly)
                    .describe("When the resource was last updated."),
                AttributeDef::reference("location", &["uri"])
                    .mutability(Mutability::ReadOnly)
                    .describe("URI of the resource."),
                AttributeDef::string("version")
                    .case_exact()
                    .mutability(Mutability::ReadOnly)
                    .describe("Version (ETag) of the resource."),
            ],
        )
        .mutability(Mutability::ReadOnly)
        .describe("Resource metadata."),
    ]
}

fn typed_values(name: &str, types: &[&str], describe: &str) -> AttributeDef {
    AttributeDef::complex(
        name,
        vec![
            AttributeDef::string("value").describe("The value."),
            AttributeDef::string("display").describe("Human-readable name."),
            AttributeDef::string("type")
                .canonical(types)
                .describe("A label indicating the value's function."),
            AttributeDef::boolean("primary").describe("Whether this is the primary value."),
        ],
    )
    .multi()
    .describe(describe)
}

fn user_core() -> SchemaDef {
    let mut attributes = common_attributes();
    attributes.extend([
        AttributeDef::string("userName")
            .required()
            .uniqueness(Uniqueness::Server)
            .describe("Unique identifier for the User, used to authenticate."),
        AttributeDef::complex(
            "name",
            vec![
                AttributeDef::string("formatted").describe("The full name."),
                AttributeDef::string("familyName").describe("The family name."),
                AttributeDef::string("givenName").describe("The given name."),
                AttributeDef::string("middleName").describe("The middle name(s)."),
                AttributeDef::string("honorificPrefix").describe("Honorific prefix (Ms.)."),
                AttributeDef::string("honorificSuffix").describe("Honorific suffix (III)."),
            ],
        )
        .describe("The components of the user's name."),
        AttributeDef::string("displayName").describe("The name displayed to end users."),
        AttributeDef::string("nickName").describe("The casual way to address the user."),
        AttributeDef::reference("profileUrl", &["external"]).describe("URL of the user's profile."),
        AttributeDef::string("title").describe("The user's title."),
        AttributeDef::string("userType").describe("The relationship to the organization."),
        AttributeDef::string("preferredLanguage").describe("Preferred language (RFC 7231)."),
        AttributeDef::string("locale").describe("Default location for localization."),
        AttributeDef::string("timezone").describe("Time zone (IANA name)."),
        AttributeDef::boolean("active").describe("The user's administrative status."),
        AttributeDef::string("password")
            .case_exact()
            .mutability(Mutability::WriteOnly)
            .returned(Returned::Never)
            .describe("The user's cleartext password, never returned."),
        typed_values("emails", &["work", "home", "other"], "Email addresses."),
        typed_values(
            "phoneNumbers",
            &["work", "home", "mobile", "fax", "pager", "other"],
            "Phone numbers.",
        ),
        AttributeDef::complex(
            "addresses",
            vec![
                AttributeDef::string("formatted").describe("The full mailing address."),
                AttributeDef::string("streetAddress").describe("The street address."),
                AttributeDef::string("locality").describe("The city or locality."),
                AttributeDef::string("region").describe("The state or region."),
                AttributeDef::string("postalCode").describe("The zip or postal code."),
                AttributeDef::string("country").describe("The country (ISO 3166-1 alpha-2)."),
                AttributeDef::string("type")
                    .canonical(&["work", "home", "other"])
                    .describe("A label indicating the address's function."),
                AttributeDef::boolean("primary").describe("Whether this is the primary address."),
            ],
        )
        .multi()
        .describe("Physical mailing addresses."),
        AttributeDef::complex(
            "groups",
            vec![
                AttributeDef::string("value")
                    .mutability(Mutability::ReadOnly)
                    .describe("The identifier of the group."),
                AttributeDef::reference("$ref", &["User", "Group"])
                    .mutability(Mutability::ReadOnly)
                    .describe("The URI of the group."),
                AttributeDef::string("display")
                    .mutability(Mutability::ReadOnly)
                    .describe("The group's display name."),
                AttributeDef::string("type")
                    .canonical(&["direct", "indirect"])
                    .mutability(Mutability::ReadOnly)
                    .describe("Direct or indirect membership."),
            ],
        )
        .multi()
        .mutability(Mutability::ReadOnly)
        .describe("Groups the user belongs to."),
        typed_values("roles", &[], "Roles of the user."),
    ]);
    SchemaDef {
        id: USER_SCHEMA.to_owned(),
        name: "User".to_owned(),
        description: "User Account".to_owned(),
        attributes,
    }
}

fn enterprise_user() -> SchemaDef {
    SchemaDef {
        id: ENTERPRISE_USER_SCHEMA.to_owned(),
        name: "EnterpriseUser".to_owned(),
        description: "Enterprise User".to_owned(),
        attributes: vec![
            AttributeDef::string("employeeNumber")
                .describe("Identifier assigned by the organization."),
            AttributeDef::string("costCenter").describe("Name of a cost center."),
            AttributeDef::string("organization").describe("Name of an organization."),
            AttributeDef::string("division").describe("Name of a division."),
            AttributeDef::string("department").describe("Name of a department."),
            AttributeDef::complex(
                "manager",
                vec![
                    AttributeDef::string("value")
                        .case_exact()
                        .describe("The id of the manager's User resource."),
                    AttributeDef::reference("$ref", &["User"])
                        .describe("The URI of the manager's User resource."),
                    AttributeDef::string("displayName")
                        .mutability(Mutability::ReadOnly)
                        .describe("The manager's display name."),
                ],
            )
            .describe("The user's manager."),
        ],
    }
}

fn custom_extension() -> SchemaDef {
    SchemaDef {
        id: CUSTOM_EXTENSION_SCHEMA.to_owned(),
        name: "CustomExtensionName".to_owned(),
        description: "Custom User extension".to_owned(),
        attributes: vec![AttributeDef::string("tag").describe("Free-form tag.")],
    }
}

fn group_core() -> SchemaDef {
    let mut attributes = common_attributes();
    attributes.extend([
        AttributeDef::string("displayName")
            .required()
            .describe("A human-readable name for the Group."),
        AttributeDef::complex(
            "members",
            vec![
                AttributeDef::string("value")
                    .case_exact()
                    .mutability(Mutability::Immutable)
                    .describe("Identifier of the member."),
                AttributeDef::reference("$ref", &["User", "Group"])
                    .mutability(Mutability::Immutable)
                    .describe("The URI of the member."),
                AttributeDef::string("display")
                    .mutability(Mutability::ReadOnly)
                    .describe("The member's display name."),
                AttributeDef::string("type")
                    .canonical(&["User", "Group"])
                    .mutability(Mutability::Immutable)
                    .describe("The type of the member."),
            ],
        )
        .multi()
        .describe("A list of members of the Group."),
    ]);
    SchemaDef {
        id: GROUP_SCHEMA.to_owned(),
        name: "Group".to_owned(),
        description: "Group".to_owned(),
        attributes,
    }
}

fn strip_attrs(attrs: &mut Vec<AttributeDef>, prefix: &str, keep: &dyn Fn(&str) -> bool) {
    attrs.retain_mut(|a| {
        let full = format!("{prefix}{}", a.name);
        if prefix.is_empty() && (a.name == "id" || a.name == "meta") {
            return true;
        }
        if keep(&full) {
            return true;
        }
        if a.type_ != AttrType::Complex {
            return false;
        }
        let sub_prefix = format!("{full}.");
        a.sub_attributes
            .retain(|s| keep(&format!("{sub_prefix}{}", s.name)));
        !a.sub_attributes.is_empty()
    });
}

impl ResourceSchema {
    /// The User resource: core, enterprise extension and custom extension.
    #[must_use]
    pub fn user() -> Self {
        Self {
            core: user_core(),
            extensions: vec![enterprise_user(), custom_extension()],
        }
    }

    /// The Group resource.
    #[must_use]
    pub fn group() -> Self {
        Self {
            core: group_core(),
            extensions: Vec::new(),
        }
    }

    /// Adds (or replaces) `attr` in the extension `urn`, creating the
    /// extension when the resource does not have it yet.
    #[must_use]
    pub fn with_extension_attribute(mut self, urn: &str, attr: AttributeDef) -> Self {
        let idx = if let Some(i) = self
            .extensions
            .iter()
            .position(|s| s.id.eq_ignore_ascii_case(urn))
        {
            i
        } else {
            let name = urn
                .rsplit(':')
                .nth(2)
                .filter(|n| !n.is_empty())
                .unwrap_or("Extension")
                .to_owned();
            self.extensions.push(SchemaDef {
                id: urn.to_owned(),
                name,
                description: format!("Extension {urn}"),
                attributes: Vec::new(),
            });
            self.extensions.len() - 1
        };
        if let Some(ext) = self.extensions.get_mut(idx) {
            ext.attributes
                .retain(|a| !a.name.eq_ignore_ascii_case(&attr.name));
            ext.attributes.push(attr);
        }
        self
    }

    /// Keeps only the attributes for which `keep(full_path)` holds.
    ///
    /// Full paths are `name` and `name.sub` for core attributes and
    /// `urn:…:name` / `urn:…:name.sub` for extension attributes. A complex
    /// attribute is kept whole when its own path is kept, otherwise with the
    /// sub-attributes whose paths are kept (and dropped when none are).
    /// `id` and `meta` are always kept; extensions left empty are dropped.
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) {
        strip_attrs(&mut self.core.attributes, "", &keep);
        for ext in &mut self.extensions {
            let prefix = format!("{}:", ext.id);
            strip_attrs(&mut ext.attributes, &prefix, &keep);
        }
        self.extensions.retain(|e| !e.attributes.is_empty());
    }

    /// The core schema followed by the extensions.
    pub fn schemas(&self) -> impl Iterator<Item = &SchemaDef> {
        std::iter::once(&self.core).chain(self.extensions.iter())
    }

    /// The schema with URN `urn` (case-insensitive), and whether it is core.
    #[must_use]
    pub fn schema_by_id(&self, urn: &str) -> Option<(&SchemaDef, bool)> {
        if self.core.id.eq_ignore_ascii_case(urn) {
            return Some((&self.core, true));
        }
        self.extension(urn).map(|s| (s, false))
    }

    /// The extension with URN `urn` (case-insensitive).
    #[must_use]
    pub fn extension(&self, urn: &str) -> Option<&SchemaDef> {
        self.extensions
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(urn))
    }

    /// The extension a path names as a whole (`urn:…:enterprise:2.0:User`
    /// parses as schema `urn:…:2.0` + name `User`).
    #[must_use]
    pub fn extension_for_path(&self, path: &AttrPath) -> Option<&SchemaDef> {
        let schema = path.schema.as_deref()?;
        if path.sub_attr.is_some() {
            return None;
        }
        let urn = format!("{schema}:{}", path.name);
        self.extension(&urn)
    }

    /// Where `path` points: schema, attribute and sub-attribute.
    ///
    /// An unqualified name is looked up in the core schema first, then in the
    /// extensions (a tolerance for clients that omit the URN).
    #[must_use]
    pub fn locate(&self, path: &AttrPath) -> Option<Located<'_>> {
        let (schema, is_core, attr) = match path.schema.as_deref() {
            Some(urn) => {
                let (schema, is_core) = self.schema_by_id(urn)?;
                (schema, is_core, schema.attribute(&path.name)?)
            }
            None => {
                if let Some(a) = self.core.attribute(&path.name) {
                    (&self.core, true, a)
                } else {
                    self.extensions
                        .iter()
                        .find_map(|s| s.attribute(&path.name).map(|a| (s, false, a)))?
                }
            }
        };
        let sub = match path.sub_attr.as_deref() {
            Some(s) => Some(attr.sub_attribute(s)?),
            None => None,
        };
        Some(Located {
            schema,
            is_core,
            attr,
            sub,
        })
    }

    /// The definition `path` names (the sub-attribute when it names one).
    #[must_use]
    pub fn resolve(&self, path: &AttrPath) -> Option<&AttributeDef> {
        self.locate(path).map(|l| l.sub.unwrap_or(l.attr))
    }
}

fn join_url(base_url: &str, tail: &str) -> String {
    format!("{}/{tail}", base_url.trim_end_matches('/'))
}

/// The `/Schemas/{id}` document of `schema` (RFC 7643 §7).
#[must_use]
pub fn schema_document(schema: &SchemaDef, base_url: &str) -> Value {
    let attributes: Vec<Value> = schema
        .attributes
        .iter()
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
            assert_documented(&schema.attributes, &doc["attributes"], "");
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
        assert_eq!(find(attrs, "meta")["mutability"], "readOnly");
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
            "meta",
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
    fn resolve_finds_core_extension_and_sub_attributes() {
        let user = ResourceSchema::user();
        let r = |p: AttrPath| user.resolve(&p).map(|d| d.name.clone());
        assert_eq!(r(AttrPath::new("USERNAME")), Some("userName".into()));
        assert_eq!(
            r(AttrPath::new("name").with_sub("GIVENNAME")),
            Some("givenName".into())
        );
        assert_eq!(
            r(AttrPath::new("manager")
                .with_schema(ENTERPRISE_USER_SCHEMA)
                .with_sub("value")),
            Some("value".into())
        );
        assert_eq!(
            r(AttrPath::new("userName").with_schema(USER_SCHEMA)),
            Some("userName".into())
        );
        assert_eq!(r(AttrPath::new("department")), Some("department".into()));
        assert_eq!(r(AttrPath::new("nope")), None);
        assert_eq!(r(AttrPath::new("name").with_sub("nope")), None);
        assert_eq!(r(AttrPath::new("tag").with_schema("urn:unknown")), None);
        let whole = AttrPath::new("User")
            .with_schema("urn:ietf:params:scim:schemas:extension:enterprise:2.0");
        assert_eq!(
            user.extension_for_path(&whole).map(|s| s.name.as_str()),
            Some("EnterpriseUser")
        );
    }

    #[test]
    fn runtime_extension_attributes_and_retain() {
        let urn = "urn:ietf:params:scim:schemas:extension:acme:2.0:User";
        let mut user = ResourceSchema::user()
            .with_extension_attribute(urn, AttributeDef::string("badge"))
            .with_extension_attribute(CUSTOM_EXTENSION_SCHEMA, AttributeDef::boolean("tag"));
        assert_eq!(user.extension(urn).map(|s| s.name.as_str()), Some("acme"));
        let tag = AttrPath::new("tag").with_schema(CUSTOM_EXTENSION_SCHEMA);
        assert_eq!(user.resolve(&tag).map(|d| d.type_), Some(AttrType::Boolean));

        let kept = [
            "userName",
            "active",
            "name.givenName",
            "name.familyName",
            "emails",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
        ];
        user.retain(|p| kept.contains(&p));
        let names: Vec<&str> = user
            .core
            .attributes
            .iter()
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(
            names,
            ["id", "meta", "userName", "name", "active", "emails"]
        );
        let name = user.core.attribute("name").expect("name kept");
        assert_eq!(name.sub_attributes.len(), 2);
        assert_eq!(user.extensions.len(), 1);
        assert!(user.resolve(&AttrPath::new("manager")).is_some());
        assert!(user.resolve(&AttrPath::new("department")).is_none());
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
