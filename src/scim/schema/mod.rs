//! SCIM schemas (RFC 7643 §2, §4, §7): the model every part of the core reads.
//!
//! [`AttributeDef`] carries every attribute characteristic the protocol core
//! acts on (type, multiValued, mutability, returned, caseExact, uniqueness);
//! [`ResourceSchema`] bundles a core schema with its extensions. The filter
//! evaluator, the PATCH engine, input normalisation, projection and the
//! `/Schemas`, `/ResourceTypes` and `/ServiceProviderConfig` documents all read
//! the same definitions, so what the server advertises and what it enforces
//! cannot disagree. `definitions.rs` holds the User, Group and extension
//! definitions, `discovery.rs` the documents. Invariant: attribute and schema
//! names are matched case-insensitively and written back in their canonical
//! spelling.

use super::path::AttrPath;

mod definitions;
mod discovery;

pub use discovery::{
    resource_type_document, schema_document, schema_documents, service_provider_config,
};

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
