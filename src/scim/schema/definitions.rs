//! The resource definitions the server serves: User (RFC 7643 §4.1) with
//! the enterprise (§4.3) and custom extensions, and Group (§4.2).
//!
//! Invariant: these definitions are the only place an attribute's
//! characteristics are written; the mapping may add extension attributes at
//! run time ([`ResourceSchema::with_extension_attribute`]) but never changes
//! these.

use super::{
    AttributeDef, Mutability, ResourceSchema, Returned, SchemaDef, Uniqueness,
    CUSTOM_EXTENSION_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA,
};

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
}
